//! The local HTTP API: wire types, the server inside `statmgr run`, and the client.

pub mod client;
pub mod wire;
