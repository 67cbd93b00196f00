//! `voice-studio episodes`: the episodes of the episode store (`studio.db` in `DATA_DIR`), newest
//! first, after importing the recording folders in `RECORDING_DIR` it has not seen (recorded
//! before the store existed). Safe beside a running server: it marks nothing interrupted (only a
//! starting server does), and SQLite's locks keep the two apart.

use std::path::Path;
use std::process::ExitCode;

use voice_studio::config::{Config, ConfigSource};
use voice_studio::store::{Episode, EpisodeStore, ListQuery};

/// `episodes` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (an array of episodes, as GET /api/episodes has them) for scripts instead of a
    /// table.
    #[arg(long)]
    json: bool,
    /// At most this many episodes, newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: u32,
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
    // Only DATA_DIR and RECORDING_DIR matter here: other settings' problems are `check`'s business.
    let source = match ConfigSource::from_env_and_dotenv(Path::new(".env")) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let (config, _) = Config::with_problems(&source);
    let folders = &config.folders;
    let store = match EpisodeStore::open(&folders.data_dir) {
        Ok(store) => store,
        Err(e) => {
            eprintln!(
                "voice-studio: {e}. Fix: point DATA_DIR at the folder that holds studio.db (unset: the folder that holds RECORDING_DIR)"
            );
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    match store.import_recordings(&folders.recording_dir) {
        Ok(recovery) => {
            for problem in &recovery.problems {
                eprintln!("voice-studio: not an episode: {problem}");
            }
        }
        Err(e) => eprintln!("voice-studio: recordings not imported: {e}"),
    }
    let episodes = match store.episodes(ListQuery {
        limit: args.limit,
        before_ms: None,
    }) {
        Ok(episodes) => episodes,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::FAILURE;
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
        print!("{}", table(store.path(), &episodes));
    }
    ExitCode::SUCCESS
}

fn table(db: &Path, episodes: &[Episode]) -> String {
    if episodes.is_empty() {
        return format!("No episodes in {}\n", db.display());
    }
    let mut rows = vec![
        [
            "ID", "EPISODE", "TITLE", "STATE", "STARTED", "DURATION", "LINES", "SIZE",
        ]
        .map(str::to_owned),
    ];
    for e in episodes {
        rows.push([
            e.id.clone(),
            e.episode_id.clone(),
            e.title.clone().unwrap_or_else(|| "-".into()),
            e.state.as_str().to_owned(),
            e.started_at.clone(),
            duration(e.duration_ms),
            e.lines.to_string(),
            size(e.files.iter().map(|f| f.bytes).sum()),
        ]);
    }
    let mut out = format!("Episodes in {} (newest first)\n", db.display());
    out.push_str(&super::plugins::render_table(&rows));
    out
}

/// `1:02:03`, `2:03` or `4.2 s`.
fn duration(ms: u64) -> String {
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
