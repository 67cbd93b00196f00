//! `voice-studio plugin check` (being built: issue 14).

use std::process::ExitCode;

/// `plugin check` options.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> ExitCode {
    eprintln!("voice-studio: `plugin check` is not built yet");
    ExitCode::FAILURE
}
