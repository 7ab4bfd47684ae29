//! The `sluice mine` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{MineOptions, run, write_csv};

/// Mines a log file with the real mining guest and prints the patterns it found.
#[derive(Debug, clap::Args)]
pub struct MineArgs {
    /// The log file, one record per line.
    pub file: PathBuf,
    /// Log format, e.g. '<Date> <Time> <Level> <Component>: <Content>': each `<Field>` is a
    /// non-greedy group, runs of spaces match any whitespace, the rest is a regular expression;
    /// only `<Content>` is mined. Without it every line is mined whole.
    #[arg(long)]
    pub format: Option<String>,
    /// Write `LineId,EventTemplate` CSV here (LineId is the 1-based line number).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The guest's config as JSON, e.g. '{"max_samples": 5}'.
    #[arg(long, default_value = "{}")]
    pub config: String,
    /// A mining component (.wasm) to use instead of the built-in `mine`.
    #[arg(long)]
    pub guest: Option<PathBuf>,
    /// Lines per guest call.
    #[arg(long, default_value_t = 4096)]
    pub batch: usize,
    /// Patterns listed in the summary.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Also report the time in the guest's own code apart from the boundary crossing; timing
    /// every crossing slows the calls a little.
    #[arg(long)]
    pub split_time: bool,
    /// Directory of guests precompiled for this binary (as for `sluice run`).
    #[arg(long, env = "SLUICE_PRECOMPILED_DIR")]
    pub precompiled: Option<PathBuf>,
}

pub fn main(args: MineArgs) -> ExitCode {
    let options = MineOptions {
        file: args.file,
        format: args.format,
        config: args.config,
        guest: args.guest,
        batch: args.batch,
        cache_dir: cache_dir(),
        split_time: args.split_time,
        precompiled_dir: args.precompiled,
    };
    let (summary, line_ids) = match run(&options) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(out) = &args.out
        && let Err(e) = write_csv(out, &line_ids, &summary)
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    print!("{}", summary.render(args.top));
    ExitCode::SUCCESS
}

/// The compile cache: the user's cache directory, so a second run does not compile again.
fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("sluice").join("compiled")
}
