// The body of the fault-injector, shared by `fault-injector` and `fault-injector-next` (which
// `include!` it with their own `VERSION`).

wit_bindgen::generate!({
    path: "../../wit/v0.1.0",
    world: "llm-plugin",
});

use exports::studio::plugin::llm::{Completion, Guest as Llm, LlmRequest};
use studio::plugin::streams::TokenSink;
use studio::plugin::types::{Capability, PluginError, Role};
use studio::plugin::{config, http, log, process, websocket};

/// The plugin; it keeps no state between calls.
struct FaultInjector;

impl Guest for FaultInjector {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "fault-injector".into(),
            version: VERSION.into(),
            role: Role::Llm,
            contract: "0.1.0".into(),
            capabilities: vec![
                Capability::Log,
                Capability::Config,
                Capability::Http,
                Capability::Websocket,
                Capability::Process,
            ],
            summary: "Misbehaves on request (model = echo|version|trap|flaky|spin|big|hog|sleep|http|ws|spawn|secret|secret-file|config|leak|auth-echo|print|http-hold|ws-hold|http-stream) for host tests.".into(),
        }
    }
}

impl Llm for FaultInjector {
    fn complete(request: LlmRequest, sink: &TokenSink) -> Result<Completion, PluginError> {
        // `mode:argument`, e.g. `secret:OTHER_KEY` or `http:http://127.0.0.1:9/`.
        let (mode, argument) = match request.model.split_once(':') {
            Some((mode, argument)) => (mode, Some(argument)),
            None => (request.model.as_str(), None),
        };
        log::log(log::Level::Debug, &format!("fault-injector mode {mode}"));
        match mode {
            "" | "echo" => echo(&request, sink),
            "version" => {
                sink.push(VERSION)?;
                Ok(done("end_turn"))
            }
            "trap" => panic!("fault-injector: trap requested"),
            // Traps only where config says `flaky = true`: a primary that fails and a fallback
            // (the same plugin without the setting) that answers with its version.
            "flaky" => {
                if config::get("flaky")?.as_deref() == Some("true") {
                    panic!("fault-injector: configured to fail");
                }
                sink.push(VERSION)?;
                Ok(done("end_turn"))
            }
            "spin" => spin(),
            // `big:N`: one piece of N characters, then `after`, ignoring refusals, then ends as
            // if the model had stopped on its own: only the host can hold the reply to its bound.
            "big" => {
                let n = argument.and_then(|a| a.parse().ok()).unwrap_or(100_000);
                let _ = sink.push(&"x".repeat(n));
                let _ = sink.push("after");
                Ok(done("end_turn"))
            }
            "hog" => hog(),
            // `sleep:MS` (default 1500).
            "sleep" => {
                // Sleeping waits in the host (WASI poll), which must not count as guest CPU time.
                let ms = argument.and_then(|a| a.parse().ok()).unwrap_or(1500);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                sink.push("slept")?;
                Ok(done("end_turn"))
            }
            "http" => {
                let url = match argument {
                    Some(url) => url.to_string(),
                    None => config::get("url")?
                        .ok_or_else(|| PluginError::Config("config `url` is not set".into()))?,
                };
                let response = http::send(&http::Request {
                    method: http::Method::Get,
                    url,
                    headers: Vec::new(),
                    body: Vec::new(),
                    timeout_ms: Some(5_000),
                })?;
                let mut body = Vec::new();
                while let Some(piece) = response.read(64 * 1024)? {
                    body.extend_from_slice(&piece);
                }
                sink.push(&format!(
                    "{} {}",
                    response.status(),
                    String::from_utf8_lossy(&body)
                ))?;
                Ok(done("end_turn"))
            }
            // `ws:URL`: connects with an `authorization: test-key` header, sends `hello`, and
            // reports each message until the peer closes (close codes included).
            "ws" => {
                let url = argument.unwrap_or_default();
                let connection = websocket::connect(
                    url,
                    &[("authorization".to_string(), "test-key".to_string())],
                )?;
                connection.send(&websocket::Message::Text("hello".into()))?;
                connection.send(&websocket::Message::Binary(vec![1, 2, 3]))?;
                loop {
                    match connection.receive(Some(5_000))? {
                        None => {
                            sink.push("timeout;")?;
                            break;
                        }
                        Some(websocket::Message::Text(text)) => sink.push(&format!("text {text};"))?,
                        Some(websocket::Message::Binary(bytes)) => {
                            sink.push(&format!("binary {};", bytes.len()))?
                        }
                        Some(websocket::Message::Close(frame)) => {
                            sink.push(&format!("close {} {};", frame.code, frame.reason))?;
                            break;
                        }
                    }
                }
                // After the close: `unavailable`, reported rather than failing the call.
                if let Err(error) = connection.receive(Some(100)) {
                    sink.push(&format!("after close: {error:?}"))?;
                }
                Ok(done("end_turn"))
            }
            // `http-hold:N|URL` / `ws-hold:N|URL`: opens N responses (or WebSockets) to URL and
            // keeps every one open; reports how many it opened and the refusal that stopped it.
            "http-hold" | "ws-hold" => {
                let (count, url) = argument
                    .unwrap_or_default()
                    .split_once('|')
                    .unwrap_or(("0", ""));
                let count: usize = count.parse().unwrap_or(0);
                let mut responses = Vec::new();
                let mut sockets = Vec::new();
                for _ in 0..count {
                    let opened = if mode == "http-hold" {
                        http::send(&http::Request {
                            method: http::Method::Get,
                            url: url.to_string(),
                            headers: Vec::new(),
                            body: Vec::new(),
                            timeout_ms: Some(5_000),
                        })
                        .map(|response| responses.push(response))
                    } else {
                        websocket::connect(url, &[]).map(|socket| sockets.push(socket))
                    };
                    if let Err(error) = opened {
                        let held = responses.len() + sockets.len();
                        sink.push(&format!("opened {held}; refused: {error:?}"))?;
                        return Ok(done("end_turn"));
                    }
                }
                sink.push(&format!("opened {count}"))?;
                Ok(done("end_turn"))
            }
            // `http-stream:URL`: pushes each piece of the body as it comes, with the longest
            // timeout a plugin can ask for (the host clamps it).
            "http-stream" => {
                let response = http::send(&http::Request {
                    method: http::Method::Get,
                    url: argument.unwrap_or_default().to_string(),
                    headers: Vec::new(),
                    body: Vec::new(),
                    timeout_ms: Some(u32::MAX),
                })?;
                while let Some(piece) = response.read(64 * 1024)? {
                    sink.push(&String::from_utf8_lossy(&piece))?;
                }
                Ok(done("end_turn"))
            }
            // `spawn:PROGRAM|ARG|...`: runs it with `GREETING=hi` (and each `NAME=VALUE` line of
            // the system prompt), writes the last message to its standard input, and streams its
            // output, then its exit code.
            "spawn" => {
                let mut words = argument.unwrap_or_default().split('|');
                let program = words.next().unwrap_or_default();
                let args: Vec<String> = words.map(str::to_string).collect();
                let mut env = vec![("GREETING".to_string(), "hi".to_string())];
                env.extend(request.system.lines().filter_map(|line| {
                    line.split_once('=')
                        .map(|(name, value)| (name.to_string(), value.to_string()))
                }));
                let child = process::spawn(program, &args, &env)?;
                let input = request.messages.last().map(|m| m.content.clone());
                child.write_stdin(input.unwrap_or_default().as_bytes())?;
                child.close_stdin();
                while let Some(piece) = child.read_stdout(4096, Some(10_000))? {
                    sink.push(&String::from_utf8_lossy(&piece))?;
                }
                let code = child.wait()?;
                sink.push(&format!("exit {code}"))?;
                Ok(done("end_turn"))
            }
            // `spawn-many:N|PROGRAM|ARG...`: starts N children at once (with `GREETING=hi`) and
            // holds them all until the call ends.
            "spawn-many" => {
                let mut words = argument.unwrap_or_default().split('|');
                let count: usize = words.next().unwrap_or_default().parse().unwrap_or(1);
                let program = words.next().unwrap_or_default();
                let args: Vec<String> = words.map(str::to_string).collect();
                let env = [("GREETING".to_string(), "hi".to_string())];
                let mut children = Vec::new();
                for _ in 0..count {
                    children.push(process::spawn(program, &args, &env)?);
                }
                sink.push(&format!("{} children", children.len()))?;
                Ok(done("end_turn"))
            }
            // `secret-file:NAME`: how long the file a `secret_files` variable names is.
            "secret-file" => {
                let value = config::secret(argument.unwrap_or("CREDENTIALS"))?;
                sink.push(&format!(
                    "secret file: {} bytes",
                    value.map_or(0, |v| v.len())
                ))?;
                Ok(done("end_turn"))
            }
            "secret" => {
                let name = argument.unwrap_or("OTHER_KEY");
                let value = config::secret(name)?;
                // Never echo the value itself: only whether it was there.
                sink.push(if value.is_some() {
                    "secret: set"
                } else {
                    "secret: unset"
                })?;
                Ok(done("end_turn"))
            }
            // `leak:NAME`: what a careless adapter does with a key: logs it, prints it to
            // stdout and stderr, and fails with it in the error (as a provider's 401 echo).
            "leak" => {
                let name = argument.unwrap_or("OTHER_KEY");
                let value = config::secret(name)?.unwrap_or_default();
                log::log(log::Level::Info, &format!("leak log: using key {value}"));
                println!("leak stdout: key={value}");
                eprintln!("leak stderr: key={value}");
                Err(PluginError::Auth(format!(
                    "provider said: Incorrect API key provided: {value}"
                )))
            }
            // `auth-echo:URL`: sends the `PROBER_KEY` secret as a bearer token and, like an
            // adapter forwarding a provider's error body, fails with the body of a non-2xx reply.
            "auth-echo" => {
                let key = config::secret("PROBER_KEY")?.unwrap_or_default();
                let response = http::send(&http::Request {
                    method: http::Method::Get,
                    url: argument.unwrap_or_default().to_string(),
                    headers: vec![("authorization".to_string(), format!("Bearer {key}"))],
                    body: Vec::new(),
                    timeout_ms: Some(5_000),
                })?;
                let mut body = Vec::new();
                while let Some(piece) = response.read(64 * 1024)? {
                    body.extend_from_slice(&piece);
                }
                let body = String::from_utf8_lossy(&body).into_owned();
                log::log(log::Level::Warn, &format!("provider replied {}: {body}", response.status()));
                if response.status() == 401 {
                    return Err(PluginError::Auth(body));
                }
                sink.push(&body)?;
                Ok(done("end_turn"))
            }
            // `print:N`: N lines on stdout, as fast as it can.
            "print" => {
                let n: u32 = argument.and_then(|a| a.parse().ok()).unwrap_or(100_000);
                for i in 0..n {
                    println!("print line {i}");
                }
                sink.push("printed")?;
                Ok(done("end_turn"))
            }
            "config" => {
                for (key, value) in config::entries()? {
                    sink.push(&format!("{key}={value}\n"))?;
                }
                Ok(done("end_turn"))
            }
            other => Err(PluginError::Config(format!(
                "unknown fault-injector model `{other}`"
            ))),
        }
    }
}

/// Streams the last message back word by word.
fn echo(request: &LlmRequest, sink: &TokenSink) -> Result<Completion, PluginError> {
    let text = request
        .messages
        .last()
        .map(|m| m.content.as_str())
        .unwrap_or("");
    let mut words = 0u32;
    for (i, word) in text.split_whitespace().enumerate() {
        let piece = if i == 0 {
            word.to_string()
        } else {
            format!(" {word}")
        };
        sink.push(&piece)?;
        words += 1;
    }
    Ok(Completion {
        stop_reason: "end_turn".into(),
        input_tokens: None,
        output_tokens: Some(words),
    })
}

/// Loops forever without calling the host: only the CPU limit can stop it.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Allocates without bound: only the memory limit can stop it.
fn hog() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

fn done(stop_reason: &str) -> Completion {
    Completion {
        stop_reason: stop_reason.into(),
        input_tokens: None,
        output_tokens: None,
    }
}

// Only on wasm: native linkers reject the component model's export symbol names, and the
// workspace also builds this crate natively.
#[cfg(target_arch = "wasm32")]
export!(FaultInjector);
