//! The management API's replies, typed, and their human-readable form.
//!
//! The types read only what the summaries show and tolerate fields they do not know, so a newer
//! server still renders. `--json` bypasses all of this and prints the reply as it came.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;

use super::error::ClientError;

/// `GET /api/v1/guests`.
#[derive(Debug, Deserialize)]
pub struct GuestList {
    #[serde(default)]
    pub guests: Vec<GuestEntry>,
    #[serde(default)]
    pub stages: Vec<StageEntry>,
}

#[derive(Debug, Deserialize)]
pub struct GuestEntry {
    pub name: String,
    #[serde(default)]
    pub versions: Vec<VersionEntry>,
}

#[derive(Debug, Deserialize)]
pub struct VersionEntry {
    pub version: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub source: String,
    pub signed_by: Option<String>,
    #[serde(default)]
    pub stats: Stats,
}

/// A version's counters since the server started.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub calls: u64,
    pub events_in: u64,
    pub events_out: u64,
    pub failures: u64,
    pub traps: u64,
    pub p99_call_ms: Option<f64>,
    pub memory_high_water_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct StageEntry {
    pub stage: String,
    pub guest: String,
    pub active: String,
    pub previous: Option<String>,
    pub canary: Option<CanaryReport>,
}

/// A canary's comparison of a candidate version with the active one on live traffic.
#[derive(Debug, Deserialize)]
pub struct CanaryReport {
    pub stage: String,
    pub guest: String,
    pub active: String,
    pub candidate: String,
    pub started_at: Option<String>,
    #[serde(default)]
    pub events: u64,
    /// Events the candidate skipped because it was behind.
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub identical: u64,
    #[serde(default)]
    pub differing: u64,
    #[serde(default)]
    pub candidate_errors: u64,
    /// Why the candidate's last failed call failed, if one did.
    pub last_error: Option<String>,
    #[serde(default)]
    pub diffs: Vec<Diff>,
}

#[derive(Debug, Deserialize)]
pub struct Diff {
    pub event_id: String,
    /// The event's message.
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub active: Value,
    #[serde(default)]
    pub candidate: Value,
}

/// One stage switched to another version (activate, rollback, promote).
#[derive(Debug, Deserialize)]
pub struct Activated {
    pub stage: String,
    pub guest: String,
    pub active: String,
    pub previous: Option<String>,
    pub pause_us: Option<u64>,
}

/// `PUT /api/v1/guests/{name}`.
#[derive(Debug, Deserialize)]
pub struct Pushed {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub size: u64,
    pub signed_by: Option<String>,
    #[serde(default)]
    pub created: bool,
}

/// Reads a reply as `T`, or says what did not fit.
pub fn parse<T: serde::de::DeserializeOwned>(reply: &Value) -> Result<T, ClientError> {
    T::deserialize(reply).map_err(|e| ClientError::Reply(format!("{e}: {reply}")))
}

/// The value under `key` of a reply, read as `T`.
pub fn field<T: serde::de::DeserializeOwned>(reply: &Value, key: &str) -> Result<T, ClientError> {
    let value = reply.get(key).ok_or_else(|| ClientError::Reply(format!("no `{key}` in {reply}")))?;
    parse(value)
}

pub fn pushed(p: &Pushed) -> String {
    let what = if p.created { "pushed" } else { "already stored:" };
    let signed = p.signed_by.as_deref().map(|k| format!(", signed by {k}")).unwrap_or_default();
    format!(
        "{what} {} version {} ({}{signed})\nsha256 {}\nactivate with: sluice guest activate {} {}\n",
        p.name,
        p.version,
        size(p.size),
        p.sha256,
        p.name,
        p.version
    )
}

