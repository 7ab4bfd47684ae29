//! The `absence` rule: no matching event for `for`.
//!
//! The silence is measured from the newest matching event, or, before the rule has seen any, from
//! when the rule (in this definition) first ran: a source that never logs alerts `for` after the
//! stage started. The rule fires once when the silence exceeds `for` (strictly), evaluated on
//! every call, ticks included; it is re-armed by the next matching event. Its key is `""`.

use sluice_guest::Event;

use crate::alert::{Alert, Finding};
use crate::config::{Check, Rule};
use crate::duration::Span;
use crate::gate::{KeyGate, RuleGate, admit};
use crate::persist::MetaRecord;

/// The state of one `absence` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Absence {
    /// Newest matching event.
    last_seen_ns: Option<i64>,
    /// Whether the current silence may still fire.
    armed: bool,
    gate: KeyGate,
}

impl Default for Absence {
    fn default() -> Self {
        Self { last_seen_ns: None, armed: true, gate: KeyGate::default() }
    }
}

impl Absence {
    /// The state stored in the rule's meta record.
    pub fn restore(meta: &MetaRecord) -> Self {
        Self { last_seen_ns: meta.ls, armed: meta.ar, gate: KeyGate { last_fired_ns: meta.lf, suppressed: meta.sp } }
    }

    /// Writes this state into the rule's meta record.
    pub fn store(&self, meta: &mut MetaRecord) {
        (meta.ls, meta.ar, meta.lf, meta.sp) =
            (self.last_seen_ns, self.armed, self.gate.last_fired_ns, self.gate.suppressed);
    }

    /// Notes one matching event: the silence is over.
    pub fn ingest(&mut self, event: &Event) {
        self.last_seen_ns = Some(self.last_seen_ns.map_or(event.received_ns, |l| l.max(event.received_ns)));
        self.armed = true;
    }

    /// Fires if the silence since the last event (or since `started_ns`) exceeds `for`. Returns
    /// whether the state changed.
    pub fn evaluate(
        &mut self,
        rule: &Rule,
        gate: &mut RuleGate,
        started_ns: i64,
        now: i64,
        out: &mut Vec<Alert>,
    ) -> bool {
        let Check::Absence { for_ns } = rule.check else { return false };
        let since = self.last_seen_ns.unwrap_or(started_ns);
        let silence = now - since;
        if !self.armed || silence <= for_ns {
            return false;
        }
        self.armed = false;
        if let Some(suppressed) = admit(gate, &mut self.gate, now, rule.dedup_ns, rule.cooldown_ns) {
            let what = match self.last_seen_ns {
                Some(_) => "since the last matching event",
                None => "since the rule started, and none seen yet",
            };
            let finding = Finding {
                key: String::new(),
                value: silence as f64,
                threshold: for_ns as f64,
                window_ns: for_ns,
                title: format!("{}: no matching event for {}", rule.name, Span(for_ns)),
                message: format!(
                    "No matching event for {} {what} (alerts after {}).",
                    Span(silence - silence % 1_000_000_000),
                    Span(for_ns)
                ),
                source: rule.filter.source.clone(),
                pattern_id: rule.filter.pattern.clone(),
                template: None,
                event_ids: Vec::new(),
            };
            out.push(finding.into_alert(rule, now, suppressed));
        }
        true
    }
}
