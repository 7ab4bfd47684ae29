//! The two messages of a model request: what the model is asked, and what it is told about the
//! pattern.
//!
//! Both are bounded: the system prompt is a constant, and the user message quotes at most
//! [`MAX_TEMPLATE_BYTES`] of template, [`MAX_SAMPLES`] samples of [`MAX_SAMPLE_BYTES`] each and
//! [`MAX_SOURCE_BYTES`] of source, so it stays under [`MAX_USER_BYTES`], far below the host's
//! limit per message (a larger one would be refused as `busy`).
//!
//! The user message is plain text, one fact per line, with the samples as a JSON array so the
//! model can tell them apart whatever they contain.

use crate::insight::truncate;

/// Longest template quoted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 1000;
/// Sample messages quoted at most.
pub const MAX_SAMPLES: usize = 3;
/// Longest sample quoted, in bytes.
pub const MAX_SAMPLE_BYTES: usize = 400;
/// Longest source quoted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 100;
/// Upper bound of the user message's size, in bytes (the fixed text included).
pub const MAX_USER_BYTES: usize = 4096;

/// What the model is asked to do, and the only shape of answer accepted.
pub const SYSTEM: &str = "You analyse log patterns for the operators of a production system. \
A log pattern is a message template whose variable parts are written <*>. \
Given one pattern, answer with a single JSON object and nothing else (no prose, no code fence), \
with exactly these keys: \
\"summary\": one sentence saying what the pattern means; \
\"cause\": the most likely cause in one sentence, or null when the pattern shows none; \
\"severity\": one of \"info\", \"warning\", \"error\", \"critical\"; \
\"action\": one sentence with the first thing an operator should check or do. \
Base the answer only on the pattern, its level, source, samples and counts.";

/// What the user message describes.
#[derive(Debug, Clone, Copy)]
pub struct PatternFacts<'a> {
    pub template: &'a str,
    /// The level as the events carry it.
    pub level: &'a str,
    pub source: Option<&'a str>,
    pub samples: &'a [String],
    /// Events of the pattern in the call that asks.
    pub in_batch: u64,
    /// Events of the pattern seen by this stage in total.
    pub total: u64,
    /// Events of all patterns seen by this stage.
    pub all_events: u64,
}

/// The user message for a pattern.
pub fn user(facts: &PatternFacts<'_>) -> String {
    let samples: Vec<&str> = facts.samples.iter().take(MAX_SAMPLES).map(|s| truncate(s, MAX_SAMPLE_BYTES)).collect();
    let samples = serde_json::to_string(&samples).unwrap_or_else(|_| "[]".into());
    let text = format!(
        "Log pattern: {}\nLevel: {}\nSource: {}\nSample messages: {samples}\n\
         Counts: {} in the current batch, {} seen in total, out of {} events of all patterns.",
        truncate(facts.template, MAX_TEMPLATE_BYTES),
        truncate(facts.level, 16),
        facts.source.map_or("unknown", |s| truncate(s, MAX_SOURCE_BYTES)),
        facts.in_batch,
        facts.total,
        facts.all_events,
    );
    // Escaping can grow the samples; the cut keeps the bound whatever they contain.
    truncate(&text, MAX_USER_BYTES).to_owned()
}

#[cfg(test)]
mod tests {
    use super::{MAX_USER_BYTES, PatternFacts, SYSTEM, user};

    #[test]
    fn user_message_describes_and_is_bounded() {
        let samples = vec!["payment 17 declined".to_owned(), "payment \"18\" declined".to_owned()];
        let text = user(&PatternFacts {
            template: "payment <*> declined",
            level: "ERROR",
            source: Some("billing"),
            samples: &samples,
            in_batch: 2,
            total: 5,
            all_events: 50,
        });
        assert!(text.contains("Log pattern: payment <*> declined\nLevel: ERROR\nSource: billing\n"), "{text}");
        assert!(text.contains(r#"["payment 17 declined","payment \"18\" declined"]"#), "{text}");
        assert!(text.contains("2 in the current batch, 5 seen in total, out of 50"), "{text}");

        let huge = "x".repeat(100_000);
        let samples = vec![huge.clone(); 10];
        let text = user(&PatternFacts {
            template: &huge,
            level: &huge,
            source: Some(&huge),
            samples: &samples,
            in_batch: u64::MAX,
            total: u64::MAX,
            all_events: u64::MAX,
        });
        assert!(text.len() <= MAX_USER_BYTES, "{}", text.len());
        for key in ["\"summary\"", "\"cause\"", "\"severity\"", "\"action\"", "nothing else"] {
            assert!(SYSTEM.contains(key), "{key}");
        }
    }
}
