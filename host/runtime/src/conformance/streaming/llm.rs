//! LLM: a short request must stream text and end with a stop reason, and a long one must stop
//! when cancelled after its first piece.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::super::CallRecord;
use super::super::report::Check;
use super::{collect, failed_call, ms, stream_then_cancel};
use crate::call::LlmHandle;
use crate::host::{LlmRole, PluginHost};
use crate::manifest::{PluginKind, RoleSlot};
use crate::wit;

/// The LLM slot the component fills in the checker.
struct Checked;

impl LlmRole for Checked {
    fn role_slot(self) -> RoleSlot {
        RoleSlot::Claude
    }
}

fn llm_request(model: &str, text: &str, max_tokens: u32) -> wit::LlmRequest {
    wit::LlmRequest {
        speaker: wit::Speaker::Claude,
        model: model.into(),
        system: "You are taking part in a live voice conversation. Answer briefly.".into(),
        messages: vec![wit::ChatMessage {
            role: wit::ChatRole::User,
            content: text.into(),
        }],
        max_tokens,
        temperature: None,
    }
}

pub(super) async fn check(
    host: &Arc<PluginHost>,
    model: &str,
    records: &mut Vec<CallRecord>,
) -> Vec<Check> {
    let mut handle: LlmHandle = host.llm(Checked);
    let (tx, rx) = mpsc::channel(1024);
    let started = Instant::now();
    let (result, pieces) = tokio::join!(
        handle.complete(
            llm_request(model, "Say hello to the listeners in a few words.", 64),
            tx
        ),
        collect(rx)
    );
    let wall = started.elapsed();
    let streaming = match &result {
        Err(e) => failed_call("llm streaming", e),
        Ok(completion) => {
            let text: String = pieces.concat();
            if pieces.is_empty() || text.trim().is_empty() {
                Check::fail(
                    "llm streaming",
                    "the call succeeded without streaming any text",
                )
            } else if completion.stop_reason.trim().is_empty() {
                Check::fail("llm streaming", "the completion has no stop_reason")
            } else {
                let shown: String = text.chars().take(60).collect();
                Check::pass(
                    "llm streaming",
                    format!(
                        "{} pieces, {:?}, stopped with {:?}",
                        pieces.len(),
                        shown,
                        completion.stop_reason
                    ),
                )
            }
            .figure("pieces_count", pieces.len() as f64)
        }
    }
    .figure("call_ms", ms(wall));
    records.push(CallRecord::new(
        "llm complete",
        PluginKind::Llm,
        result.map(|_| ()),
        wall,
        handle.last_call(),
    ));

    let cancel = handle.canceller();
    let (tx, mut rx) = mpsc::channel(1);
    let started = Instant::now();
    let request = llm_request(
        model,
        "Please count slowly from one to two hundred, writing every number out in words, one number after another.",
        2_000,
    );
    let call = async {
        let result = handle.complete(request, tx).await.map(|_| ());
        (result, Instant::now())
    };
    let (check, record) = stream_then_cancel("llm cancellation", call, &mut rx, &cancel).await;
    if let Some(result) = record {
        records.push(CallRecord::new(
            "llm cancel",
            PluginKind::Llm,
            result,
            started.elapsed(),
            handle.last_call(),
        ));
    }
    vec![streaming, check]
}
