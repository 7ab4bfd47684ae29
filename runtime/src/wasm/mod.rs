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

pub use cache::content_hash;
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
}

/// Process-wide Wasm state: the engine, the linker with the host imports, and the compile cache.
#[derive(Clone)]
pub struct WasmHost {
    engine: Engine,
    linker: Arc<Linker<host::HostState>>,
    cache_dir: PathBuf,
    services: Arc<HostServices>,
}

impl std::fmt::Debug for WasmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmHost").field("cache_dir", &self.cache_dir).finish_non_exhaustive()
    }
}

impl WasmHost {
    /// Creates the engine (with epoch interruption) and starts its ticker thread, which ends by
    /// itself once the engine is dropped. Compiled components are cached in `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> Result<WasmHost, LoadError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        // The typed world's imports are all the host's imports; the batch world adds only types.
        bindings::StageGuest::add_to_linker::<_, HasSelf<host::HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        bindings::batch_types::add_to_linker::<_, HasSelf<host::HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        std::fs::create_dir_all(&cache_dir).map_err(|source| LoadError::Read { path: cache_dir.clone(), source })?;
        spawn_ticker(&engine);
        Ok(WasmHost { engine, linker: Arc::new(linker), cache_dir, services: Arc::new(HostServices::default()) })
    }

    /// Loads a component: from the compile cache when this engine compiled it before, otherwise
    /// compiled now and cached. Checks that it implements the stage world before anything runs.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Guest>, LoadError> {
        let component = cache::load_or_compile(&self.engine, &self.cache_dir, name, bytes)?;
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
