//! What request handlers read of the running topology: the HTTP input's limits, the live stream
//! and the backlog bound. A reload swaps each whole; a handler keeps what it read for the rest of
//! its request, so an in-flight request finishes under the settings it started with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::inputs::http::HttpInput;
use crate::outputs::websocket::TailHub;

/// The swappable parts of the running pipeline.
#[derive(Debug, Default)]
pub struct Live {
    http: RwLock<Option<HttpInput>>,
    tail: RwLock<Option<Arc<TailHub>>>,
    max_pending_bytes: AtomicU64,
}

impl Live {
    /// The HTTP input, when the pipeline has one.
    pub fn http(&self) -> Option<HttpInput> {
        self.http.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The live stream, when the pipeline has a websocket output.
    pub fn tail(&self) -> Option<Arc<TailHub>> {
        self.tail.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Inputs refuse new events while more than this many journal bytes await the store.
    pub fn max_pending_bytes(&self) -> u64 {
        self.max_pending_bytes.load(Ordering::Relaxed)
    }

    pub(super) fn set(&self, http: Option<HttpInput>, tail: Option<Arc<TailHub>>, max_pending_bytes: u64) {
        *self.http.write().unwrap_or_else(|p| p.into_inner()) = http;
        *self.tail.write().unwrap_or_else(|p| p.into_inner()) = tail;
        self.max_pending_bytes.store(max_pending_bytes, Ordering::Relaxed);
    }
}
