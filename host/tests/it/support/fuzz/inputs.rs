//! Inputs for the other doors (studio audio, settings bodies, Range headers, episode ids)
//! and how each is decoded.

use super::*;

pub(super) fn studio_audio_input(
    rng: &mut Rng,
) -> (voice_studio::audio::InputFormat, Vec<Vec<u8>>) {
    let (encoding, rate) = *rng.pick(&[
        (InputEncoding::PcmS16le, 48_000),
        (InputEncoding::PcmS16le, 16_000),
        (InputEncoding::PcmS16le, 44_100),
        (InputEncoding::Opus, 48_000),
    ]);
    let format = voice_studio::audio::InputFormat {
        encoding,
        sample_rate: rate,
        channels: 1,
    };
    let chunks = (0..1 + rng.below(3))
        .map(|_| {
            if encoding == InputEncoding::Opus && rng.chance(60) {
                // A TOC byte of every config and frame-count code, then random frame data.
                let mut packet = vec![(rng.next_u64() & 0xff) as u8];
                if rng.chance(50) {
                    packet.push((rng.next_u64() & 0xff) as u8);
                }
                let len = rng.length(1500, &[1275, 1276]);
                packet.extend(rng.bytes(len));
                packet
            } else {
                let len = rng.length(4000, &[1, 1919, 1920, 1921]);
                rng.bytes(len)
            }
        })
        .collect();
    (format, chunks)
}

pub(super) fn decode_studio_audio(
    (format, chunks): &(voice_studio::audio::InputFormat, Vec<Vec<u8>>),
) -> Outcome {
    thread_local! {
        static DECODERS: std::cell::RefCell<Vec<(voice_studio::audio::InputFormat, InputDecoder)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    DECODERS.with(|cell| {
        let mut decoders = cell.borrow_mut();
        // Decoders are reused across inputs, as a studio reuses one for a whole session.
        let index = match decoders.iter().position(|(f, _)| f == format) {
            Some(i) => i,
            None => match InputDecoder::new(*format) {
                Ok(d) => {
                    decoders.push((*format, d));
                    decoders.len() - 1
                }
                Err(_) => return Outcome::Refused,
            },
        };
        let decoder = &mut decoders[index].1;
        let mut all_ok = true;
        for chunk in chunks {
            let mut frames = 0usize;
            all_ok &= decoder.push(chunk, |_| frames += 1).is_ok();
            // One chunk of at most 4 kB of PCM or one Opus packet (<= 120 ms) makes few frames.
            if frames > 8 {
                return Outcome::Violation("one chunk made more than 8 frames");
            }
        }
        outcome(all_ok)
    })
}

pub(super) fn api_keys_body(rng: &mut Rng) -> Vec<u8> {
    let fields = [
        "anthropicApiKey",
        "assemblyaiApiKey",
        "groqApiKey",
        "grokApiKey",
        "togetherApiKey",
        "openaiApiKey",
    ];
    settings_body(rng, &fields, |rng| {
        let len = rng.length(600, &[512, 513]);
        json!(rng.text(len))
    })
}

pub(super) fn runtime_body(rng: &mut Rng) -> Vec<u8> {
    let fields = [
        "guestProvider",
        "guestModel",
        "guestSystemInstructions",
        "ttsProvider",
        "guestVoice",
    ];
    settings_body(rng, &fields, |rng| match rng.below(4) {
        0 => json!(rng.pick(&[
            "groq", "grok", "together", "openai", "local", "google", "coqui", "piper"
        ])),
        1 => {
            let len = rng.length(20_000, &[100, 101, 10_000, 10_001]);
            json!(rng.text(len.min(12_000)))
        }
        _ => rng.json(2),
    })
}

pub(super) fn settings_body(
    rng: &mut Rng,
    fields: &[&str],
    value: impl Fn(&mut Rng) -> Value,
) -> Vec<u8> {
    match rng.below(10) {
        0..=5 => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(fields.len() + 2) {
                let key = if rng.chance(90) {
                    (*rng.pick(fields)).to_owned()
                } else {
                    let len = rng.length(20, &[]);
                    rng.text(len)
                };
                map.insert(
                    key,
                    if rng.chance(85) {
                        value(rng)
                    } else {
                        rng.json(2)
                    },
                );
            }
            Value::Object(map).to_string().into_bytes()
        }
        6 => {
            let mut map = serde_json::Map::new();
            map.insert((*rng.pick(fields)).to_owned(), value(rng));
            rng.mutate(&Value::Object(map).to_string()).into_bytes()
        }
        7 => rng.json(4).to_string().into_bytes(),
        8 => {
            // Deep nesting: serde_json's recursion limit must refuse it, not the stack.
            let depth = rng.length(5000, &[127, 128, 129]);
            let open = rng.pick(&["[", "{\"a\":"]);
            open.repeat(depth).into_bytes()
        }
        _ => {
            let len = rng.length(300, &[]);
            rng.bytes(len)
        }
    }
}

