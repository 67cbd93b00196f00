//! `voice-studio plugin install` and `plugin remove` (being built: issue 14).

use std::process::ExitCode;

/// `plugin install` options.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {}

/// `plugin remove` options.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {}

pub fn install(_args: &InstallArgs) -> ExitCode {
    eprintln!("voice-studio: `plugin install` is not built yet");
    ExitCode::FAILURE
}

pub fn remove(_args: &RemoveArgs) -> ExitCode {
    eprintln!("voice-studio: `plugin remove` is not built yet");
    ExitCode::FAILURE
}
