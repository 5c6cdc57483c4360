//! Maps and sets whose keys are 64-bit hashes already (the uid index, the directory sync's
//! listing): hashing them again would only cost time.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Passes a `u64` key through as its own hash.
#[derive(Default)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type HashMapByHash<V> = HashMap<u64, V, BuildHasherDefault<PreHashed>>;
pub type HashSetOfHashes = HashSet<u64, BuildHasherDefault<PreHashed>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_u64_key_is_its_own_hash() {
        let build = BuildHasherDefault::<PreHashed>::default();
        assert_eq!(build.hash_one(0xdead_beef_u64), 0xdead_beef);
        let mut set = HashSetOfHashes::default();
        assert!(set.insert(7) && !set.insert(7) && set.contains(&7));
    }
}
