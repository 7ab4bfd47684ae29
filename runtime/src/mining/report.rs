//! What `sluice mine` prints: the patterns by size, and how fast the guest went.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// One pattern of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSummary {
    pub id: String,
    pub template: String,
    pub count: usize,
}

/// The result of mining one file.
#[derive(Debug, Clone)]
pub struct Summary {
    pub lines: usize,
    /// Lines the format did not match (mined whole).
    pub unmatched: usize,
    /// Patterns by line count, largest first.
    pub patterns: Vec<PatternSummary>,
    /// Where the run's time went.
    pub times: Times,
}

/// Where the time of a run went.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    /// In the guest's `process` calls, boundary crossing included.
    pub calls: Duration,
    /// Of that, in the guest's own code (with `--split-time`).
    pub code: Option<Duration>,
    /// The whole run: reading, compiling or loading the guest, mining.
    pub total: Duration,
}

impl Summary {
    pub fn new(
        line_ids: &[String],
        templates: &HashMap<Arc<str>, Arc<str>>,
        unmatched: usize,
        times: Times,
    ) -> Summary {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in line_ids {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let mut patterns: Vec<PatternSummary> = counts
            .into_iter()
            .map(|(id, count)| PatternSummary {
                id: id.to_string(),
                template: templates.get(id).map(|t| t.to_string()).unwrap_or_default(),
                count,
            })
            .collect();
        patterns.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        Summary { lines: line_ids.len(), unmatched, patterns, times }
    }

    /// Lines per second through whole guest calls.
    pub fn guest_rate(&self) -> f64 {
        self.rate(self.times.calls)
    }

    fn rate(&self, time: Duration) -> f64 {
        self.lines as f64 / time.as_secs_f64().max(1e-9)
    }

    /// The human-readable report, with the `top` largest patterns.
    pub fn render(&self, top: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} lines, {} patterns ({} lines did not match the format and were mined whole)",
            self.lines,
            self.patterns.len(),
            self.unmatched
        );
        let _ = writeln!(
            out,
            "guest: {:.0} lines/s ({:.3} s in process calls); whole run {:.3} s",
            self.guest_rate(),
            self.times.calls.as_secs_f64(),
            self.times.total.as_secs_f64()
        );
        if let Some(code) = self.times.code {
            let crossing = self.times.calls.saturating_sub(code);
            let _ = writeln!(
                out,
                "guest code: {:.0} lines/s ({:.3} s in WebAssembly; {:.3} s crossing the boundary on the host side)",
                self.rate(code),
                code.as_secs_f64(),
                crossing.as_secs_f64()
            );
        }
        let shown = top.min(self.patterns.len());
        if shown > 0 {
            let _ = writeln!(out, "\n{:>8}  {:>6}  {:<16}  template", "lines", "share", "pattern");
        }
        for p in self.patterns.iter().take(shown) {
            let share = 100.0 * p.count as f64 / self.lines.max(1) as f64;
            let _ = writeln!(out, "{:>8}  {:>5.1}%  {:<16}  {}", p.count, share, p.id, p.template);
        }
        if self.patterns.len() > shown {
            let _ = writeln!(out, "… and {} smaller patterns", self.patterns.len() - shown);
        }
        out
    }
}
