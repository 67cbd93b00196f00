//! The host's own share of each AI line's latency, from the traces the server under test exports
//! to a local OTLP receiver (`studio_test_kit::otlp`): each line's root span carries the time the
//! host spent between stages (not waiting on a provider), per gap and in total
//! (`voice_studio::observe::timeline`). Budget: at most 2 ms p99 in total.

use studio_test_kit::otlp::ReceivedSpan;
use voice_studio::observe::timeline::HostGap;

/// The host's share of a line's latency, budgeted at 2 ms p99.
const BUDGET_US: f64 = 2_000.0;

/// Microseconds per gap and in total over one step's lines.
#[derive(Debug, Default)]
pub(super) struct HostGaps {
    /// Lines traced.
    pub(super) lines: usize,
    /// Per gap, in [`HostGap::ALL`] order.
    gaps: [Vec<f64>; 4],
    total: Vec<f64>,
}

impl HostGaps {
    /// The gaps of every line traced in `spans` (the root `ai.line` spans).
    pub(super) fn from_spans(spans: &[ReceivedSpan]) -> Self {
        let mut gaps = HostGaps::default();
        let micros = |span: &ReceivedSpan, key: &str| {
            span.attribute(key).and_then(|v| v.parse::<f64>().ok())
        };
        for line in spans.iter().filter(|s| s.name == "ai.line") {
            gaps.lines += 1;
            for (i, gap) in HostGap::ALL.into_iter().enumerate() {
                let key = format!("studio.host_gap.{}_us", gap.name());
                if let Some(us) = micros(line, &key) {
                    gaps.gaps[i].push(us);
                }
            }
            if let Some(us) = micros(line, "studio.host_added_us") {
                gaps.total.push(us);
            }
        }
        gaps
    }

    /// p99 of the total, microseconds.
    fn total_p99(&self) -> Option<f64> {
        quantile(&self.total, 0.99)
    }
}

fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v[((v.len() - 1) as f64 * q).round() as usize])
}

/// `p50 / p99` in milliseconds with three decimals.
fn pair(values: &[f64]) -> String {
    match (quantile(values, 0.5), quantile(values, 0.99)) {
        (Some(p50), Some(p99)) => format!("{:.3} / {:.3}", p50 / 1000.0, p99 / 1000.0),
        _ => "-".into(),
    }
}

/// The table of every step: studios, lines traced, each gap and the total (p50 / p99, ms).
pub(super) fn print_table(steps: &[(usize, HostGaps)]) {
    println!();
    println!("Host-added latency (the host's own time between stages, from the exported traces):");
    println!();
    let names: Vec<&str> = HostGap::ALL.into_iter().map(HostGap::name).collect();
    println!(
        "| studios | lines traced | {} | host total p50 / p99 ms | within 2 ms p99 |",
        names
            .iter()
            .map(|n| format!("{n} p50 / p99 ms"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---:|---:|{}---|---|", "---|".repeat(names.len()));
    for (studios, gaps) in steps {
        let cells: Vec<String> = gaps.gaps.iter().map(|g| pair(g)).collect();
        let within = match gaps.total_p99() {
            Some(p99) if p99 <= BUDGET_US => "yes",
            Some(_) => "NO",
            None => "-",
        };
        println!(
            "| {studios} | {} | {} | {} | {within} |",
            gaps.lines,
            cells.join(" | "),
            pair(&gaps.total)
        );
    }
}
