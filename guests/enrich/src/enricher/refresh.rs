//! Building a pattern's insight from its state, and the `Insight` signals that announce it.

use sluice_guest::to_json_string;

use super::Enricher;
use crate::activity::{self, Rate};
use crate::analysis::{Facts, analyse};
use crate::config::Settings;
use crate::insight::Insight;
use crate::level::Level;
use crate::pattern::{Model, Pattern};

/// `Insight` signals emitted per call at most (the host takes 4096 per batch).
pub const SIGNALS_PER_CALL: usize = 1024;
/// A pattern is `novel` while it was first seen less than this long ago (one hour).
pub const NOVELTY_WINDOW_NS: i64 = 3600 * 1_000_000_000;

impl Enricher {
    /// Rebuilds the insight of the pattern in `slot` if its rarity or burst flag changed, at most
    /// once per minute.
    pub(super) fn check_flags(&mut self, slot: usize, now_ns: i64) {
        let (total, s) = (self.total, &self.settings);
        let Some(entry) = self.slots.get(slot).and_then(Option::as_ref) else { return };
        let p = &entry.pattern;
        let rare = rare_share(p, total, s).is_some();
        let burst = p.activity.burst(now_ns, s.burst_factor, s.burst_min_count).is_some();
        let minute = activity::minute_of(now_ns);
        if (rare, burst) == (p.shown_rare, p.shown_burst) || p.flags_changed_minute == Some(minute) {
            return;
        }
        if let Some(entry) = self.entry_mut(slot) {
            entry.pattern.flags_changed_minute = Some(minute);
        }
        self.refresh(slot, now_ns);
    }

    /// Builds the insight of the pattern in `slot` from its state now; when it differs from the
    /// current one, it replaces it and a signal is due.
    pub(super) fn refresh(&mut self, slot: usize, now_ns: i64) {
        let (total, settings) = (self.total, &self.settings);
        let Some(Some(entry)) = self.slots.get_mut(slot) else { return };
        let p = &mut entry.pattern;
        let share = activity::share(p.activity.count, total);
        let rare = rare_share(p, total, settings);
        let burst: Option<Rate> = p.activity.burst(now_ns, settings.burst_factor, settings.burst_min_count);
        let novel = now_ns.saturating_sub(p.activity.first_seen_ns) < NOVELTY_WINDOW_NS;
        let analysis = analyse(&Facts {
            template: &p.template,
            level: Level::of_event(&p.level),
            source: p.source.as_deref(),
            samples: &p.samples,
            novel,
            rare,
            burst,
        });
        let mut insight = Insight {
            source: "offline",
            summary: &analysis.summary,
            cause: analysis.cause,
            severity: analysis.severity,
            action: &analysis.action,
            novel,
            rarity: (share * 1e6).round() / 1e6,
            rare: rare.is_some(),
            burst: burst.is_some(),
            cues: analysis.cues.iter().map(|c| c.word).collect(),
            fallback_reason: p.model.fallback_reason(),
        };
        if let Model::Answered(answer) = &p.model {
            insight.source = "model";
            insight.summary = &answer.summary;
            insight.cause = answer.cause.as_deref();
            insight.severity = answer.severity;
            insight.action = &answer.action;
        }
        let text = insight.to_json();
        p.shown_rare = rare.is_some();
        p.shown_burst = burst.is_some();
        if text != p.insight {
            p.insight = text;
            if !p.signal_due {
                p.signal_due = true;
                self.signals.push_back(entry.id.clone());
            }
        }
        self.mark_changed(slot);
    }

    /// The `Insight` signal bodies due, at most [`SIGNALS_PER_CALL`]:
    /// `{"pattern_id", "template", "insight": {...}}`.
    pub fn take_signals(&mut self) -> Vec<String> {
        let mut bodies = Vec::new();
        while bodies.len() < SIGNALS_PER_CALL {
            let Some(id) = self.signals.pop_front() else { break };
            let Some(&slot) = self.index.get(&id) else { continue };
            let Some(entry) = self.entry_mut(slot) else { continue };
            let p = &mut entry.pattern;
            if std::mem::take(&mut p.signal_due) {
                bodies.push(format!(
                    r#"{{"pattern_id":{},"template":{},"insight":{}}}"#,
                    to_json_string(&id),
                    to_json_string(&p.template),
                    p.insight
                ));
            }
        }
        bodies
    }
}

/// The pattern's share of all events when that makes it rare, else `None`.
fn rare_share(p: &Pattern, total: u64, settings: &Settings) -> Option<f64> {
    let share = activity::share(p.activity.count, total);
    (total >= settings.rare_min_total && share < settings.rare_fraction).then_some(share)
}
