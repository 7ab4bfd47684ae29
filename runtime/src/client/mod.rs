//! The `sluice guest …` and `sluice reload` commands: the guest author's and operator's side of
//! a guest's life, from scaffolding a crate to switching a running pipeline to a new version.
//!
//! # Layout
//!
//! - this file: the command line ([`GuestCommand`], [`ServerArgs`]) and what each command does;
//! - [`api`]: requests to a running Sluice's management API and its error shape;
//! - [`keys`]: key generation and signing, which need no server;
//! - [`render`]: the API's replies, typed, and their human-readable form;
//! - [`error`]: the one error type, worded for the person at the terminal.
//!
//! `guest new` is [`crate::scaffold`]. Every command prints a summary on stdout and exits 0, or
//! prints `error: …` on stderr and exits 1. It never prints the API token or a secret key.

mod api;
mod error;
mod keys;
mod render;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

pub use error::ClientError;

use api::Api;

/// Where the server is and how to talk to it.
#[derive(Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the running Sluice.
    #[arg(long, env = "SLUICE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The management API's bearer token, when the server has one.
    #[arg(long, env = "SLUICE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON reply instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl fmt::Debug for ServerArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerArgs")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("json", &self.json)
            .finish()
    }
}

/// `sluice guest …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum GuestCommand {
    /// Creates a guest crate that builds for wasm32-wasip2 and passes its tests as generated.
    New {
        /// The guest's name: lowercase letters, digits, `-` and `_`, starting with a letter.
        name: String,
        /// The directory to create (default: ./NAME). It must not exist.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Makes a signing key pair: writes the secret key, prints the public key for the server's
    /// trusted keys.
    Keygen {
        /// Where to write the secret key; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compiles components ahead of time for a runtime-only build of Sluice (one built without
    /// the `compiler` feature, as for an edge box): writes `OUT/<sha256>.cwasm` for each, which
    /// that build runs with `sluice run --precompiled OUT`. It refuses artifacts made for another
    /// target or engine configuration.
    #[cfg(feature = "compiler")]
    Precompile {
        /// The target triple of the machine that will run them, e.g. `aarch64-unknown-linux-gnu`
        /// (default: this machine's).
        #[arg(long)]
        target: Option<String>,
        /// Where to write them; created if missing.
        #[arg(long, default_value = "precompiled")]
        out: PathBuf,
        /// Also the built-in guests (normalize, mine, enrich, alert) the standard pipelines run.
        #[arg(long)]
        builtin: bool,
        /// Components (`.wasm`) to precompile.
        components: Vec<PathBuf>,
    },
    /// Writes the detached signature of a component.
    Sign {
        /// The secret key file made by `sluice guest keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The component (`.wasm`) to sign.
        component: PathBuf,
        /// Where to write the signature (default: COMPONENT.sig).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Uploads a component as a new version of a guest (it does not activate it).
    Push {
        /// The guest's name.
        name: String,
        /// The component (`.wasm`) to upload.
        component: PathBuf,
        /// Sign the component with this secret key before uploading.
        #[arg(long, conflicts_with = "signature")]
        sign_key: Option<PathBuf>,
        /// Send this detached signature (made by `sluice guest sign`).
        #[arg(long)]
        signature: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Lists guests with their versions and statistics, and which version each stage runs.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Switches the stages running a guest to one of its versions.
    Activate {
        /// The guest's name.
        name: String,
        /// The version: at least the first 12 hex digits of the component's SHA-256.
        version: String,
        /// Only this stage (default: every stage running the guest).
        #[arg(long)]
        stage: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Switches the stages running a guest back to their previous version.
    Rollback {
        /// The guest's name.
        name: String,
        /// Only this stage (default: every stage running the guest).
        #[arg(long)]
        stage: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Runs a version beside the active one on live traffic and compares their outcomes; the
    /// active version's outcomes are the ones kept.
    Canary {
        /// The guest's name.
        name: String,
        /// The candidate version: at least the first 12 hex digits of its SHA-256.
        version: String,
        /// Only this stage (default: every stage running the guest).
        #[arg(long)]
        stage: Option<String>,
        /// How many differing events to keep as examples (the server defaults to 20).
        #[arg(long)]
        max_diffs: Option<u32>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Shows how a guest's canaries compare so far.
    CanaryStatus {
        /// The guest's name.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Activates the canary's candidate version and ends the canary.
    Promote {
        /// The guest's name.
        name: String,
        /// Only this stage (default: every stage running the guest).
        #[arg(long)]
        stage: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ends a canary without changing the active version.
    Discard {
        /// The guest's name.
        name: String,
        /// Only this stage (default: every stage running the guest).
        #[arg(long)]
        stage: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs a `sluice guest` command.
pub fn run_guest_command(command: GuestCommand) -> ExitCode {
    finish(guest_command(command))
}

/// Runs `sluice reload`.
pub fn run_reload(server: &ServerArgs) -> ExitCode {
    finish(call(server, |api| api.post("/api/v1/reload", &json!({})), |reply| Ok(render::reloaded(reply))))
}

fn finish(result: Result<(), ClientError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn guest_command(command: GuestCommand) -> Result<(), ClientError> {
    match command {
        GuestCommand::New { name, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            crate::scaffold::create(&name, &dir)?;
            let component = crate::scaffold::component_path(&name);
            println!("created the guest crate `{name}` in {}\n", dir.display());
            println!("  cd {}", dir.display());
            println!("  cargo test                                    # its logic, natively");
            println!("  cargo build --release --target wasm32-wasip2  # the component: {component}");
            println!("  sluice test pipeline.yaml                     # its pipeline's test cases");
            Ok(())
        }
        GuestCommand::Keygen { out } => {
            let public = keys::keygen(&out)?;
            eprintln!(
                "wrote the secret key to {} (keep it private); add this public key to the server's trusted keys:",
                out.display()
            );
            // Alone on stdout, so `sluice guest keygen --out k >> trusted.keys` works.
            println!("{public}");
            Ok(())
        }
        #[cfg(feature = "compiler")]
        GuestCommand::Precompile { target, out, builtin, components } => {
            precompile(target.as_deref(), &out, builtin, &components)
        }
        GuestCommand::Sign { key, component, out } => {
            let (out, public) = keys::sign_file(&key, &component, out.as_deref())?;
            println!("wrote the signature of {} to {} (public key {public})", component.display(), out.display());
            Ok(())
        }
        GuestCommand::Push { name, component, sign_key, signature, server } => {
            let path = guest_path(&name)?;
            let bytes = read_component(&component)?;
            let signature = match (sign_key, signature) {
                (Some(key), _) => Some(keys::signature(&key, &bytes)?),
                (None, Some(file)) => Some(keys::read_signature(&file)?),
                (None, None) => None,
            };
            call(
                &server,
                |api| api.put_component(&path, bytes, signature.as_deref()),
                |reply| Ok(render::pushed(&render::parse(reply)?)),
            )
        }
        GuestCommand::List { server } => {
            call(&server, |api| api.get("/api/v1/guests"), |reply| Ok(render::list(&render::parse(reply)?)))
        }
        GuestCommand::Activate { name, version, stage, server } => {
            let body = with_stage(json!({"version": version}), stage);
            let path = format!("{}/activate", guest_path(&name)?);
            call(&server, |api| api.post(&path, &body), activated)
        }
        GuestCommand::Rollback { name, stage, server } => {
            let path = format!("{}/rollback", guest_path(&name)?);
            call(&server, |api| api.post(&path, &with_stage(json!({}), stage)), activated)
        }
        GuestCommand::Canary { name, version, stage, max_diffs, server } => {
            let mut body = with_stage(json!({"version": version}), stage);
            if let Some(n) = max_diffs {
                body["max_diffs"] = n.into();
            }
            let path = format!("{}/canary", guest_path(&name)?);
            call(&server, |api| api.post(&path, &body), canaries)
        }
        GuestCommand::CanaryStatus { name, server } => {
            let path = format!("{}/canary", guest_path(&name)?);
            call(&server, |api| api.get(&path), canaries)
        }
        GuestCommand::Promote { name, stage, server } => {
            let path = format!("{}/canary/promote", guest_path(&name)?);
            call(&server, |api| api.post(&path, &with_stage(json!({}), stage)), activated)
        }
        GuestCommand::Discard { name, stage, server } => {
            let path = format!("{}/canary", guest_path(&name)?);
            let query: Vec<(&str, &str)> = stage.as_deref().map(|s| ("stage", s)).into_iter().collect();
            call(
                &server,
                |api| api.delete(&path, &query),
                |reply| Ok(render::discarded(&render::field::<Vec<String>>(reply, "discarded")?)),
            )
        }
    }
}

/// Sends one request and prints its reply: raw with `--json`, else as `summary` renders it.
fn call(
    server: &ServerArgs,
    request: impl FnOnce(&Api) -> Result<Value, ClientError>,
    summary: impl FnOnce(&Value) -> Result<String, ClientError>,
) -> Result<(), ClientError> {
    let api = Api::new(server)?;
    let reply = request(&api)?;
    if server.json {
        let text = serde_json::to_string_pretty(&reply).map_err(|e| ClientError::Reply(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", summary(&reply)?);
    }
    Ok(())
}

fn activated(reply: &Value) -> Result<String, ClientError> {
    Ok(render::activated(&render::field::<Vec<render::Activated>>(reply, "activated")?))
}

fn canaries(reply: &Value) -> Result<String, ClientError> {
    Ok(render::canaries(&render::field::<Vec<render::CanaryReport>>(reply, "canaries")?))
}

/// The API path of a guest. Checking the name here keeps it a plain URL segment and answers a
/// typo without a round trip.
fn guest_path(name: &str) -> Result<String, ClientError> {
    crate::config::validate_guest_name(name).map_err(ClientError::Refused)?;
    Ok(format!("/api/v1/guests/{name}"))
}

fn with_stage(mut body: Value, stage: Option<String>) -> Value {
    if let Some(stage) = stage {
        body["stage"] = stage.into();
    }
    body
}

/// Reads a component, refusing what is plainly not one, with a better message than the
/// server's validation could give.
/// `sluice guest precompile`: each component (and with `builtin`, the built-in guests) compiled
/// for `target` into `out/<sha256>.cwasm`.
#[cfg(feature = "compiler")]
fn precompile(
    target: Option<&str>,
    out: &std::path::Path,
    builtin: bool,
    components: &[PathBuf],
) -> Result<(), ClientError> {
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    if builtin {
        for name in crate::wasm::builtin::NAMES {
            let bytes = crate::wasm::builtin::get(name).unwrap_or_default().to_vec();
            inputs.push((format!("built-in {name}"), bytes));
        }
    }
    for path in components {
        inputs.push((path.display().to_string(), read_component(path)?));
    }
    if inputs.is_empty() {
        return Err(ClientError::Refused("name components to precompile, or pass --builtin".into()));
    }
    std::fs::create_dir_all(out).map_err(ClientError::file("create", out))?;
    let target_name = target.unwrap_or(crate::wasm::HOST_TARGET);
    for (label, bytes) in inputs {
        let artifact = crate::wasm::precompile(&bytes, target)
            .map_err(|e| ClientError::Refused(format!("cannot precompile {label} for {target_name}: {e}")))?;
        let path = out.join(crate::wasm::precompiled_name(&bytes));
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &artifact).map_err(ClientError::file("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(ClientError::file("write", &path))?;
        println!("{label}: {} ({} KiB, for {target_name})", path.display(), artifact.len().div_ceil(1024));
    }
    Ok(())
}

fn read_component(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    let bytes = std::fs::read(path).map_err(ClientError::file("read", path))?;
    // The preamble: magic, then a version and a layer (0 for a core module, 1 for a component).
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(bytes),
        Some([0, b'a', b's', b'm', _, _, 0, 0]) => Err(ClientError::Refused(format!(
            "{} is a core WebAssembly module, not a component; build it with --target wasm32-wasip2",
            path.display()
        ))),
        _ => Err(ClientError::Refused(format!("{} is not a WebAssembly component", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{GuestCommand, read_component};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: GuestCommand,
    }

    #[test]
    fn the_command_line_parses_and_hides_the_token() {
        let cli = Cli::try_parse_from([
            "guest",
            "canary",
            "g",
            "abcdef012345",
            "--stage",
            "s",
            "--max-diffs",
            "5",
            "--token",
            "t0ps3cret",
        ])
        .expect("parse");
        let GuestCommand::Canary { stage, max_diffs, server, .. } = cli.command else { panic!("not canary") };
        assert_eq!((stage.as_deref(), max_diffs), (Some("s"), Some(5)));
        assert_eq!(server.token.as_deref(), Some("t0ps3cret"));
        assert!(!format!("{server:?}").contains("t0ps3cret"));
        let both = Cli::try_parse_from(["guest", "push", "g", "g.wasm", "--sign-key", "k", "--signature", "s"]);
        assert!(both.is_err(), "--sign-key and --signature exclude each other");
    }

    #[test]
    fn only_components_are_pushed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        };
        assert!(read_component(&write("c.wasm", b"\0asm\x0d\0\x01\0rest")).is_ok());
        let module = read_component(&write("m.wasm", b"\0asm\x01\0\0\0rest")).expect_err("core module");
        assert!(module.to_string().contains("core WebAssembly module"), "{module}");
        assert!(read_component(&write("t.txt", b"hello")).is_err());
    }
}
