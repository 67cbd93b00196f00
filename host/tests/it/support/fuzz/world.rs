//! The Socket.IO packets, tokens and events the gateway decoders are fed.

use super::*;

/// A Socket.IO packet as it arrives: a text frame and the binary frames after it.
#[derive(Debug, Clone)]
pub struct RawPacket {
    /// The text frame (the engine.io `4` message prefix already removed, as engineioxide does).
    pub text: String,
    /// Binary attachments that follow.
    pub binaries: Vec<Vec<u8>>,
    /// The input format the client declared (the seat's), for `audio.chunk`.
    pub format: InputFormat,
    /// For control events: the decoded payload if it is a JSON boolean (what must be accepted).
    pub expect_bool: Option<bool>,
    /// Whether the server runs open access (else token access) for this input.
    pub open_access: bool,
}

/// What the decoders share: the token-mode access model and a few minted tokens.
pub struct World {
    access: Access,
    open: Access,
    valid_tokens: Vec<String>,
    foreign_tokens: Vec<String>,
    parse_config: ParseConfig,
}

pub(super) const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-0123";
pub(super) const ALL_EVENTS: &[&str] = &[
    "hello",
    "audio.chunk",
    "client.toggle-autopilot",
    "client.request-state",
    "client.end-session",
    "text.say",
];

impl World {
    pub(super) fn new() -> Self {
        let ttl = Duration::from_secs(3600);
        let access = Access::with_key(AccessMode::Token, SECRET.to_vec(), ttl);
        let valid_tokens = vec![
            access.mint(Role::Host, Some("ep-1"), ttl),
            access.mint(Role::Viewer, Some("ep-2"), ttl),
            access.mint(Role::Admin, None, ttl),
        ];
        let other = Access::with_key(
            AccessMode::Token,
            b"another-secret-of-32-bytes-or-more!!".to_vec(),
            ttl,
        );
        let now = voice_studio::gateway::access::unix_now();
        let signed = |claims: Value| {
            let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
            jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
                .expect("signing test claims")
        };
        let iss = voice_studio::gateway::access::ISSUER;
        let foreign_tokens = vec![
            other.mint(Role::Host, Some("ep-1"), ttl),
            other.mint(Role::Admin, None, ttl),
            // Signed with the right key but expired an hour ago, without an episode, with an
            // episode id that is not one, from another issuer, or with an unknown role.
            signed(json!({"role": "host", "ep": "ep-1", "exp": now - 3600, "iss": iss})),
            signed(json!({"role": "host", "exp": now + 3600, "iss": iss})),
            signed(json!({"role": "viewer", "ep": "../etc", "exp": now + 3600, "iss": iss})),
            signed(json!({"role": "host", "ep": "ep-1", "exp": now + 3600, "iss": "elsewhere"})),
            signed(json!({"role": "root", "ep": "ep-1", "exp": now + 3600, "iss": iss})),
        ];
        let parse_config = ParseConfig {
            max_incoming_binary_buf_size: 1024 * 1024,
            max_incoming_binaries: 16,
            ..ParseConfig::default()
        };
        Self {
            open: Access::with_key(AccessMode::Open, SECRET.to_vec(), ttl),
            access,
            valid_tokens,
            foreign_tokens,
            parse_config,
        }
    }

