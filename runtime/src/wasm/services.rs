//! The host services behind the `inference` and `clock` imports, as the rest of the runtime
//! provides them. The wasm layer only forwards calls; what inference means (an HTTP client, a
//! budget, a cache) lives in `crate::inference`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use crate::event::now_ns;

/// Where an inference request stands (the WIT `inference.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Queued,
    Known,
    Disabled,
    OverBudget,
    Busy,
}

/// What became of a request (the WIT `inference.answer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Pending,
    /// The model's answer, a JSON object as text.
    Ready(String),
    /// Why the call failed.
    Failed(String),
}

/// Model inference on a side path. Implementations must return at once: both methods are called
/// from inside a guest call on the processor thread.
pub trait Inference: Send + Sync + std::fmt::Debug {
    fn request(&self, key: &str, system: &str, user: &str) -> RequestStatus;
    fn lookup(&self, key: &str) -> Option<Answer>;
}

/// Inference when none is configured.
#[derive(Debug, Default)]
pub struct NoInference;

impl Inference for NoInference {
    fn request(&self, _key: &str, _system: &str, _user: &str) -> RequestStatus {
        RequestStatus::Disabled
    }

    fn lookup(&self, _key: &str) -> Option<Answer> {
        None
    }
}

/// The pipeline clock: the wall clock, or a time set explicitly (pipeline tests).
#[derive(Debug, Default)]
pub struct Clock {
    /// `0`: the wall clock; otherwise the time in nanoseconds.
    fixed_ns: AtomicI64,
}

impl Clock {
    pub fn now_ns(&self) -> i64 {
        match self.fixed_ns.load(Ordering::Relaxed) {
            0 => now_ns(),
            fixed => fixed,
        }
    }

    /// Stops the clock at `ns` (`None`: back to the wall clock).
    pub fn set(&self, ns: Option<i64>) {
        self.fixed_ns.store(ns.unwrap_or(0), Ordering::Relaxed);
    }
}

/// Process-wide services every instance's host imports reach.
#[derive(Debug)]
pub struct HostServices {
    inference: RwLock<Arc<dyn Inference>>,
    pub clock: Clock,
}

impl Default for HostServices {
    fn default() -> Self {
        HostServices { inference: RwLock::new(Arc::new(NoInference)), clock: Clock::default() }
    }
}

impl HostServices {
    /// The inference service calls go to now.
    pub fn inference(&self) -> Arc<dyn Inference> {
        self.inference.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the inference service (a pipeline configured a different endpoint).
    pub fn set_inference(&self, inference: Arc<dyn Inference>) {
        *self.inference.write().unwrap_or_else(|p| p.into_inner()) = inference;
    }
}
