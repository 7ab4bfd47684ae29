//! Model requests and their answers: asking once per pattern, retrying what the host did not
//! take, and reading answers back round-robin.

use sluice_guest::inference::{Answer, Status};

use super::Enricher;
use crate::insight::{truncate, validate};
use crate::level::Level;
use crate::pattern::Model;
use crate::prompt::{self, PatternFacts};

/// The host's model inference, as the engine uses it (the SDK natively and on WebAssembly; fakes
/// in tests that need answers the native stand-in cannot give).
pub trait Inference {
    fn request(&mut self, key: &str, system: &str, user: &str) -> Status;
    fn lookup(&mut self, key: &str) -> Option<Answer>;
}

/// Pending answers looked up per call at most.
pub const LOOKUPS_PER_CALL: usize = 64;
/// Deferred requests reconsidered per call at most.
pub const RETRIES_PER_CALL: usize = 16;
/// Longest failure reason from the host kept, in bytes.
const MAX_REASON_BYTES: usize = 500;

/// Why a request did not go out, and how long to wait before asking again.
///
/// | status | reason | retry after |
/// | --- | --- | --- |
/// | `disabled` | no inference endpoint configured | 10 minutes |
/// | `over-budget` | hourly inference budget spent | 5 minutes |
/// | `busy` | inference queue busy | 5 seconds |
/// | (`max_pending` reached) | waiting for a free request slot | next call |
pub const fn retry_delay_ns(status: Status) -> i64 {
    const SECOND: i64 = 1_000_000_000;
    match status {
        Status::Disabled => 600 * SECOND,
        Status::OverBudget => 300 * SECOND,
        Status::Busy => 5 * SECOND,
        Status::Queued | Status::Known => 0,
    }
}

impl Enricher {
    /// Why the model is not to be asked about a pattern at `level`, or `None` when it is.
    pub(super) fn off_reason(&self, level: &str) -> Option<String> {
        if !self.settings.request_model {
            return Some("model requests turned off (request_model: false)".into());
        }
        let level = Level::of_event(level);
        (level < self.settings.min_level).then(|| {
            format!(
                "level {} is below min_level {} for model requests",
                level.as_str(),
                self.settings.min_level.as_str()
            )
        })
    }

    /// Asks the model about the pattern in `slot` if the settings allow and a slot is free.
    pub(super) fn ask(&mut self, slot: usize, now_ns: i64, inference: &mut impl Inference) {
        let total = self.total;
        let full = self.pending.len() >= self.settings.max_pending;
        let Some(entry) = self.slots.get(slot).and_then(Option::as_ref) else { return };
        let p = &entry.pattern;
        let model = if let Some(reason) = self.off_reason(&p.level) {
            Model::Off(reason)
        } else if full {
            Model::Wanted { at_ns: now_ns, reason: "waiting for a free model request slot (max_pending)".into() }
        } else {
            let user = prompt::user(&PatternFacts {
                template: &p.template,
                level: &p.level,
                source: p.source.as_deref(),
                samples: &p.samples,
                in_batch: p.in_call,
                total: p.activity.count,
                all_events: total,
            });
            match inference.request(&entry.id, prompt::SYSTEM, &user) {
                Status::Queued | Status::Known => Model::Pending,
                status => {
                    Model::Wanted { at_ns: now_ns.saturating_add(retry_delay_ns(status)), reason: refusal(status) }
                }
            }
        };
        let id = entry.id.clone();
        match &model {
            Model::Pending => self.pending.push_back(id),
            Model::Wanted { .. } => self.wanted.push_back(id),
            _ => {}
        }
        self.set_model(slot, model, now_ns);
    }

    /// Reconsiders deferred requests whose time has come.
    pub(super) fn retry(&mut self, now_ns: i64, inference: &mut impl Inference) {
        for _ in 0..self.wanted.len().min(RETRIES_PER_CALL) {
            if self.pending.len() >= self.settings.max_pending {
                return;
            }
            let Some(id) = self.wanted.pop_front() else { return };
            let Some(&slot) = self.index.get(&id) else { continue };
            match self.entry(slot).map(|e| &e.pattern.model) {
                Some(Model::Wanted { at_ns, .. }) if *at_ns <= now_ns => self.ask(slot, now_ns, inference),
                Some(Model::Wanted { .. }) => self.wanted.push_back(id),
                _ => {}
            }
        }
    }

    /// Looks up pending answers, round-robin.
    pub(super) fn poll(&mut self, now_ns: i64, inference: &mut impl Inference) {
        for _ in 0..self.pending.len().min(LOOKUPS_PER_CALL) {
            let Some(id) = self.pending.pop_front() else { return };
            let Some(&slot) = self.index.get(&id) else { continue };
            if !matches!(self.entry(slot).map(|e| &e.pattern.model), Some(Model::Pending)) {
                continue;
            }
            let model = match inference.lookup(&id) {
                Some(Answer::Pending) => {
                    self.pending.push_back(id);
                    continue;
                }
                Some(Answer::Ready(text)) => match validate(&text) {
                    Ok(answer) => Model::Answered(answer),
                    Err(why) => Model::Failed(format!("model answer invalid: {why}")),
                },
                Some(Answer::Failed(reason)) => {
                    Model::Failed(format!("model call failed: {}", truncate(&reason, MAX_REASON_BYTES)))
                }
                None => {
                    self.wanted.push_back(id);
                    Model::Wanted { at_ns: now_ns, reason: "the host lost the model request; asking again".into() }
                }
            };
            self.set_model(slot, model, now_ns);
        }
    }

    /// Changes a pattern's request state, rebuilding its insight when that changes what it says.
    fn set_model(&mut self, slot: usize, model: Model, now_ns: i64) {
        let Some(entry) = self.entry_mut(slot) else { return };
        let p = &mut entry.pattern;
        let same_insight = p.model.fallback_reason() == model.fallback_reason()
            && !matches!(model, Model::Answered(_))
            && !p.insight.is_empty();
        p.model = model;
        self.mark_changed(slot);
        if !same_insight {
            self.refresh(slot, now_ns);
        }
    }
}

/// The `fallback_reason` for a request the host did not take.
fn refusal(status: Status) -> String {
    match status {
        Status::Disabled => "no inference endpoint configured",
        Status::OverBudget => "hourly inference budget spent",
        Status::Busy => "inference queue busy; asking again shortly",
        Status::Queued | Status::Known => "model answer pending",
    }
    .into()
}