    /// Parses a raw packet with socketioxide's own parser and runs the handler's decoding and
    /// checks for its event, as `socket.rs` does.
    pub(super) fn dispatch(&self, raw: &RawPacket) -> Outcome {
        let state = ParserState::default();
        let mut packet =
            CommonParser.decode_str(&self.parse_config, &state, Str::from(raw.text.clone()));
        let mut binaries = raw.binaries.iter();
        while let Err(socketioxide_core::parser::ParseError::NeedsMoreBinaryData) = packet {
            let Some(bin) = binaries.next() else {
                return Outcome::Refused;
            };
            packet = CommonParser.decode_bin(&self.parse_config, &state, Bytes::from(bin.clone()));
        }
        let Ok(Packet { inner, ns }) = packet else {
            return Outcome::Refused;
        };
        if ns.as_str() != "/" {
            return Outcome::Refused;
        }
        let mut value = match inner {
            PacketData::Event(v, _) | PacketData::BinaryEvent(v, _) => v,
            _ => return Outcome::Refused,
        };
        let Ok(event) = CommonParser.read_event(&value).map(str::to_owned) else {
            return Outcome::Refused;
        };
        match event.as_str() {
            "hello" => {
                let Ok(hello) = CommonParser.decode_value::<Hello>(&mut value, true) else {
                    return Outcome::Refused;
                };
                let Ok(_checked) = check_hello(&hello) else {
                    return Outcome::Refused;
                };
                let access = if raw.open_access {
                    &self.open
                } else {
                    &self.access
                };
                outcome(access.admit(hello.token.as_deref()).is_ok())
            }
            "audio.chunk" => {
                let Ok(BinaryPayload(chunk)) =
                    CommonParser.decode_value::<BinaryPayload>(&mut value, true)
                else {
                    return Outcome::Refused;
                };
                if raw.binaries.is_empty() {
                    // Text, numbers and JSON must never be heard as audio.
                    return Outcome::Violation("audio.chunk accepted without a binary attachment");
                }
                outcome(check_audio_chunk(&chunk, &raw.format).is_ok())
            }
            "client.toggle-autopilot" => {
                let decoded = CommonParser.decode_value::<bool>(&mut value, true).ok();
                if raw.expect_bool.is_some() && decoded != raw.expect_bool {
                    return Outcome::Violation("toggle-autopilot misread a boolean");
                }
                outcome(decoded.is_some())
            }
            "client.request-state" | "client.end-session" => Outcome::Accepted,
            "text.say" => {
                let Ok(say) = CommonParser.decode_value::<TextSay>(&mut value, true) else {
                    return Outcome::Refused;
                };
                let Ok(checked) = check_text_say(&say) else {
                    return Outcome::Refused;
                };
                // What reaches a studio is one non-empty line within the limit.
                let text = &checked.text;
                if text.is_empty()
                    || text.chars().count() > MAX_SAY_CHARS
                    || text.chars().any(char::is_control)
                    || text != text.trim()
                {
                    return Outcome::Violation("text.say let through a line it must refuse");
                }
                Outcome::Accepted
            }
            other => {
                // The handler quotes at most 64 characters of an unknown name back.
                let shown: String = other.chars().take(64).collect();
                if shown.len() > 64 * 4 {
                    return Outcome::Violation("unknown event name quoted whole");
                }
                Outcome::Refused
            }
        }
    }

    pub(super) fn token(&self, rng: &mut Rng) -> String {
        match rng.below(6) {
            0 | 1 => rng.pick(&self.valid_tokens).clone(),
            2 => rng.pick(&self.foreign_tokens).clone(),
            3 => {
                let t = rng.pick(&self.valid_tokens).clone();
                rng.mutate(&t)
            }
            4 => {
                let len = rng.length(64, &[]);
                rng.text(len)
            }
            _ => "x".repeat(rng.length(5000, &[4096, 4097])),
        }
    }

