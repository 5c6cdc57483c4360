//! statmgr: a status-message processor that loses nothing, and its operator console.

pub mod api;
pub mod cause;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod message;
pub mod processor;
pub mod tui;
