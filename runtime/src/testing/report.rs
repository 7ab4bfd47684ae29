//! The results of a run and how they read: one line per case, and for each failed expectation
//! the file, case, entry, every differing path with `expected … got …`, what the record actually
//! became (the events as pretty JSON, or the dead letters' stage and reason), and every signal
//! emitted meanwhile (one compact JSON body per line, numbered as the mismatches name them).
//!
//! Only formatting lives here; what counts as a failure is decided in `expect`.

use std::fmt;
use std::path::PathBuf;

use super::expect::{Mismatch, Observed};
use super::view::Stored;
use crate::config::testcase::signals::kind_name;

/// The results of one pipeline file's test cases.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub file: PathBuf,
    pub cases: Vec<CaseReport>,
}

/// The result of one test case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    pub name: String,
    /// Why the case could not run at all, e.g. a guest's `init` refused its config.
    pub setup_error: Option<String>,
    /// The expectations that did not hold, in the order written.
    pub failures: Vec<Failure>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The entry of `input` (0-based).
    pub input: usize,
    /// Whether that entry is a tick rather than a record.
    pub tick: bool,
    /// Whether the expectation checked signals, so that "none emitted" is worth saying.
    pub signals_checked: bool,
    /// Every difference found.
    pub mismatches: Vec<Mismatch>,
    /// What the record actually became.
    pub observed: Observed,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.setup_error.is_none() && self.failures.is_empty()
    }
}

impl FileReport {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for case in &self.cases {
            if case.passed() {
                writeln!(f, "ok   {file}: {}", case.name)?;
                continue;
            }
            writeln!(f, "FAIL {file}: {}", case.name)?;
            if let Some(error) = &case.setup_error {
                writeln!(f, "  cannot run: {error}")?;
            }
            for failure in &case.failures {
                write_failure(f, failure)?;
            }
        }
        Ok(())
    }
}

fn write_failure(f: &mut fmt::Formatter<'_>, failure: &Failure) -> fmt::Result {
    let tick = if failure.tick { " (tick)" } else { "" };
    writeln!(f, "  input {}{tick}:", failure.input)?;
    for m in &failure.mismatches {
        match &m.path {
            Some(path) => writeln!(f, "    {path}: expected {}, got {}", m.expected, m.got)?,
            None => writeln!(f, "    expected {}, got {}", m.expected, m.got)?,
        }
    }
    let observed = &failure.observed;
    write_signals(f, failure)?;
    // Nothing to show for a record that became nothing: the mismatch already says so.
    if observed.events.is_empty() && observed.dead_letters.is_empty() {
        return Ok(());
    }
    writeln!(f, "    actual:")?;
    for event in &observed.events {
        write_indented(f, &Stored::of(event).pretty(), 6)?;
    }
    for dead in &observed.dead_letters {
        writeln!(
            f,
            "      dead letter from stage `{}` ({}@{}): {}",
            dead.stage, dead.guest, dead.guest_version, dead.reason
        )?;
        writeln!(f, "      the event it gave up on:")?;
        write_indented(f, &Stored::of(&dead.event).pretty(), 8)?;
    }
    Ok(())
}

/// Every signal the entry caused, as `[i] kind from stage `s`: {body}`.
fn write_signals(f: &mut fmt::Formatter<'_>, failure: &Failure) -> fmt::Result {
    let signals = &failure.observed.signals;
    if signals.is_empty() {
        return if failure.signals_checked { writeln!(f, "    signals emitted: none") } else { Ok(()) };
    }
    writeln!(f, "    signals emitted:")?;
    for (i, signal) in signals.iter().enumerate() {
        let body = serde_json::to_string(&signal.body).unwrap_or_else(|e| format!("(cannot show the body: {e})"));
        writeln!(f, "      [{i}] {} from stage `{}`: {body}", kind_name(signal.kind), signal.stage)?;
    }
    Ok(())
}

fn write_indented(f: &mut fmt::Formatter<'_>, text: &str, indent: usize) -> fmt::Result {
    for line in text.lines() {
        writeln!(f, "{:indent$}{line}", "")?;
    }
    Ok(())
}

/// Totals over every file of a run, printed last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Files that could not be run: unreadable, invalid, without tests, or a guest that would
    /// not load.
    pub unrunnable: usize,
}

impl Summary {
    pub fn add(&mut self, report: &FileReport) {
        self.passed += report.passed();
        self.failed += report.failed();
    }

