//! The processor's memory with glibc's allocator: a cap on its arenas, and giving freed
//! memory back to the system after a bulk action.
//!
//! glibc gives each thread that meets contention an arena of its own (up to 8 per core),
//! and memory freed in an arena mostly stays mapped. The processor's threads (committer,
//! intake, unlinkers, the freer, the API's workers) each build and drop large transient
//! values during a bulk action of 100,000 files (the request, the set, the files moved),
//! so the peak RSS was the sum of every arena's high-water mark.

/// Caps glibc's arenas at two; call before the threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before other threads
    // allocate, and any value is valid for M_ARENA_MAX.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns the free memory of every arena to the system (after a bulk action).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
