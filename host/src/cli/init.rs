//! `voice-studio init [DIR] [--force]`: writes editable copies of what the program carries
//! built in (`plugins.toml`, the example briefing, `.env.example`) and an empty `recordings/`
//! folder into DIR, so a studio can be set up from any folder. An existing file is kept unless
//! `--force` is given; the exit code is 1 when one was kept, so a script notices.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use voice_studio::config::built_in;

/// `init` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder to set up (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Replace files that already exist.
    #[arg(long)]
    force: bool,
}

/// What happened to one file.
enum Outcome {
    Written,
    Replaced,
    Kept,
}

pub fn run(args: &Args) -> ExitCode {
    match init(args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("voice-studio init: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the files; returns how many existing ones were kept.
fn init(args: &Args) -> Result<usize, String> {
    let dir = &args.dir;
    let briefing = format!("briefings/{}.md", built_in::EXAMPLE_BRIEFING_ID);
    let files: [(&str, &str); 3] = [
        ("plugins.toml", built_in::PLUGINS_TOML),
        (&briefing, built_in::EXAMPLE_BRIEFING),
        (".env.example", built_in::ENV_EXAMPLE),
    ];
    let mut kept = 0;
    for (name, text) in files {
        let path = dir.join(name);
        let outcome = write(&path, text, args.force)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        match outcome {
            Outcome::Written => println!("wrote    {}", path.display()),
            Outcome::Replaced => println!("replaced {}", path.display()),
            Outcome::Kept => {
                kept += 1;
                println!(
                    "kept     {} (it exists; --force replaces it)",
                    path.display()
                );
            }
        }
    }
    let recordings = dir.join("recordings");
    if recordings.is_dir() {
        println!("kept     {}/ (folder exists)", recordings.display());
    } else {
        std::fs::create_dir_all(&recordings)
            .map_err(|e| format!("cannot create {}: {e}", recordings.display()))?;
        println!("created  {}/", recordings.display());
    }
    println!();
    println!("To start the studio:");
    if dir != Path::new(".") {
        println!("  cd {}", dir.display());
    }
    println!("  cp .env.example .env     # then edit it: keys, providers, HOST and PORT");
    println!("  voice-studio check       # every problem at once, before you serve");
    println!("  voice-studio             # serves http://127.0.0.1:4000");
    println!(
        "Edit plugins.toml to choose the plugins, and add briefings/<episode>.md per episode."
    );
    Ok(kept)
}

/// Writes `text` to `path` unless it exists and `force` is off (the check and the write are one
/// step: `create_new` fails on an existing file, so nothing is replaced by a race either).
fn write(path: &Path, text: &str, force: bool) -> std::io::Result<Outcome> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    let existed = path.exists();
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())?;
            Ok(if existed {
                Outcome::Replaced
            } else {
                Outcome::Written
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Outcome::Kept),
        Err(e) => Err(e),
    }
}
