//! `voice-studio`: the studio server (`voice-studio` or `voice-studio serve`) and the operator's
//! commands around it (`check`, `plugins`, `episodes`, `init`, `plugin`), one module each under `cli/`.
//! `--help` and `--version` answer without starting anything; only `serve` binds the port.
//!
//! Exit codes: 0 when all went well, 2 for a configuration the server cannot start with (the
//! message names the variable and the fix) or, for `check`, any problem found, 1 for anything
//! else.

use std::process::ExitCode;

mod cli;

/// The command line (clap): the server is the default subcommand.
#[derive(Debug, clap::Parser)]
#[command(
    name = "voice-studio",
    version,
    long_version = cli::LONG_VERSION.as_str(),
    about = "The host server of a live three-way voice studio: one human, two AIs, WebAssembly provider plugins.",
    long_about = None,
    after_help = "Configuration comes from the environment and .env (see .env.example); plugins from \
                  plugins.toml. Without a plugins.toml the built-in one is used, with the plugins \
                  built into this program; `voice-studio init` writes editable copies."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve the studio on HOST:PORT until SIGINT or SIGTERM (what `voice-studio` alone does).
    Serve,
    /// Check the environment, .env, plugins.toml, every plugin, the folders and the port; list
    /// every problem with its fix. Exit 0 when all is well, 2 otherwise. Run it before a deploy.
    Check,
    /// The plugins: which serves each role, versions, where each comes from (built in or a
    /// folder), sha256, what plugins.toml grants it, and the fallback chains.
    Plugins(cli::plugins::Args),
    /// The episodes of the episode store (studio.db), newest first: state, start, duration, lines, size.
    Episodes(cli::episodes::Args),
    /// Write editable copies of the built-in plugins.toml, example briefing and .env.example,
    /// and an empty recordings folder, into DIR (default: the working folder).
    Init(cli::init::Args),
    /// Plugin authoring and installation: `new`, `check`, `install`, `remove`.
    Plugin(cli::plugin::Args),
}

fn main() -> ExitCode {
    // `--help`, `--version` and usage errors print and exit here (usage errors with 2).
    let cli = <Cli as clap::Parser>::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => cli::serve::run(),
        Command::Check => cli::check::run(),
        Command::Plugins(args) => cli::plugins::run(&args),
        Command::Episodes(args) => cli::episodes::run(&args),
        Command::Init(args) => cli::init::run(&args),
        Command::Plugin(args) => cli::plugin::run(&args),
    }
}
