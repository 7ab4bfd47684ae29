//! The one seam between Sluice and WebAssembly.
//!
//! Everything wasmtime-specific lives here; the rest of the runtime sees [`WasmHost`] (one per
//! process: engine, linker, compile cache, epoch ticker), [`Guest`] (one per component version:
//! compiled and pre-linked) and [`GuestInstance`] (one per running instance: a store with its
//! limits). A guest can never reach the host except through the imports in [`host`], and every
//! size it asks the host to handle is bounded there.
//!
//! Host state has three lifetimes, as in Spin: process (engine, linker), component (`InstancePre`),
//! instance (`Store`). A trap ends only the instance; the component stays loaded.

mod bindings;
pub mod builtin;
mod cache;
mod contract;
mod convert;
mod guest;
mod host;
mod layout;
mod limits;
mod services;
mod state;
mod timing;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use cache::{content_hash, precompiled_name};
pub use contract::SUPPORTED_VERSIONS;
pub use guest::{CallError, Guest, GuestInstance, InstanceLimits, Outcome};
pub use services::{Answer, Clock, HostServices, Inference, NoInference, RequestStatus};
pub use state::{GuestState, StateLimits, StateWrite};

/// How often the epoch advances; call deadlines are rounded up to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a guest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read guest {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{name}` is not a valid Sluice stage component: {reason}")]
    Invalid { name: String, reason: String },
    #[error("wasm engine error: {0}")]
    Engine(String),
    /// A precompiled guest this binary cannot run: made for another target, another engine
    /// configuration or another Sluice build.
    #[error(
        "guest `{name}` ({version}): {} was precompiled for another target or engine configuration: {reason}; \
         precompile it for this binary with `sluice guest precompile --target {target}`",
        path.display(),
        target = HOST_TARGET
    )]
    Precompiled { name: String, version: String, path: PathBuf, reason: String },
    /// A runtime-only build asked to run a guest nobody precompiled for it.
    #[error(
        "guest `{name}` ({version}) is not precompiled for this binary, which has no compiler: {}; \
         make it with `sluice guest precompile --target {target}` on a build machine",
        match wanted {
            Some(path) => format!("no {}", path.display()),
            None => "no precompiled directory is configured (--precompiled)".to_string(),
        },
        target = HOST_TARGET
    )]
    NoCompiler { name: String, version: String, wanted: Option<PathBuf> },
}

/// The target this binary runs on, as `sluice guest precompile --target` names it.
pub const HOST_TARGET: &str = env!("SLUICE_TARGET");

/// Where a [`WasmHost`] gets machine code for guests.
#[derive(Debug, Clone)]
pub struct WasmOptions {
    /// The compile cache: each component compiled here once per engine configuration.
    pub cache_dir: PathBuf,
    /// Guests precompiled for this binary (`<sha256>.cwasm`, from `sluice guest precompile`),
    /// looked up before compiling; the only source in a runtime-only build.
    pub precompiled_dir: Option<PathBuf>,
    /// Whether guests may be compiled here; always false in a build without the compiler.
    pub compile: bool,
}

impl WasmOptions {
    /// Compiles what is not cached when this build has the compiler.
    pub fn cached(cache_dir: PathBuf) -> WasmOptions {
        WasmOptions { cache_dir, precompiled_dir: None, compile: cfg!(feature = "compiler") }
    }

    /// Also looks guests up in `dir`, when given (`--precompiled`).
    pub fn with_precompiled(mut self, dir: Option<PathBuf>) -> WasmOptions {
        self.precompiled_dir = dir;
        self
    }
}

/// The engine settings every guest is compiled and run with. Precompiled guests must have been
/// made with the same settings (wasmtime checks each one).
fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}

/// Compiles a component ahead of time for `target` (a Rust target triple, such as
/// `aarch64-unknown-linux-gnu`; this machine's when `None`), with the settings the runtime uses,
/// for a runtime-only build there to run from its precompiled directory.
#[cfg(feature = "compiler")]
pub fn precompile(bytes: &[u8], target: Option<&str>) -> Result<Vec<u8>, LoadError> {
    let mut config = engine_config();
    if let Some(target) = target {
        config.target(target).map_err(|e| LoadError::Engine(format!("target `{target}`: {e:#}")))?;
    }
    let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
    engine
        .precompile_component(bytes)
        .map_err(|e| LoadError::Invalid { name: "component".into(), reason: format!("{e:#}") })
}

/// Process-wide Wasm state: the engine, the linker with the host imports, and the compile cache.
#[derive(Clone)]
pub struct WasmHost {
    engine: Engine,
    linker: Arc<Linker<host::HostState>>,
    options: Arc<WasmOptions>,
    services: Arc<HostServices>,
}

impl std::fmt::Debug for WasmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmHost").field("options", &self.options).finish_non_exhaustive()
    }
}

impl WasmHost {
    /// A host that compiles what is not cached (when this build has the compiler) and caches it
    /// in `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> Result<WasmHost, LoadError> {
        WasmHost::open(WasmOptions::cached(cache_dir))
    }

    /// Creates the engine (with epoch interruption) and starts its ticker thread, which ends by
    /// itself once the engine is dropped.
    pub fn open(mut options: WasmOptions) -> Result<WasmHost, LoadError> {
        options.compile &= cfg!(feature = "compiler");
        let engine = Engine::new(&engine_config()).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        // The typed world's imports are all the host's imports; the batch world adds only types.
        bindings::StageGuest::add_to_linker::<_, HasSelf<host::HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        bindings::batch_types::add_to_linker::<_, HasSelf<host::HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        if options.compile {
            let dir = &options.cache_dir;
            std::fs::create_dir_all(dir).map_err(|source| LoadError::Read { path: dir.clone(), source })?;
        }
        spawn_ticker(&engine);
        let options = Arc::new(options);
        Ok(WasmHost { engine, linker: Arc::new(linker), options, services: Arc::new(HostServices::default()) })
    }

    /// Loads a component: from the compile cache when this engine compiled it before, else from
    /// the precompiled directory, else compiled now and cached (`cache.rs`). Checks that it
    /// implements a stage world before anything runs.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Guest>, LoadError> {
        let component = cache::load(&self.engine, &self.options, name, bytes)?;
        Guest::new(name, bytes, component, &self.linker, self.services.clone()).map(Arc::new)
    }

    /// The services (inference, clock) every guest of this host reaches.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// Loads a component from a file.
    pub fn load_file(&self, name: &str, path: &std::path::Path) -> Result<Arc<Guest>, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        self.load(name, &bytes)
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so deadlines fire; holds only a weak reference
/// so the thread dies with the engine.
fn spawn_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the epoch ticker: guest deadlines will not fire");
    }
}
