//! Dedup and cooldown: when a triggered rule may actually alert.
//!
//! A *trigger* is one evaluation in which a rule's condition holds for a key. It becomes an alert
//! unless the same key alerted less than `dedup` ago, or any key of the rule alerted less than
//! `cooldown` ago. Suppressed triggers are counted, and the next alert reports them: the key's own
//! suppressed triggers plus the rule's cooldown-suppressed ones since its last alert.

/// The dedup state of one (rule, key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyGate {
    /// When this key last alerted.
    pub last_fired_ns: Option<i64>,
    /// Triggers of this key suppressed by dedup since.
    pub suppressed: u64,
}

/// The cooldown state of one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleGate {
    /// When any key of the rule last alerted.
    pub last_fired_ns: Option<i64>,
    /// Triggers suppressed by cooldown since.
    pub suppressed: u64,
}

/// Whether a trigger at `now` becomes an alert. `Some(suppressed)` when it does (the count to
/// report, and both counters are reset); `None` when it is suppressed (and counted).
pub fn admit(rule: &mut RuleGate, key: &mut KeyGate, now: i64, dedup_ns: i64, cooldown_ns: i64) -> Option<u64> {
    if key.last_fired_ns.is_some_and(|last| now - last < dedup_ns) {
        key.suppressed += 1;
        return None;
    }
    if rule.last_fired_ns.is_some_and(|last| now - last < cooldown_ns) {
        rule.suppressed += 1;
        return None;
    }
    let suppressed = key.suppressed + rule.suppressed;
    *key = KeyGate { last_fired_ns: Some(now), suppressed: 0 };
    *rule = RuleGate { last_fired_ns: Some(now), suppressed: 0 };
    Some(suppressed)
}

/// Whether a key gate still matters at `now`: a key whose dedup has expired and that has nothing
/// to report can be forgotten.
pub fn is_live(key: &KeyGate, now: i64, dedup_ns: i64) -> bool {
    key.suppressed > 0 || key.last_fired_ns.is_some_and(|last| now - last < dedup_ns)
}

#[cfg(test)]
mod tests {
    use super::{KeyGate, RuleGate, admit, is_live};

    #[test]
    fn dedup_is_per_key_and_counts() {
        let (mut rule, mut a, mut b) = (RuleGate::default(), KeyGate::default(), KeyGate::default());
        assert_eq!(admit(&mut rule, &mut a, 0, 10, 0), Some(0));
        assert_eq!(admit(&mut rule, &mut a, 5, 10, 0), None);
        assert_eq!(admit(&mut rule, &mut a, 9, 10, 0), None);
        assert_eq!(admit(&mut rule, &mut b, 9, 10, 0), Some(0), "other key");
        assert!(is_live(&a, 100, 10), "suppressed triggers still to report");
        assert_eq!(admit(&mut rule, &mut a, 10, 10, 0), Some(2), "dedup is over at exactly 10");
        assert!(!is_live(&a, 20, 10));
    }

    #[test]
    fn cooldown_spans_keys() {
        let (mut rule, mut a, mut b) = (RuleGate::default(), KeyGate::default(), KeyGate::default());
        assert_eq!(admit(&mut rule, &mut a, 0, 0, 10), Some(0));
        assert_eq!(admit(&mut rule, &mut b, 3, 0, 10), None);
        assert_eq!(admit(&mut rule, &mut b, 10, 0, 10), Some(1));
    }
}