    pub fn ok(&self) -> bool {
        self.failed == 0 && self.unrunnable == 0 && self.passed > 0
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        match self.unrunnable {
            0 => Ok(()),
            1 => write!(f, ", 1 file could not run"),
            n => write!(f, ", {n} files could not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DeadLetter, Event, Signal, SignalKind};

    #[test]
    fn a_failure_reads_as_a_diff() {
        let mut event = Event::received("e1".into(), 1, "http".into(), "raw".into());
        event.message = "User 1 logged in".into();
        let dead = DeadLetter {
            event: event.clone(),
            stage: "loop".into(),
            guest: "hostile".into(),
            guest_version: "abc".into(),
            reason: "deadline of 300ms exceeded".into(),
            failed_ns: 1,
        };
        let mut body = serde_json::Map::new();
        body.insert("rule".into(), "payment-errors".into());
        body.insert("severity".into(), "warning".into());
        let alert = Signal { stage: "alert".into(), kind: SignalKind::Alert, body, emitted_ns: 1 };
        let report = FileReport {
            file: "p.yaml".into(),
            cases: vec![
                CaseReport { name: "fine".into(), setup_error: None, failures: vec![] },
                CaseReport {
                    name: "wrong".into(),
                    setup_error: None,
                    failures: vec![
                        Failure {
                            input: 0,
                            tick: false,
                            signals_checked: false,
                            mismatches: vec![Mismatch {
                                path: Some("level".into()),
                                expected: "\"ERROR\"".into(),
                                got: "\"INFO\"".into(),
                            }],
                            observed: Observed { events: vec![event], ..Observed::default() },
                        },
                        Failure {
                            input: 1,
                            tick: false,
                            signals_checked: false,
                            mismatches: vec![Mismatch {
                                path: None,
                                expected: "one event".into(),
                                got: "dead-lettered by stage `loop`".into(),
                            }],
                            observed: Observed { dead_letters: vec![dead], ..Observed::default() },
                        },
                        Failure {
                            input: 2,
                            tick: true,
                            signals_checked: true,
                            mismatches: vec![Mismatch {
                                path: Some("signals[0].body.severity".into()),
                                expected: "\"critical\"".into(),
                                got: "\"warning\"".into(),
                            }],
                            observed: Observed { signals: vec![alert], ..Observed::default() },
                        },
                        Failure {
                            input: 3,
                            tick: false,
                            signals_checked: true,
                            mismatches: vec![Mismatch {
                                path: Some("signals[0]".into()),
                                expected: "an `alert` signal".into(),
                                got: "no `alert` signal among 0 signals".into(),
                            }],
                            observed: Observed::default(),
                        },
                    ],
                },
            ],
        };
        let text = report.to_string();
        let start = concat!(
            "ok   p.yaml: fine\n",
            "FAIL p.yaml: wrong\n",
            "  input 0:\n",
            "    level: expected \"ERROR\", got \"INFO\"\n",
            "    actual:\n",
            "      {\n",
        );
        assert!(text.starts_with(start), "{text}");
        assert!(text.contains("\n        \"message\": \"User 1 logged in\",\n"), "{text}");
        assert!(text.contains("  input 1:\n    expected one event, got dead-lettered by stage `loop`\n"), "{text}");
        assert!(
            text.contains("      dead letter from stage `loop` (hostile@abc): deadline of 300ms exceeded\n"),
            "{text}"
        );
        let tick = concat!(
            "  input 2 (tick):\n",
            "    signals[0].body.severity: expected \"critical\", got \"warning\"\n",
            "    signals emitted:\n",
            "      [0] alert from stage `alert`: {\"rule\":\"payment-errors\",\"severity\":\"warning\"}\n",
            "  input 3:\n",
            "    signals[0]: expected an `alert` signal, got no `alert` signal among 0 signals\n",
            "    signals emitted: none\n",
        );
        assert!(text.ends_with(tick), "{text}");
        assert_eq!((report.passed(), report.failed()), (1, 1));
        let mut summary = Summary::default();
        summary.add(&report);
        assert_eq!(summary.to_string(), "1 passed, 1 failed");
        assert!(!summary.ok());
        summary.unrunnable = 2;
        assert_eq!(summary.to_string(), "1 passed, 1 failed, 2 files could not run");
    }
}
