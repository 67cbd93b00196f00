//! `echo-policy`: a minimal `policy-plugin`. Claude answers every final human line, with the line as
//! its cue, and the policy remembers how many lines it has routed. Nothing else happens. It exists to
//! measure and test the host's `decide` path without depending on the studio's real policies.
//!
//! A human line containing `sleep` makes it misbehave on purpose, for the host's deadline tests:
//! it sleeps for an hour in `decide` (a policy that would freeze its studio), and one containing
//! `spin` loops forever without calling the host.

wit_bindgen::generate!({
    path: "../../wit/v0.1.0",
    world: "policy-plugin",
});

use exports::studio::plugin::policy::{Decision, FloorEvent, FloorState, Guest as Policy, Respond};
use studio::plugin::types::{Role, Speaker};

/// The plugin; its only state is what it asks the host to remember.
struct EchoPolicy;

impl Guest for EchoPolicy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "echo-policy".into(),
            version: "1.0.0".into(),
            role: Role::Policy,
            contract: "0.1.0".into(),
            capabilities: Vec::new(),
            summary: "Claude answers every human line; for host benchmarks and tests.".into(),
        }
    }
}

impl Policy for EchoPolicy {
    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision> {
        match event {
            FloorEvent::HumanSaid(text) if text.contains("sleep") => {
                // WASI poll: the guest waits in the host, using no CPU; only a deadline stops it.
                std::thread::sleep(std::time::Duration::from_secs(3600));
                vec![Decision::Wait]
            }
            FloorEvent::HumanSaid(text) if text.contains("spin") => spin(),
            FloorEvent::HumanSaid(text) => {
                let routed = state.memory.parse::<u64>().unwrap_or(0) + 1;
                vec![
                    Decision::Respond(Respond {
                        speaker: Speaker::Claude,
                        cue: text,
                    }),
                    Decision::Remember(routed.to_string()),
                ]
            }
            _ => vec![Decision::Wait],
        }
    }
}

/// Loops forever without calling the host.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

// Only on wasm: native linkers reject the component model's export symbol names, and the
// workspace also builds this crate natively.
#[cfg(target_arch = "wasm32")]
export!(EchoPolicy);