    pub(super) fn hello_packet(&self, rng: &mut Rng) -> RawPacket {
        let mut hello = serde_json::Map::new();
        if rng.chance(70) {
            let id = match rng.below(5) {
                0 => json!("ep-1"),
                1 => json!(format!("episode-{}", rng.next_u64() % 10_000_000)),
                2 => {
                    let len = rng.length(200, &[128, 129]);
                    json!(rng.text(len))
                }
                _ => rng.json(1),
            };
            hello.insert("episodeId".into(), id);
        }
        if rng.chance(70) {
            let name = if rng.chance(60) {
                let len = rng.length(150, &[100, 101]);
                json!(rng.text(len))
            } else {
                rng.json(1)
            };
            hello.insert("participantName".into(), name);
        }
        if rng.chance(50) {
            let mut format = serde_json::Map::new();
            if rng.chance(80) {
                let enc = if rng.chance(80) {
                    json!(rng.pick(&["pcm_s16le", "opus", "pcm", "PCM_S16LE", ""]))
                } else {
                    rng.json(1)
                };
                format.insert("encoding".into(), enc);
            }
            if rng.chance(80) {
                let rate = if rng.chance(70) {
                    json!(rng.pick(&[8000, 16000, 44100, 48000, 7999, 48001, 0, -48000, 96000]))
                } else {
                    rng.json(1)
                };
                format.insert("sampleRate".into(), rate);
            }
            if rng.chance(80) {
                let ch = if rng.chance(70) {
                    json!(rng.pick(&[0, 1, 2, 3, 255, 256, -1]))
                } else {
                    rng.json(1)
                };
                format.insert("channels".into(), ch);
            }
            if rng.chance(10) {
                format.insert("extra".into(), rng.json(1));
            }
            hello.insert("inputFormat".into(), Value::Object(format));
        }
        if rng.chance(50) {
            let token = if rng.chance(85) {
                json!(self.token(rng))
            } else {
                rng.json(1)
            };
            hello.insert("token".into(), token);
        }
        if rng.chance(10) {
            let len = rng.length(10, &[]);
            hello.insert(rng.text(len), rng.json(2));
        }
        let payload = if rng.chance(92) {
            Value::Object(hello)
        } else {
            rng.json(3)
        };
        let body = json!(["hello", payload]).to_string();
        let text = match rng.below(12) {
            0 => format!("2{}{body}", rng.next_u64() % 1000),
            1 => format!("2/admin,{body}"),
            2 => rng.mutate(&format!("2{body}")),
            3 => {
                let junk = rng.text(40);
                rng.mutate(&junk)
            }
            4 => r#"51-["hello",{"_placeholder":true,"num":0}]"#.to_owned(),
            _ => format!("2{body}"),
        };
        let binaries = if text.starts_with("51-") {
            vec![rng.blob(64, &[])]
        } else {
            Vec::new()
        };
        RawPacket {
            text,
            binaries,
            format: InputFormat::default(),
            expect_bool: None,
            open_access: rng.chance(50),
        }
    }

    pub(super) fn audio_packet(&self, rng: &mut Rng) -> RawPacket {
        let format = *rng.pick(&[
            InputFormat::default(),
            InputFormat {
                channels: 2,
                ..InputFormat::default()
            },
            InputFormat {
                sample_rate: 16_000,
                ..InputFormat::default()
            },
            InputFormat {
                encoding: AudioEncoding::Opus,
                ..InputFormat::default()
            },
        ]);
        let placeholder = |num: Value| json!({"_placeholder": true, "num": num});
        let (text, binaries) = match rng.below(14) {
            // The browser's form: one binary attachment of some length.
            0..=5 => {
                let len = if rng.chance(2) {
                    rng.length(200_000, &[96_000, 96_002, 1_048_576])
                } else {
                    rng.length(4_000, &[1920, 1921, 960, 2])
                };
                (
                    format!("51-{}", json!(["audio.chunk", placeholder(json!(0))])),
                    vec![rng.bytes(len)],
                )
            }
            // Two attachments, one placeholder each (the handler takes the first).
            6 => (
                format!(
                    "52-{}",
                    json!(["audio.chunk", placeholder(json!(0)), placeholder(json!(1))])
                ),
                vec![rng.blob(2000, &[]), rng.blob(2000, &[])],
            ),
            // Placeholders that lie: wrong index, wrong type, count mismatch, nested.
            7 => {
                let num = rng
                    .pick(&[json!(1), json!(-1), json!("0"), json!(1e10), json!(null)])
                    .clone();
                let count = rng.below(3);
                let body = if rng.chance(50) {
                    json!(["audio.chunk", placeholder(num)])
                } else {
                    json!(["audio.chunk", {"nested": [placeholder(json!(0))]}])
                };
                (
                    format!("5{count}-{body}"),
                    (0..count).map(|_| rng.bytes(8)).collect(),
                )
            }
            // Text forms an attacker (or a confused client) sends instead of bytes.
            8 => {
                let len = rng.length(200_000, &[96_000]);
                (
                    format!("2{}", json!(["audio.chunk", rng.text(len.min(2000))])),
                    Vec::new(),
                )
            }
            9 => {
                let v = rng.json(3);
                (format!("2{}", json!(["audio.chunk", v])), Vec::new())
            }
            10 => {
                let n = rng.length(3000, &[1920]);
                let numbers: Vec<u8> = rng.bytes(n);
                (format!("2{}", json!(["audio.chunk", numbers])), Vec::new())
            }
            11 => (
                rng.pick(&[
                    "2[\"audio.chunk\"]".to_owned(),
                    "2[\"audio.chunk\",null]".to_owned(),
                    "2[\"audio.chunk\",{}]".to_owned(),
                    "2[\"audio.chunk\",\"\"]".to_owned(),
                    "50-[\"audio.chunk\"]".to_owned(),
                ])
                .clone(),
                Vec::new(),
            ),
            // Mutations of the binary form, header and attachment.
            _ => {
                let seed = format!("51-{}", json!(["audio.chunk", placeholder(json!(0))]));
                (rng.mutate(&seed), vec![rng.blob(2000, &[1920])])
            }
        };
        RawPacket {
            text,
            binaries,
            format,
            expect_bool: None,
            open_access: true,
        }
    }

