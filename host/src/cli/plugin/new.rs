//! `voice-studio plugin new` (being built: issue 14).

use std::process::ExitCode;

/// `plugin new` options.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> ExitCode {
    eprintln!("voice-studio: `plugin new` is not built yet");
    ExitCode::FAILURE
}
