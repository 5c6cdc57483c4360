//! The local HTTP API: wire types, query parameters, the server inside `statmgr run`, and the client.

pub mod client;
pub mod preview;
pub mod query;
pub mod server;
pub mod when;
pub mod wire;
