//! Text helpers for adapters: the studio's clause splitter (the host cuts LLM replies with the same
//! one; its rules are on [`ClauseSplitter`]). The envelopes the studio wraps others' lines in are
//! read by [`crate::transcript`].

pub use studio_text::{ClauseSplitter, MIN_CLAUSE_CHARS, split_sentences};
