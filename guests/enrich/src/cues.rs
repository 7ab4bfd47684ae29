//! Message cues: words in a pattern's template or samples that say more than its level does.
//!
//! A line logged at INFO that says "payment declined" or "connection refused" deserves more
//! attention than its level suggests. The offline analysis looks for the cues of [`CUES`] and
//! raises the severity to the highest one found (it never lowers it), and the cue's [`Kind`]
//! names a likely cause and a first action. Everything the analysis knows about words is in this
//! one table, so extending it is a one-line change.
//!
//! A cue matches at the start of a word, in any case, and may be followed by more letters:
//! `corrupt` matches "corrupted" and "corruption", `oom` matches "OOMKilled" but not "room".

use crate::level::Severity;

/// What a family of cues points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Crash,
    Memory,
    Disk,
    Corruption,
    Deadlock,
    Access,
    Connectivity,
    Timeout,
    Failure,
    Rejection,
}

impl Kind {
    /// A short guess at the cause, for the insight's `cause`.
    pub const fn cause(self) -> &'static str {
        match self {
            Self::Crash => "the process crashed or aborted",
            Self::Memory => "memory exhaustion",
            Self::Disk => "the disk or volume is full",
            Self::Corruption => "corrupted data",
            Self::Deadlock => "a lock deadlock between concurrent operations",
            Self::Access => "missing or invalid credentials or permissions",
            Self::Connectivity => "a peer service is down or unreachable",
            Self::Timeout => "a slow or unresponsive dependency",
            Self::Failure => "an operation failed",
            Self::Rejection => "requests rejected by a validation or business rule",
        }
    }

    /// A first thing to check, for the insight's `action`.
    pub const fn action(self) -> &'static str {
        match self {
            Self::Crash => "Inspect the crash (stack trace, core dump) and recent deploys of the source.",
            Self::Memory => "Check the process's memory limit and usage; look for leaks or oversized requests.",
            Self::Disk => "Free disk space or grow the volume; check log rotation and retention.",
            Self::Corruption => "Check the integrity of the data involved; restore it from a good copy if needed.",
            Self::Deadlock => "Inspect lock ordering in the transactions involved.",
            Self::Access => "Check the caller's credentials, tokens and permissions.",
            Self::Connectivity => "Check that the target service is up and reachable (network, DNS, ports).",
            Self::Timeout => "Check the latency and health of the dependency being waited on.",
            Self::Failure => "Read the sample messages for the failing operation and its error details.",
            Self::Rejection => "Check the rule that rejects these requests and whether the callers changed.",
        }
    }
}

/// One cue: the word (lower case), the severity it raises an insight to, and what it points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cue {
    pub word: &'static str,
    pub severity: Severity,
    pub kind: Kind,
}

const fn cue(word: &'static str, severity: Severity, kind: Kind) -> Cue {
    Cue { word, severity, kind }
}

/// The cue table, most serious first (the first match decides `cause` and `action`).
pub const CUES: &[Cue] = &[
    cue("fatal", Severity::Critical, Kind::Crash),
    cue("panic", Severity::Critical, Kind::Crash),
    cue("segfault", Severity::Critical, Kind::Crash),
    cue("segmentation fault", Severity::Critical, Kind::Crash),
    cue("core dumped", Severity::Critical, Kind::Crash),
    cue("out of memory", Severity::Critical, Kind::Memory),
    cue("oom", Severity::Critical, Kind::Memory),
    cue("disk full", Severity::Critical, Kind::Disk),
    cue("no space left", Severity::Critical, Kind::Disk),
    cue("corrupt", Severity::Critical, Kind::Corruption),
    cue("data loss", Severity::Critical, Kind::Corruption),
    cue("deadlock", Severity::Critical, Kind::Deadlock),
    cue("crash", Severity::Error, Kind::Crash),
    cue("exception", Severity::Error, Kind::Failure),
    cue("traceback", Severity::Error, Kind::Failure),
    cue("unauthorized", Severity::Error, Kind::Access),
    cue("unauthorised", Severity::Error, Kind::Access),
    cue("forbidden", Severity::Error, Kind::Access),
    cue("denied", Severity::Error, Kind::Access),
    cue("refused", Severity::Error, Kind::Connectivity),
    cue("unreachable", Severity::Error, Kind::Connectivity),
    cue("connection reset", Severity::Error, Kind::Connectivity),
    cue("timeout", Severity::Warning, Kind::Timeout),
    cue("timed out", Severity::Warning, Kind::Timeout),
    cue("failed", Severity::Warning, Kind::Failure),
    cue("failure", Severity::Warning, Kind::Failure),
    cue("unavailable", Severity::Warning, Kind::Connectivity),
    cue("declined", Severity::Warning, Kind::Rejection),
    cue("rejected", Severity::Warning, Kind::Rejection),
    cue("invalid", Severity::Warning, Kind::Rejection),
];

/// The cues found in `texts`, in table order, each once.
pub fn find(texts: &[&str]) -> Vec<&'static Cue> {
    let lowered: Vec<String> = texts.iter().map(|t| t.to_lowercase()).collect();
    CUES.iter().filter(|cue| lowered.iter().any(|text| starts_a_word(text, cue.word))).collect()
}

/// Whether `word` occurs in `text` at the start of a word.
fn starts_a_word(text: &str, word: &str) -> bool {
    text.match_indices(word)
        .any(|(at, _)| text[..at].chars().next_back().is_none_or(|before| !before.is_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::{Kind, find};

    fn words(texts: &[&str]) -> Vec<&'static str> {
        find(texts).iter().map(|c| c.word).collect()
    }

    #[test]
    fn cues_match_at_word_starts() {
        assert_eq!(words(&["payment <*> declined"]), ["declined"]);
        assert_eq!(words(&["Container OOMKilled"]), ["oom"]);
        assert!(words(&["room booked"]).is_empty());
        assert_eq!(words(&["table corrupted", "Connection REFUSED"]), ["corrupt", "refused"]);
        assert_eq!(words(&["request timed out after 30s"]), ["timed out"]);
        assert!(words(&["everything fine"]).is_empty());
        assert_eq!(find(&["kernel: Out of memory"])[0].kind, Kind::Memory);
    }
}
