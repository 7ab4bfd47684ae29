//! Mines the Loghub-2k benchmark datasets and writes one `<Name>.csv` (`LineId,EventTemplate`)
//! per dataset, for the benchmark's `evaluate.py`.
//!
//! ```sh
//! cargo run --release --target-dir ../target/guests -p mine --example loghub -- <loghub dir> <out dir>
//! ```
//!
//! Each dataset folder holds `<Name>_2k.log` and `settings.json`; only its `log_format` is used, to
//! cut the `<Content>` field out of each line (a line the format does not match is mined whole).
//! One miner with default settings per dataset, fed the lines in order; every line then reports
//! the final template of the pattern it joined, after merges. An optional third argument, a
//! stage config as JSON (`{"min_variable_values": 4}`), replaces the defaults, to see how much
//! the figures depend on them.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use mine::{Miner, Settings};
use regex::Regex;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: loghub <loghub dir> <out dir> [config json]".into());
    };
    let settings = Settings::from_json(&args.next().unwrap_or_default())?;
    std::fs::create_dir_all(&out)?;
    let mut names: Vec<String> = std::fs::read_dir(&root)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| Path::new(&root).join(name).join(format!("{name}_2k.log")).is_file())
        .collect();
    names.sort();
    let (mut lines, mut mining) = (0usize, Duration::ZERO);
    for name in &names {
        let (n, elapsed) = run(Path::new(&root), name, Path::new(&out), &settings)?;
        lines += n;
        mining += elapsed;
    }
    #[allow(clippy::cast_precision_loss, reason = "report only")]
    let rate = lines as f64 / mining.as_secs_f64();
    eprintln!("{lines} lines mined in {mining:?}: {rate:.0} lines/s (header cutting excluded)");
    Ok(())
}

/// Mines one dataset; returns its line count and the time spent mining.
fn run(root: &Path, name: &str, out: &Path, settings: &Settings) -> Result<(usize, Duration), Box<dyn Error>> {
    let dir = root.join(name);
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json"))?)?;
    let format = meta.get("log_format").and_then(serde_json::Value::as_str).ok_or("settings.json: no log_format")?;
    let pattern = format_regex(format)?;
    let text = std::fs::read_to_string(dir.join(format!("{name}_2k.log")))?;
    let contents: Vec<&str> = text
        .lines()
        .map(|line| pattern.captures(line).and_then(|c| c.name("Content")).map_or(line, |m| m.as_str()))
        .collect();

    let mut miner = Miner::new(settings.clone());
    let start = Instant::now();
    let indices: Vec<u32> = contents.iter().map(|content| miner.observe(content, 0)).collect();
    let elapsed = start.elapsed();

    let mut csv = String::from("LineId,EventTemplate\n");
    for (line, &index) in indices.iter().enumerate() {
        let template = miner.final_cluster(index).map_or("", |c| c.template.as_str());
        writeln!(csv, "{},\"{}\"", line + 1, template.replace('"', "\"\""))?;
    }
    std::fs::write(out.join(format!("{name}.csv")), csv)?;
    Ok((contents.len(), elapsed))
}

/// The regex of a Loghub `log_format`: each `<Field>` a non-greedy named group, runs of spaces
/// `\s+`, the rest taken as regex text (the formats escape their brackets), anchored at both ends.
fn format_regex(format: &str) -> Result<Regex, regex::Error> {
    let mut pattern = String::from("^");
    let mut rest = format;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else { break };
        push_literal(&mut pattern, &rest[..open]);
        let field = &rest[open + 1..close];
        let _ = write!(pattern, "(?P<{field}>.*?)");
        rest = &rest[close + 1..];
    }
    push_literal(&mut pattern, rest);
    pattern.push('$');
    Regex::new(&pattern)
}

fn push_literal(pattern: &mut String, literal: &str) {
    let mut spaces = false;
    for c in literal.chars() {
        if c == ' ' {
            if !spaces {
                pattern.push_str(r"\s+");
            }
            spaces = true;
        } else {
            spaces = false;
            pattern.push(c);
        }
    }
}
