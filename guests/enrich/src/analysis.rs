//! The offline analysis: an insight computed from what this stage knows, without a model.
//!
//! It is the pattern's insight from its first event on, and stays so whenever no model answer is
//! available (no endpoint, budget spent, call failed, level below `min_level`...), with the
//! reason in `fallback_reason`. Its parts:
//! - `severity`: the level's severity, raised (never lowered) to the highest message cue found in
//!   the template and samples (table in `cues.rs`); the summary names the cue that raised it;
//! - `cause` and `action`: from the leading cue's kind; without a cue, from the severity and the
//!   burst;
//! - `novel`, `rare`, `burst`: read from the pattern's activity (see `activity.rs`).

use crate::activity::Rate;
use crate::cues::{self, Cue};
use crate::insight::truncate;
use crate::level::{Level, Severity};

/// Longest template quoted in a summary, in bytes.
const MAX_QUOTED_TEMPLATE: usize = 160;

/// What the analysis reads about a pattern.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub template: &'a str,
    pub level: Level,
    pub source: Option<&'a str>,
    pub samples: &'a [String],
    pub novel: bool,
    /// The pattern's share of all events, when it counts as rare.
    pub rare: Option<f64>,
    pub burst: Option<Rate>,
}

/// The offline analysis of one pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub severity: Severity,
    pub cues: Vec<&'static Cue>,
    pub summary: String,
    pub cause: Option<&'static str>,
    pub action: String,
}

/// The cues in a pattern's template and samples.
pub fn cues_of(template: &str, samples: &[String]) -> Vec<&'static Cue> {
    let texts: Vec<&str> = std::iter::once(template).chain(samples.iter().map(String::as_str)).collect();
    cues::find(&texts)
}

/// Analyses a pattern.
pub fn analyse(facts: &Facts<'_>) -> Analysis {
    let cues = cues_of(facts.template, facts.samples);
    let base = Severity::of_level(facts.level);
    // The table is ordered most serious first, so the first cue found is the strongest.
    let strongest = cues.first().copied().filter(|c| c.severity > base);
    let severity = strongest.map_or(base, |c| c.severity);

    let mut summary = format!(
        "{}{} pattern{}: '{}'",
        if facts.novel { "New " } else { "" },
        facts.level.as_str(),
        facts.source.map(|s| format!(" from {}", truncate(s, 80))).unwrap_or_default(),
        truncate(facts.template, MAX_QUOTED_TEMPLATE),
    );
    if !cues.is_empty() {
        let words: Vec<&str> = cues.iter().map(|c| c.word).collect();
        summary.push_str(&format!("; matched cues: {}", words.join(", ")));
    }
    if let Some(cue) = strongest {
        summary.push_str(&format!(
            "; severity raised from {} to {} by '{}'",
            base.as_str(),
            severity.as_str(),
            cue.word
        ));
    }
    summary.push('.');
    if let Some(rate) = facts.burst {
        summary.push_str(&format!(
            " Bursting: {} events in the last minute against {:.1} per minute before.",
            rate.current, rate.average
        ));
    }
    if let Some(share) = facts.rare {
        summary.push_str(&format!(" Rare: {:.3}% of the events seen.", share * 100.0));
    }

    let leading = cues.first().copied();
    let mut action = match leading {
        Some(cue) => cue.kind.action().to_owned(),
        None => match severity {
            Severity::Critical | Severity::Error => {
                "Read the sample messages and check recent changes to the source.".to_owned()
            }
            Severity::Warning => "Watch its rate and act if it grows.".to_owned(),
            Severity::Info => "No action needed unless its rate changes.".to_owned(),
        },
    };
    if facts.burst.is_some() {
        action.push_str(" Find what caused the sudden increase (deploy, traffic spike, retry storm).");
    }
    Analysis { severity, cause: leading.map(|c| c.kind.cause()), cues, summary, action }
}

#[cfg(test)]
mod tests {
    use super::{Facts, analyse};
    use crate::activity::Rate;
    use crate::level::{Level, Severity};

    fn facts<'a>(template: &'a str, level: Level, samples: &'a [String]) -> Facts<'a> {
        Facts { template, level, source: Some("billing"), samples, novel: true, rare: None, burst: None }
    }

    #[test]
    fn cues_raise_severity_and_say_so() {
        let a = analyse(&facts("payment <*> declined", Level::Info, &[]));
        assert_eq!(a.severity, Severity::Warning);
        assert_eq!(
            a.summary,
            "New INFO pattern from billing: 'payment <*> declined'; matched cues: declined; severity raised \
             from info to warning by 'declined'."
        );
        assert_eq!(a.cause, Some("requests rejected by a validation or business rule"));

        let samples = ["worker killed: out of memory".to_owned()];
        let a = analyse(&facts("worker killed: <*>", Level::Error, &samples));
        assert_eq!(a.severity, Severity::Critical, "the sample's cue counts");
        assert!(a.action.contains("memory"), "{}", a.action);
    }

    #[test]
    fn level_is_never_lowered_and_no_cue_means_no_cause() {
        let a = analyse(&facts("request <*> timed out", Level::Critical, &[]));
        assert_eq!(a.severity, Severity::Critical);
        assert!(!a.summary.contains("raised"), "{}", a.summary);
        let a = analyse(&facts("user <*> logged in", Level::Info, &[]));
        assert_eq!((a.severity, a.cause, a.cues.len()), (Severity::Info, None, 0));
        assert_eq!(a.action, "No action needed unless its rate changes.");
    }

    #[test]
    fn burst_and_rarity_are_described() {
        let mut f = facts("cache miss <*>", Level::Debug, &[]);
        f.novel = false;
        f.burst = Some(Rate { current: 120, average: 4.0 });
        f.rare = Some(0.0005);
        let a = analyse(&f);
        assert!(a.summary.starts_with("DEBUG pattern"), "{}", a.summary);
        assert!(a.summary.contains("120 events in the last minute against 4.0 per minute"), "{}", a.summary);
        assert!(a.summary.contains("Rare: 0.050%"), "{}", a.summary);
        assert!(a.action.contains("sudden increase"), "{}", a.action);
    }
}
