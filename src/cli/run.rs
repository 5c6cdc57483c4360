//! `statmgr run`: the processor in the foreground.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct RunArgs {}

pub fn main(_args: RunArgs) -> ExitCode {
    ExitCode::FAILURE
}