pub fn list(list: &GuestList) -> String {
    let mut out = String::new();
    let mut guests = Table::new(&[
        "GUEST",
        "VERSION",
        "SOURCE",
        "SIZE",
        "SIGNED BY",
        "CALLS",
        "EVENTS IN",
        "EVENTS OUT",
        "FAILURES",
        "TRAPS",
        "P99",
        "MEMORY",
    ]);
    for guest in &list.guests {
        for v in &guest.versions {
            let s = &v.stats;
            guests.row(vec![
                guest.name.clone(),
                v.version.clone(),
                v.source.clone(),
                size(v.size),
                v.signed_by.clone().unwrap_or_else(|| "-".into()),
                s.calls.to_string(),
                s.events_in.to_string(),
                s.events_out.to_string(),
                s.failures.to_string(),
                s.traps.to_string(),
                // Before the first call there is no latency or memory to speak of.
                s.p99_call_ms.filter(|_| s.calls > 0).map_or_else(|| "-".into(), |ms| format!("{ms:.2} ms")),
                s.memory_high_water_bytes.filter(|_| s.calls > 0).map_or_else(|| "-".into(), size),
            ]);
        }
    }
    if guests.is_empty() {
        out.push_str("no guests\n");
    } else {
        out.push_str(&guests.render());
    }
    if !list.stages.is_empty() {
        let mut stages = Table::new(&["STAGE", "GUEST", "ACTIVE", "PREVIOUS", "CANARY"]);
        for s in &list.stages {
            let canary = s.canary.as_ref().map_or_else(
                || "-".to_string(),
                |c| {
                    format!(
                        "{} ({} events, {} differing, {} errors)",
                        c.candidate, c.events, c.differing, c.candidate_errors
                    )
                },
            );
            stages.row(vec![s.stage.clone(), s.guest.clone(), s.active.clone(), dash(&s.previous), canary]);
        }
        out.push('\n');
        out.push_str(&stages.render());
    }
    out
}

pub fn activated(list: &[Activated]) -> String {
    if list.is_empty() {
        return "no stage changed\n".into();
    }
    let mut out = String::new();
    for a in list {
        let pause = a.pause_us.map(|us| format!(" (paused {us} µs)")).unwrap_or_default();
        let _ =
            writeln!(out, "stage {}: {} now runs {} (was {}){pause}", a.stage, a.guest, a.active, dash(&a.previous));
    }
    out
}

pub fn canaries(reports: &[CanaryReport]) -> String {
    if reports.is_empty() {
        return "no canary running\n".into();
    }
    let mut out = String::new();
    for c in reports {
        let since = c.started_at.as_deref().map(|t| format!(" since {t}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "stage {}: {} candidate {} against active {}{since}",
            c.stage, c.guest, c.candidate, c.active
        );
        let _ = writeln!(
            out,
            "  events {}, identical {}, differing {}, candidate errors {}",
            c.events, c.identical, c.differing, c.candidate_errors
        );
        if c.skipped > 0 {
            let _ = writeln!(out, "  skipped {} events while the candidate was behind", c.skipped);
        }
        if let Some(error) = &c.last_error {
            let _ = writeln!(out, "  candidate's last error: {error}");
        }
        for d in &c.diffs {
            let _ = writeln!(out, "  event {} {}", d.event_id, Value::from(d.message.as_str()));
            let _ = writeln!(out, "    active:    {}", d.active);
            let _ = writeln!(out, "    candidate: {}", d.candidate);
        }
    }
    out
}

pub fn discarded(stages: &[String]) -> String {
    if stages.is_empty() {
        "no canary to discard\n".into()
    } else {
        format!("discarded the canary on {}\n", stages.join(", "))
    }
}

/// `POST /api/v1/reload`: says so, with the changes the server reported (`stages_kept: [..]`
/// becomes `stages kept: a, b`), and anything else it said as it came.
pub fn reloaded(reply: &Value) -> String {
    let mut out = String::from("reloaded\n");
    let fields = reply.as_object().into_iter().flatten().filter(|(k, _)| k.as_str() != "reloaded");
    for (key, value) in fields {
        match value.as_object() {
            Some(changes) if key == "changes" => {
                for (kind, names) in changes {
                    let names: Vec<String> = match names.as_array() {
                        Some(list) => {
                            list.iter().map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_owned)).collect()
                        }
                        None => vec![names.to_string()],
                    };
                    if !names.is_empty() {
                        let _ = writeln!(out, "  {}: {}", kind.replace('_', " "), names.join(", "));
                    }
                }
            }
            _ => {
                let _ = writeln!(out, "  {key}: {value}");
            }
        }
    }
    out
}

