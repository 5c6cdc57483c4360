//! `statmgr send`: drop messages into the inbox atomically.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SendArgs {}

pub fn main(_args: SendArgs) -> ExitCode {
    ExitCode::FAILURE
}
