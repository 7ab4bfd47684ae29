//! Reloading the pipeline file: on a change to the file, on `SIGHUP`, or on `POST /api/v1/reload`.
//! Each goes through [`Topology::apply`], like start-up; a file that does not parse or validate, or
//! a topology that does not build, leaves the running one as it was, and the error is logged,
//! counted and kept for `/stats`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Changes, Topology};
use crate::config::Pipeline;
use crate::event::{format_ns, now_ns};
use crate::telemetry::ReloadLabel;

/// Editors write a file in several steps; changes closer together than this are one reload.
const SETTLE: Duration = Duration::from_millis(300);

/// The count and the last result, for `/stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    /// Reloads that took effect.
    pub succeeded: u64,
    /// Reloads refused (the running topology stayed).
    pub failed: u64,
    pub last: Option<LastReload>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastReload {
    pub at: String,
    /// `file`, `signal` or `api`.
    pub trigger: String,
    pub ok: bool,
    pub error: Option<String>,
    pub changes: Option<Changes>,
}

/// Shared reload bookkeeping.
#[derive(Debug, Default)]
pub struct ReloadLog {
    inner: Mutex<ReloadStatus>,
    /// The file's text at the last reload attempt, so the watcher skips events that did not change
    /// it (a file already reloaded through the API or a signal, an editor touching it).
    pub(super) last_text: Mutex<Option<String>>,
}

impl ReloadLog {
    pub fn status(&self) -> ReloadStatus {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, trigger: &str, result: &Result<Changes, String>) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => s.succeeded += 1,
            Err(_) => s.failed += 1,
        }
        s.last = Some(LastReload {
            at: format_ns(now_ns()),
            trigger: trigger.to_string(),
            ok: result.is_ok(),
            error: result.as_ref().err().cloned(),
            changes: result.as_ref().ok().cloned(),
        });
    }
}

impl Topology {
    /// Re-reads the pipeline file and applies it. `trigger` says why, for the log and `/stats`.
    pub async fn reload(&self, trigger: &str) -> Result<Changes, String> {
        self.reload_file(trigger, false).await.unwrap_or_else(|| Ok(Changes::default()))
    }

    /// [`Topology::reload`], but `None` without doing anything when `only_if_changed` and the
    /// file's text is what the last attempt read.
    async fn reload_file(&self, trigger: &str, only_if_changed: bool) -> Option<Result<Changes, String>> {
        let result = match self.pipeline_path().await {
            None => Err("no pipeline is running".to_string()),
            Some(path) => match std::fs::read_to_string(&path) {
                Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
                Ok(text) => {
                    {
                        let mut last = self.reloads.last_text.lock().unwrap_or_else(|p| p.into_inner());
                        if only_if_changed && last.as_deref() == Some(text.as_str()) {
                            return None;
                        }
                        *last = Some(text.clone());
                    }
                    match Pipeline::parse(&path, &text) {
                        Err(e) => Err(e.to_string()),
                        Ok(pipeline) => self.apply(&pipeline).await.map_err(|e| e.to_string()),
                    }
                }
            },
        };
        self.reloads.record(trigger, &result);
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics.reloads.get_or_create(&ReloadLabel { result: outcome.into() }).inc();
        match &result {
            Ok(changes) => tracing::info!(trigger, ?changes, "pipeline reloaded"),
            Err(error) => tracing::error!(trigger, %error, "pipeline reload refused; the running pipeline stays"),
        }
        Some(result)
    }
}

/// Reloads on changes to `path` and on `SIGHUP` until `shutdown`.
pub fn spawn_triggers(topology: Arc<Topology>, path: PathBuf, shutdown: CancellationToken) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<&'static str>(4);
    let watcher = watch_file(&path, tx.clone());
    tokio::spawn(async move {
        // Dropping the watcher stops it; keep it alive for the task's life.
        let _watcher = watcher;
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let signal = async {
                match hup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let signal = std::future::pending::<Option<()>>();
            let trigger = tokio::select! {
                () = shutdown.cancelled() => return,
                _ = signal => "signal",
                Some(t) = rx.recv() => t,
            };
            if trigger == "file" {
                // Let the writer finish, and fold the burst of events it causes into one reload.
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            let _ = topology.reload_file(trigger, trigger == "file").await;
        }
    });
}

/// Watches the file's directory (editors often replace a file rather than write it in place) and
/// reports changes to the file itself.
fn watch_file(path: &Path, tx: tokio::sync::mpsc::Sender<&'static str>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let name = path.file_name()?.to_os_string();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let ours = event.paths.iter().any(|p| p.file_name() == Some(name.as_os_str()));
        let relevant = matches!(event.kind, notify::EventKind::Create(_) | notify::EventKind::Modify(_));
        if ours && relevant {
            // A full queue already holds a pending reload.
            let _ = tx.try_send("file");
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the pipeline file; reload with SIGHUP or the API");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the pipeline file; reload with SIGHUP or the API");
        return None;
    }
    Some(watcher)
}