pub(super) fn range_input(rng: &mut Rng) -> (String, u64) {
    let any = rng.next_u64() % 100_000;
    let len = *rng.pick(&[0, 1, 2, 1000, 1 << 20, u64::MAX, u64::MAX - 1, any]);
    let num = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => String::new(),
            1 => rng
                .pick(&[
                    "0",
                    "1",
                    "18446744073709551615",
                    "18446744073709551616",
                    "99999999999999999999999",
                ])
                .to_string(),
            2 => format!("{}", rng.next_u64()),
            3 => format!("{}", rng.below(2000)),
            4 => rng
                .pick(&["-1", "+1", " 1", "1 ", "0x10", "1e3", "١"])
                .to_string(),
            _ => {
                let l = rng.length(6, &[]);
                rng.text(l)
            }
        }
    };
    let header = match rng.below(8) {
        0..=3 => format!("bytes={}-{}", num(rng), num(rng)),
        4 => format!(
            "{}={}-{}",
            rng.pick(&["bytes", "Bytes", "items", " bytes", ""]),
            num(rng),
            num(rng)
        ),
        5 => format!("bytes={}-{},{}-{}", num(rng), num(rng), num(rng), num(rng)),
        6 => {
            let seed = format!("bytes={}-{}", rng.below(100), rng.below(1000));
            rng.mutate(&seed)
        }
        _ => {
            let l = rng.length(40, &[]);
            rng.text(l)
        }
    };
    (header, len)
}

pub(super) fn decode_range((header, len): &(String, u64)) -> Outcome {
    match byte_range(header, *len) {
        Some((first, last)) if first > last || last >= *len => {
            Outcome::Violation("a range outside the file or backwards")
        }
        Some(_) => Outcome::Accepted,
        None => Outcome::Refused,
    }
}

pub(super) fn episode_id_input(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("episode-{}", rng.next_u64()),
        1 => {
            let seed = format!("episode-{}", rng.next_u64() % 1_000_000);
            rng.mutate(&seed)
        }
        2 => rng
            .pick(&[
                ".", "..", "../x", "a/b", "a\\b", "C:x", ".hidden", "a..", "-", "_", "a\u{0}b",
                "ep%2f",
            ])
            .to_string(),
        _ => {
            let len = rng.length(200, &[128, 129, 160, 161]);
            rng.text(len)
        }
    }
}

pub(super) fn decode_episode_id(id: &str) -> Outcome {
    let valid = is_valid_episode_id(id);
    if !valid {
        return Outcome::Refused;
    }
    // A studio's id names its recording folder; that folder must stay inside RECORDING_DIR and
    // be one the recordings route can serve.
    match voice_studio::recording::folder_name(id) {
        Ok(name) if name.contains(['/', '\\']) || name == ".." || name.starts_with('.') => {
            Outcome::Violation("a valid episode id makes a folder name outside RECORDING_DIR")
        }
        Ok(name)
            if !is_recording_folder_name(&name)
                || !is_recording_folder_name(&format!("{name}-2")) =>
        {
            Outcome::Violation("a valid episode id records where the route cannot serve")
        }
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Violation("a valid episode id has no folder name"),
    }
}
