//! `piper`: local text to speech with [Piper](https://github.com/rhasspy/piper)'s command-line
//! program, run through the host's `process` capability.
//!
//! Each call starts `PIPER_PATH --model <voice.onnx> --output-raw [--speaker N] [--length_scale X]`,
//! writes the text as one line to its stdin, closes stdin, and pushes the signed 16-bit mono PCM
//! Piper writes to stdout as it comes. Every read has a timeout: no audio in time kills Piper and
//! fails with `unavailable` (so the role's fallback can speak); so does a nonzero exit, with the
//! tail of Piper's stderr in the message.
//!
//! The plugin cannot read files, so the voice's rate (`audio.sample_rate` in `<voice>.onnx.json`)
//! is the `sample_rate` setting (22050, Piper's medium and high voices, by default).

#![deny(missing_docs)]

mod invocation;

use invocation::{DEFAULT_SAMPLE_RATE, Invocation};
use studio_plugin::pcm::{self, PcmBytes};
use studio_plugin::process::{self, Child};
use studio_plugin::{
    AudioSink, Capability, PluginError, PluginInfo, Role, Speaker, TtsPlugin, TtsRequest, config,
    log,
};

/// The exported plugin.
pub struct Piper;

/// How long to wait for output.
struct Timeouts {
    /// For the first audio (Piper loads its model first).
    first_ms: u32,
    /// Between later pieces of audio.
    idle_ms: u32,
}

/// A per-speaker setting (`claude_<key>` / `guest_<key>`), else the shared `<key>`.
fn speaker_setting(speaker: Speaker, key: &str) -> Result<Option<String>, PluginError> {
    let own = invocation::speaker_key(speaker, key);
    Ok(match config::get(&own)? {
        Some(value) => Some(value),
        None => config::get(key)?,
    })
}

/// A setting that may also come from a declared environment variable (the seed's PIPER_PATH and
/// PIPER_MODEL_PATH): the setting wins, then the variable.
fn setting_or_secret(value: Option<String>, var: &str, key: &str) -> Result<String, PluginError> {
    if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
        return Ok(value.trim().to_owned());
    }
    match config::secret(var) {
        Ok(Some(value)) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(PluginError::Config(format!(
            "{var} is not set (or set `{key}` in [plugins.piper.config])"
        ))),
    }
}

impl Invocation {
    /// The invocation for `request` from the plugin's settings.
    fn load(request: &TtsRequest) -> Result<Self, PluginError> {
        let speaker = request.speaker;
        let program = setting_or_secret(config::get("piper_path")?, "PIPER_PATH", "piper_path")?;
        let model = setting_or_secret(
            speaker_setting(speaker, "model_path")?,
            "PIPER_MODEL_PATH",
            "model_path",
        )?;
        let speaker_id = if request.voice.trim().is_empty() {
            // `claude_voice` as for every TTS plugin; `claude_speaker` (Piper's word) works too.
            let mut voice_key = invocation::speaker_key(speaker, "voice");
            if config::get(&voice_key)?.is_none() {
                voice_key = invocation::speaker_key(speaker, "speaker");
            }
            invocation::parse_speaker_id(&voice_key, &config::get_str(&voice_key, ""))?
        } else {
            invocation::parse_speaker_id("the requested voice", &request.voice)?
        };
        let default_scale = match speaker {
            // A slightly quicker guest, so two AIs on a one-speaker voice still differ.
            Speaker::Guest => 0.9,
            _ => 1.0,
        };
        let length_scale = config::parse::<f32>(
            "length_scale",
            speaker_setting(speaker, "length_scale")?.as_deref(),
        )?
        .unwrap_or(default_scale);
        if !(0.1..=10.0).contains(&length_scale) {
            return Err(PluginError::Config(format!(
                "length_scale {length_scale} is outside 0.1..10"
            )));
        }
        let sample_rate = config::parse::<u32>(
            "sample_rate",
            speaker_setting(speaker, "sample_rate")?.as_deref(),
        )?
        .unwrap_or(DEFAULT_SAMPLE_RATE);
        if !(8_000..=96_000).contains(&sample_rate) {
            return Err(PluginError::Config(format!(
                "sample_rate {sample_rate} is outside 8000..96000"
            )));
        }
        Ok(Self {
            program,
            model,
            raw_flag: config::get_str("raw_flag", "--output-raw"),
            speaker_id,
            length_scale: Some(length_scale),
            sample_rate,
        })
    }
}

