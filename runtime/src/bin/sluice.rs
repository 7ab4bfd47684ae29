//! The `sluice` command: parses flags and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sluice::config::Pipeline;
use sluice::{Server, ServerOptions};

#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "A WebAssembly-extensible log stream processor")]
struct Cli {
    /// Log filter, `RUST_LOG` syntax (e.g. `info`, `sluice=debug`).
    #[arg(long, env = "SLUICE_LOG", default_value = "info", global = true)]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a pipeline until SIGINT/SIGTERM.
    Run {
        /// The pipeline file.
        #[arg(default_value = "pipelines/default.yaml")]
        pipeline: PathBuf,
        /// Address the HTTP server (ingest, API, dashboard) listens on.
        #[arg(long = "http", env = "SLUICE_HTTP_ADDR", default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Directory for the store, the journal and the compile cache.
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// File holding the store's encryption key (alternatively `SLUICE_DB_KEY`).
        #[arg(long, env = "SLUICE_DB_KEY_FILE")]
        db_key_file: Option<PathBuf>,
        /// Longest a graceful shutdown waits for the pipeline to drain.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        shutdown_timeout: Duration,
        /// File holding the bearer token the management API requires (alternatively
        /// `SLUICE_API_TOKEN`). Without one, the management API answers on loopback only.
        #[arg(long, env = "SLUICE_API_TOKEN_FILE")]
        api_token_file: Option<PathBuf>,
        /// File of trusted ed25519 public keys, one base64 key a line (alternatively
        /// `SLUICE_TRUSTED_KEYS`, comma-separated). With keys, every uploaded guest must be signed.
        #[arg(long, env = "SLUICE_TRUSTED_KEYS_FILE")]
        trusted_keys_file: Option<PathBuf>,
        /// Directory of guests precompiled for this binary by `sluice guest precompile`
        /// (`<sha256>.cwasm`). A runtime-only build (no `compiler` feature) runs only these.
        #[arg(long, env = "SLUICE_PRECOMPILED_DIR")]
        precompiled: Option<PathBuf>,
        /// Page cache of each of the store's reader connections, in MiB; the writer's is 8 times as
        /// large (docs/EDGE.md).
        #[arg(long, env = "SLUICE_STORE_CACHE_MIB", default_value_t = sluice::server::DEFAULT_STORE_CACHE_MIB,
              value_parser = clap::value_parser!(u32).range(1..=4096))]
        store_cache_mib: u32,
        /// When an ingest request is acknowledged: `synced` once its events are synced to disk
        /// (they survive `kill -9` and a power cut); `written` once they are written to the
        /// journal file, which is synced every 50 ms (they survive `kill -9` of Sluice, not a power
        /// cut in those 50 ms).
        #[arg(long, env = "SLUICE_ACK", value_enum, default_value_t = sluice::journal::Ack::Synced)]
        ack: sluice::journal::Ack,
    },
    /// Validates a pipeline file; errors name the file, line and key.
    Check { pipeline: PathBuf },
    /// Runs the test cases of pipeline files against the real guests under their real limits.
    Test {
        /// Pipeline files whose `tests:` to run.
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
        /// Data directory of a server whose uploaded guests the pipelines name.
        #[arg(long, env = "SLUICE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Directory of guests precompiled for this binary (as for `sluice run`).
        #[arg(long, env = "SLUICE_PRECOMPILED_DIR")]
        precompiled: Option<PathBuf>,
    },
    /// Manages guests: scaffold, sign, push, list, activate, roll back and canary.
    Guest {
        #[command(subcommand)]
        command: sluice::client::GuestCommand,
    },
    /// Mines a log file's message patterns with the real mining guest; writes
    /// `LineId,EventTemplate` CSV with `--out`.
    Mine(sluice::mining::cli::MineArgs),
    /// Asks a running Sluice to reload its pipeline file.
    Reload {
        #[command(flatten)]
        server: sluice::client::ServerArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sluice::telemetry::init_logging(&cli.log);
    match cli.command {
        Command::Check { pipeline } => match Pipeline::load(&pipeline) {
            Ok(p) => {
                println!(
                    "{}: ok ({} inputs, {} stages, {} outputs)",
                    pipeline.display(),
                    p.config.inputs.len(),
                    p.config.stages.len(),
                    p.config.outputs.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Test { pipelines, data_dir, precompiled } => {
            sluice::testing::cli_main(&pipelines, data_dir.as_deref(), precompiled.as_deref())
        }
        Command::Guest { command } => sluice::client::run_guest_command(command),
        Command::Reload { server } => sluice::client::run_reload(&server),
        Command::Mine(args) => sluice::mining::cli::main(args),
        Command::Run {
            pipeline,
            http,
            data_dir,
            db_key_file,
            shutdown_timeout,
            api_token_file,
            trusted_keys_file,
            precompiled,
            store_cache_mib,
            ack,
        } => {
            let pipeline = match Pipeline::load(&pipeline) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let db_key = match db_key(db_key_file) {
                Ok(key) => key,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let access = match sluice::api::Access::from_env(api_token_file.as_deref(), trusted_keys_file.as_deref()) {
                Ok(access) => access,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let options = ServerOptions {
                data_dir,
                db_key,
                pipeline,
                shutdown_timeout,
                access,
                precompiled_dir: precompiled,
                store_cache_mib,
                ack,
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(http).await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("error: cannot listen on {http}: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                match Server::start(options, listener).await {
                    Ok(running) => {
                        running.run_until_signal().await;
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
    }
}

/// The store key: a key file wins over `SLUICE_DB_KEY`.
fn db_key(file: Option<PathBuf>) -> Result<Option<Vec<u8>>, String> {
    if let Some(path) = file {
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
        let key = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
        if key.is_empty() {
            return Err(format!("key file {} is empty", path.display()));
        }
        return Ok(Some(key));
    }
    Ok(std::env::var("SLUICE_DB_KEY").ok().filter(|k| !k.is_empty()).map(String::into_bytes))
}
