//! `voice-studio episodes`: the recorded episodes in `RECORDING_DIR`, read from each folder's
//! `session.yml` (and `events.jsonl` for a session that did not finish). Reads only.

use std::path::Path;
use std::process::ExitCode;

use voice_studio::config::{Config, ConfigSource};
use voice_studio::recording::{RecordedEpisode, list_recordings};

/// `episodes` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (an array of episodes) for scripts instead of a table.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Option<EpisodesCommand>,
}

/// What `episodes` does besides listing.
#[derive(Debug, clap::Subcommand)]
enum EpisodesCommand {
    /// Makes a recording's stems in its folder: each track as WAV (16-bit, 48 kHz, mono) on the
    /// session's timeline, and mix.wav; kept, so a second run lists them.
    Stems(super::stems::Args),
}

pub fn run(args: &Args) -> ExitCode {
    if let Some(EpisodesCommand::Stems(stems)) = &args.command {
        return super::stems::run(stems);
    }
    super::init_quiet_tracing();
    // Only RECORDING_DIR matters here: other settings' problems are `check`'s business.
    let source = match ConfigSource::from_env_and_dotenv(Path::new(".env")) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let (config, _) = Config::with_problems(&source);
    let dir = &config.folders.recording_dir;
    let episodes = match list_recordings(dir) {
        Ok(episodes) => episodes,
        Err(e) => {
            eprintln!(
                "voice-studio: cannot read RECORDING_DIR {}: {e}. Fix: point RECORDING_DIR at the recordings folder",
                dir.display()
            );
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&episodes) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("voice-studio: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", table(dir, &episodes));
    }
    ExitCode::SUCCESS
}

fn table(dir: &Path, episodes: &[RecordedEpisode]) -> String {
    if episodes.is_empty() {
        return format!("No recorded episodes in {}\n", dir.display());
    }
    let mut rows = vec![
        [
            "FOLDER", "EPISODE", "STARTED", "DURATION", "SIZE", "TRACKS", "FINISHED",
        ]
        .map(str::to_owned),
    ];
    for e in episodes {
        let tracks: Vec<String> = e
            .tracks
            .iter()
            .map(|t| format!("{} {}", t.speaker, duration(Some(t.duration_ms))))
            .collect();
        rows.push([
            e.folder.clone(),
            e.episode.clone().unwrap_or_else(|| "?".into()),
            e.started_at.clone().unwrap_or_else(|| "?".into()),
            duration(e.duration_ms),
            size(e.bytes),
            if tracks.is_empty() {
                e.problem.clone().unwrap_or_else(|| "-".into())
            } else {
                tracks.join(", ")
            },
            if e.finished { "yes" } else { "no" }.into(),
        ]);
    }
    let mut out = format!("Recordings in {}\n", dir.display());
    out.push_str(&super::plugins::render_table(&rows));
    out
}

/// `1:02:03`, `2:03` or `4.2 s`.
fn duration(ms: Option<u64>) -> String {
    let Some(ms) = ms else { return "?".into() };
    let seconds = ms / 1000;
    match seconds {
        0..60 => format!("{:.1} s", ms as f64 / 1000.0),
        60..3600 => format!("{}:{:02}", seconds / 60, seconds % 60),
        _ => format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        ),
    }
}

/// Bytes in KiB, MiB or GiB.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