    pub(super) fn control_packet(&self, rng: &mut Rng) -> RawPacket {
        let mut expect_bool = None;
        let text = match rng.below(10) {
            0..=2 => {
                let v = if rng.chance(40) {
                    json!(rng.chance(50))
                } else {
                    rng.json(2)
                };
                expect_bool = v.as_bool();
                format!("2{}", json!(["client.toggle-autopilot", v]))
            }
            3 => format!("2{}", json!(["client.toggle-autopilot"])),
            4 => {
                let name = *rng.pick(ALL_EVENTS);
                if rng.chance(50) {
                    format!("2{}", json!([name]))
                } else {
                    format!("2{}", json!([name, rng.json(2)]))
                }
            }
            5 => {
                let len = rng.length(2000, &[64, 65]);
                format!("2{}", json!([rng.text(len), rng.json(1)]))
            }
            // A typed line around its limit, with whitespace and control characters.
            6 if rng.chance(50) => {
                let len = rng.length(2 * 1000, &[0, 999, 1000, 1001]);
                let to = rng
                    .pick(&[
                        json!("claude"),
                        json!("guest"),
                        json!("you"),
                        json!(null),
                        json!(7),
                    ])
                    .clone();
                format!(
                    "2{}",
                    json!(["text.say", {"text": rng.text(len), "to": to}])
                )
            }
            6 => format!("2{}", json!([rng.json(2)])),
            7 => rng
                .pick(&[
                    "2[]",
                    "2{}",
                    "2",
                    "2[1]",
                    "2[null]",
                    "2\"hello\"",
                    "3[\"x\"]",
                    "0",
                    "1",
                    "4\"boom\"",
                ])
                .to_string(),
            _ => {
                let name = *rng.pick(ALL_EVENTS);
                rng.mutate(&format!("2{}", json!([name, true])))
            }
        };
        RawPacket {
            text,
            binaries: Vec::new(),
            format: InputFormat::default(),
            expect_bool,
            open_access: true,
        }
    }

    pub(super) fn token_input(&self, rng: &mut Rng) -> (String, bool) {
        match rng.below(8) {
            0 => (rng.pick(&self.valid_tokens).clone(), true),
            1 => (rng.pick(&self.foreign_tokens).clone(), false),
            2 => {
                // Same claims, `alg: none` or another algorithm, signature kept or dropped.
                let t = rng.pick(&self.valid_tokens).clone();
                let mut parts = t.split('.');
                let (_, claims, sig) = (
                    parts.next(),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                let header = rng.pick(&[
                    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0",
                    "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9",
                    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9",
                ]);
                let sig = if rng.chance(50) { "" } else { sig };
                (format!("{header}.{claims}.{sig}"), false)
            }
            3 | 4 => {
                let t = rng.pick(&self.valid_tokens).clone();
                let m = rng.mutate(&t);
                let same = m == t;
                (m, same)
            }
            5 => {
                let n = rng.below(5);
                let segs: Vec<String> = (0..n)
                    .map(|_| {
                        let len = rng.length(60, &[]);
                        rng.text(len)
                    })
                    .collect();
                (segs.join("."), false)
            }
            6 => (
                rng.pick(&["", " ", ".", "..", "...", "a.b.c", "Bearer x"])
                    .to_string(),
                false,
            ),
            _ => ("a".repeat(rng.length(6000, &[4096, 4097])) + ".b.c", false),
        }
    }

    pub(super) fn decode_token(&self, (token, may_verify): &(String, bool)) -> Outcome {
        match self.access.verify(token) {
            Ok(_) if !*may_verify => Outcome::Violation("a forged or mutated token verified"),
            Ok(_) => Outcome::Accepted,
            Err(_) => Outcome::Refused,
        }
    }
}
