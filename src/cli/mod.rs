//! The subcommands' bodies (argument structs and what each does); `main.rs` only dispatches.

pub mod run;
pub mod send;
