//! Start-up and shutdown: opens the store and journal, starts the pipeline, serves HTTP, and on
//! shutdown stops intake, drains everything acknowledged into the store, and exits.
//!
//! The server takes its listener as an argument, so tests run it on port 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{Access, AppState, Shared, app};
use crate::config::Pipeline;
use crate::guests::{Registry, RegistryError, registry_dir};
use crate::journal::{Ack, Appender, JournalCipher, JournalError, JournalWriter};
use crate::storage::{Store, StoreError};
use crate::telemetry::Metrics;
use crate::topology::{Topology, TopologyContext, TopologyError, reload};
use crate::wasm::{LoadError, WasmHost, WasmOptions};

/// Journal segment size: large enough that rolling is rare, small enough to free disk promptly.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Process settings (the pipeline file says what to run; these say where and how).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Holds the store (`sluice.db`), the journal and the compile cache.
    pub data_dir: PathBuf,
    /// Encrypts the store at rest when set.
    pub db_key: Option<Vec<u8>>,
    pub pipeline: Pipeline,
    /// Longest a graceful shutdown waits for the pipeline to drain.
    pub shutdown_timeout: Duration,
    /// Who may use the management API, and which guest signatures are trusted.
    pub access: Access,
    /// Guests precompiled for this binary (`sluice guest precompile`); a runtime-only build runs
    /// nothing else.
    pub precompiled_dir: Option<PathBuf>,
    /// Each store connection's page cache, in MiB (the store has two: the writer and the reader).
    pub store_cache_mib: u32,
    /// When ingest is acknowledged (journal synced, or written).
    pub ack: Ack,
}

/// The store's page cache per connection unless `--store-cache-mib` says otherwise: SQLite's own
/// default, about 2 MiB.
pub const DEFAULT_STORE_CACHE_MIB: u32 = 2;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Wasm(#[from] LoadError),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Entry point for starting Sluice.
#[derive(Debug)]
pub struct Server;

/// A running Sluice.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    shutdown: CancellationToken,
    abort: CancellationToken,
    http: tokio::task::JoinHandle<()>,
    appender: Appender,
    journal: JournalWriter,
    topology: Arc<Topology>,
    timeout: Duration,
}

impl Server {
    /// Starts everything and serves on `listener` until [`Running::stop`].
    pub async fn start(options: ServerOptions, listener: TcpListener) -> Result<Running, ServerError> {
        let started = Instant::now();
        let metrics = Arc::new(Metrics::new());
        std::fs::create_dir_all(&options.data_dir)?;
        let store =
            Store::open(&options.data_dir.join("sluice.db"), options.db_key.as_deref(), options.store_cache_mib)
                .await?;
        // The outputs' overflow files are buffers only; the journal replays what they held.
        crate::outputs::overflow::clear(&options.data_dir)?;
        let wasm_options =
            WasmOptions::cached(options.data_dir.join("cache")).with_precompiled(options.precompiled_dir.clone());
        let wasm = WasmHost::open(wasm_options)?;
        let journal_dir = options.data_dir.join("journal");
        let committed = store.committed_offset().await?;
        let cipher = options.db_key.as_deref().map(JournalCipher::from_store_key);
        let (journal, appender, durable) =
            JournalWriter::open(&journal_dir, committed, SEGMENT_BYTES, cipher.clone(), options.ack)?;
        let abort = CancellationToken::new();
        let registry = Arc::new(Registry::open(&registry_dir(&options.data_dir))?);
        let topology = Topology::start(
            &options.pipeline,
            TopologyContext {
                wasm,
                store: store.clone(),
                registry,
                journal_dir,
                data_dir: options.data_dir.clone(),
                appender: appender.clone(),
                durable: durable.clone(),
                cipher,
                metrics: metrics.clone(),
                abort: abort.clone(),
            },
        )
        .await?;

        let shutdown = CancellationToken::new();
        reload::spawn_triggers(topology.clone(), options.pipeline.path.clone(), shutdown.clone());
        let state = AppState(Arc::new(Shared {
            store: store.clone(),
            appender: appender.clone(),
            durable,
            stored: topology.offsets.held(),
            live: topology.live.clone(),
            topology: topology.clone(),
            metrics,
            access: options.access.clone(),
            shutdown: shutdown.clone(),
            started,
        }));
        let addr = listener.local_addr()?;
        let router = app(state);
        let graceful = shutdown.clone();
        let http = tokio::spawn(async move {
            // The peer address is how write APIs without a token are kept to loopback.
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let served =
                axum::serve(listener, service).with_graceful_shutdown(async move { graceful.cancelled().await }).await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        tracing::info!(%addr, elapsed = ?started.elapsed(), "sluice is ready");
        Ok(Running {
            addr,
            store,
            shutdown,
            abort,
            http,
            appender,
            journal,
            topology,
            timeout: options.shutdown_timeout,
        })
    }
}

impl Running {
    /// Graceful shutdown: stop accepting, finish in-flight requests, drain the journal through the
    /// stages into the store, and return. Whatever cannot finish within the timeout stays in the
    /// journal and is processed at the next start.
    pub async fn stop(self) {
        let deadline = Instant::now() + self.timeout;
        self.shutdown.cancel();
        if tokio::time::timeout(self.timeout, self.http).await.is_err() {
            tracing::warn!("in-flight HTTP requests did not finish in time");
        }
        self.topology.stop_inputs().await;
        self.appender.close();
        let journal = self.journal;
        let topology = self.topology;
        let drain = tokio::task::spawn_blocking(move || {
            journal.join();
            topology.join();
        });
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, drain).await.is_err() {
            tracing::warn!("the pipeline did not drain in time; the rest stays in the journal for the next start");
            self.abort.cancel();
        }
        tracing::info!("sluice stopped");
    }

    /// Runs until SIGINT or SIGTERM, then stops gracefully.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
