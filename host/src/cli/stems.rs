//! `voice-studio episodes stems FOLDER`: the stems and mixdown of one recording, made in its
//! folder under RECORDING_DIR (or the kept ones listed), as `POST /api/episodes/{id}/stems` does.

use std::path::Path;
use std::process::ExitCode;

use voice_studio::config::{Config, ConfigSource};
use voice_studio::gateway::decoders::is_recording_folder_name;
use voice_studio::recording::stems::{
    StemLimits, kept_stems, make_stems, recording_state, tracks_being_written,
};

/// `episodes stems` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording folder in RECORDING_DIR (the episode id, or `<id>-N` for a later take).
    folder: String,
    /// Print JSON ({"files": [{name, bytes, path}], "made", "truncated"}) instead of lines.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> ExitCode {
    super::init_quiet_tracing();
    let source = match ConfigSource::from_env_and_dotenv(Path::new(".env")) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let (config, _) = Config::with_problems(&source);
    if !is_recording_folder_name(&args.folder) {
        eprintln!(
            "voice-studio: {:?} is not a recording folder name; `voice-studio episodes` lists them",
            args.folder
        );
        return ExitCode::FAILURE;
    }
    let folder = config.folders.recording_dir.join(&args.folder);
    // A server on this machine may still be recording it; its files change every second.
    let live = kept_stems(&folder).is_none()
        && recording_state(&folder).is_ok_and(|state| !state.finished)
        && tracks_being_written(&folder);
    if live {
        eprintln!(
            "voice-studio: {} is still being recorded; end the episode first",
            folder.display()
        );
        return ExitCode::FAILURE;
    }
    let stems = match make_stems(&folder, &StemLimits::default()) {
        Ok(stems) => stems,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        let files: Vec<_> = stems
            .files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "bytes": f.bytes,
                    "path": folder.join(&f.name),
                })
            })
            .collect();
        let json = serde_json::json!({
            "files": files,
            "made": stems.made,
            "truncated": stems.truncated,
        });
        println!("{json:#}");
    } else {
        let verb = if stems.made {
            "made"
        } else {
            "kept from before"
        };
        println!("Stems of {} ({verb}):", folder.display());
        for f in &stems.files {
            println!("  {}  {} bytes", folder.join(&f.name).display(), f.bytes);
        }
        for track in &stems.truncated {
            println!("  note: {track} ends early (cut off by a crash); its stem is silent after");
        }
    }
    ExitCode::SUCCESS
}
