//! `voice-studio plugin ...`: the plugin author's and operator's commands around one component:
//! `new` (scaffold a project), `check` (run a role's contract against a .wasm), `install` and
//! `remove` (put a component into the plugin folder and `plugins.toml`, or take it out).

pub mod check;
pub mod install;
pub mod new;

use std::process::ExitCode;

/// `plugin` and its subcommands.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write a standalone plugin project (Rust, Python or JavaScript) that builds and tests.
    New(new::Args),
    /// Run a role's contract against a component and print a report; exit non-zero on a failure.
    Check(check::Args),
    /// Copy a component into the plugin folder and add or update its plugins.toml table.
    Install(install::InstallArgs),
    /// Take a plugin out of plugins.toml and the plugin folder.
    Remove(install::RemoveArgs),
}

pub fn run(args: &Args) -> ExitCode {
    match &args.command {
        Command::New(args) => new::run(args),
        Command::Check(args) => check::run(args),
        Command::Install(args) => install::install(args),
        Command::Remove(args) => install::remove(args),
    }
}