fn dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

/// Bytes the way people read them.
fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

/// Left-aligned columns, two spaces apart, sized to their widest cell.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|h| (*h).to_string()).collect(), rows: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:<width$}  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Activated, CanaryReport, GuestList, activated, canaries, list, parse, reloaded, size};

    #[test]
    fn the_list_is_two_aligned_tables() {
        let reply = json!({
            "guests": [{"name": "mine", "versions": [{
                "version": "3f2a1b4c5d6e", "sha256": "3f2a", "size": 183_500, "source": "builtin",
                "added_at": "2025-01-01T00:00:00Z", "signed_by": null,
                "stats": {"calls": 12, "events_in": 3400, "events_out": 3400, "failures": 1, "traps": 0,
                          "p99_call_ms": 0.734, "memory_high_water_bytes": 2_097_152}
            }]}],
            "stages": [{"stage": "mine", "guest": "mine", "active": "3f2a1b4c5d6e", "previous": null, "canary": null}],
            "later": "fields are ignored"
        });
        let text = list(&parse::<GuestList>(&reply).expect("parse"));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("GUEST  VERSION       SOURCE   SIZE       SIGNED BY  CALLS"), "{text}");
        assert!(lines[1].starts_with("mine   3f2a1b4c5d6e  builtin  179.2 KiB  -          12"), "{text}");
        assert!(lines[1].ends_with("0.73 ms  2.0 MiB"), "{text}");
        assert_eq!(lines[3], "STAGE  GUEST  ACTIVE        PREVIOUS  CANARY");
        assert_eq!(lines[4], "mine   mine   3f2a1b4c5d6e  -         -");
        assert_eq!(list(&parse::<GuestList>(&json!({"guests": [], "stages": []})).expect("empty")), "no guests\n");
    }

    #[test]
    fn switches_and_canaries_read_as_sentences() {
        let a: Vec<Activated> = parse(&json!([
            {"stage": "s", "guest": "g", "active": "bbbbbbbbbbbb", "previous": "aaaaaaaaaaaa", "pause_us": 42}
        ]))
        .expect("parse");
        assert_eq!(activated(&a), "stage s: g now runs bbbbbbbbbbbb (was aaaaaaaaaaaa) (paused 42 µs)\n");
        let c: Vec<CanaryReport> = parse(&json!([{
            "stage": "s", "guest": "g", "active": "a", "candidate": "b", "started_at": "t0",
            "events": 10, "skipped": 3, "identical": 9, "differing": 1, "candidate_errors": 0,
            "diffs": [{"event_id": "e1", "message": "m", "active": "keep", "candidate": {"fail": "no"}}]
        }]))
        .expect("parse");
        let text = canaries(&c);
        assert!(text.contains("events 10, identical 9, differing 1, candidate errors 0"), "{text}");
        assert!(text.contains("skipped 3 events while the candidate was behind"), "{text}");
        assert!(text.contains("  event e1 \"m\"\n    active:    \"keep\"\n    candidate: {\"fail\":\"no\"}"), "{text}");
        let reload = json!({"reloaded": true, "changes": {"stages_kept": ["a", "b"], "stages_added": []}});
        assert_eq!(reloaded(&reload), "reloaded\n  stages kept: a, b\n");
        assert_eq!(size(512), "512 B");
    }
}