impl TtsPlugin for Piper {
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Tts).with_capabilities(&[
            Capability::Log,
            Capability::Config,
            Capability::Process,
        ])
    }

    fn synthesize(request: TtsRequest, sink: &AudioSink<'_>) -> Result<(), PluginError> {
        let line = invocation::stdin_line(&request.text);
        if line.trim().is_empty() {
            return Ok(());
        }
        let run = Invocation::load(&request)?;
        let timeouts = Timeouts {
            first_ms: config::get_u32("first_audio_timeout_ms", 15_000).max(100),
            idle_ms: config::get_u32("read_timeout_ms", 5_000).max(100),
        };
        let chunk_ms = config::get_u32("chunk_ms", 100).clamp(10, 1_000);
        let child = process::spawn(&run.program, &run.args(), &[])?;
        child.write_stdin(line.as_bytes()).map_err(|e| {
            // Piper died before reading: its stderr says why.
            failed(&child, &format!("piper did not take the text ({e:?})"))
        })?;
        child.close_stdin();
        let result = stream(&child, &run, &timeouts, chunk_ms, sink);
        if result.is_err() {
            child.kill();
        }
        result
    }
}

/// Reads Piper's stdout to its end, pushing audio in `chunk_ms` pieces, then checks its exit.
fn stream(
    child: &Child,
    run: &Invocation,
    timeouts: &Timeouts,
    chunk_ms: u32,
    sink: &AudioSink<'_>,
) -> Result<(), PluginError> {
    let chunk = pcm::samples_for_ms(chunk_ms, run.sample_rate).max(1);
    let max_bytes = u32::try_from(chunk * 2).unwrap_or(u32::MAX);
    let mut decoder = PcmBytes::new();
    let mut pending: Vec<i16> = Vec::with_capacity(chunk);
    let mut delivered = 0usize;
    loop {
        let timeout = if delivered + pending.len() == 0 {
            timeouts.first_ms
        } else {
            timeouts.idle_ms
        };
        match child.read_stdout(max_bytes, Some(timeout))? {
            None => break,
            Some(bytes) if bytes.is_empty() => {
                return Err(failed(
                    child,
                    &format!("piper wrote no audio for {timeout} ms"),
                ));
            }
            Some(bytes) => {
                pending.extend(decoder.push(&bytes));
                while pending.len() >= chunk {
                    let rest = pending.split_off(chunk);
                    // `cancelled` (barge-in) ends the call at once; the caller kills Piper.
                    sink.push(run.sample_rate, &pending)?;
                    delivered += pending.len();
                    pending = rest;
                }
            }
        }
    }
    sink.push(run.sample_rate, &pending)?;
    delivered += pending.len();
    let code = child.wait()?;
    if code != 0 {
        return Err(failed(child, &format!("piper exited with code {code}")));
    }
    if delivered == 0 {
        return Err(failed(child, "piper exited without writing audio"));
    }
    log::debug(&format!(
        "piper: {delivered} samples at {} Hz",
        run.sample_rate
    ));
    Ok(())
}

/// `unavailable` with what happened and the tail of Piper's stderr.
fn failed(child: &Child, what: &str) -> PluginError {
    PluginError::Unavailable(format!(
        "{what}: {}",
        invocation::stderr_tail(&child.stderr())
    ))
}

studio_plugin::export_tts!(Piper);
