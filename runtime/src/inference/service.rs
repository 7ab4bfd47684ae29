//! The service guests call: admission (cache, budget, queue) on the caller's thread, calls on a
//! fixed pool of worker tasks.
//!
//! `request` and `lookup` run inside a guest call on the processor thread, so they only ever take
//! one short `std` lock that no one holds across I/O: the workers take a job out under the lock,
//! release it, make the call, and take the lock again only to record the answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::budget::Budget;
use super::cache::Cache;
use super::client::{CallError, Client};
use super::settings::Settings;
use crate::telemetry::{InferenceCallLabel, InferenceRequestLabel, Metrics};
use crate::wasm::{Answer, Inference, RequestStatus};

/// A request waiting for a worker.
#[derive(Debug)]
struct Job {
    key: String,
    system: String,
    user: String,
}

#[derive(Debug)]
struct State {
    cache: Cache,
    budget: Budget,
    /// Accepted requests no worker has taken yet; at most `max_queued`.
    queue: VecDeque<Job>,
    /// Set at shutdown: new requests are answered `disabled`.
    closed: bool,
}

/// Inference against one configured endpoint.
#[derive(Debug)]
pub struct InferenceService {
    settings: Arc<Settings>,
    state: Mutex<State>,
    /// Wakes an idle worker when a job is queued (a stored permit, so no wake-up is lost).
    wake: Notify,
    metrics: Arc<Metrics>,
}

impl InferenceService {
    pub fn new(settings: Arc<Settings>, metrics: Arc<Metrics>) -> Self {
        let state = State {
            cache: Cache::new(settings.cache_entries),
            budget: Budget::new(settings.budget_per_hour),
            queue: VecDeque::with_capacity(settings.max_queued.min(1024)),
            closed: false,
        };
        InferenceService { settings, state: Mutex::new(state), wake: Notify::new(), metrics }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a panic elsewhere does not
        // make it unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses new requests from now on; queued ones stay pending.
    pub fn close(&self) {
        self.lock().closed = true;
    }

    fn admit(&self, key: &str, system: &str, user: &str) -> RequestStatus {
        let now = Instant::now();
        let mut state = self.lock();
        if state.closed {
            return RequestStatus::Disabled;
        }
        if state.cache.get(key).is_some() {
            let may_retry = state
                .cache
                .failed_at(key)
                .is_some_and(|at| now.saturating_duration_since(at) >= self.settings.retry_failed_after);
            if !may_retry {
                return RequestStatus::Known;
            }
        }
        if !state.budget.allows(now) {
            return RequestStatus::OverBudget;
        }
        if state.queue.len() >= self.settings.max_queued {
            return RequestStatus::Busy;
        }
        state.budget.spend(now);
        state.cache.insert_pending(key);
        state.queue.push_back(Job { key: key.to_string(), system: system.to_string(), user: user.to_string() });
        drop(state);
        self.wake.notify_one();
        RequestStatus::Queued
    }

    fn next_job(&self) -> Option<Job> {
        self.lock().queue.pop_front()
    }

    fn settle(&self, key: &str, answer: Answer) {
        self.lock().cache.settle(key, answer, Instant::now());
    }

    /// One worker: takes jobs until cancelled. A call in flight at cancellation is dropped (its
    /// key stays pending, which nobody will read once the service is replaced).
    pub async fn work(self: Arc<Self>, client: Client, cancel: CancellationToken) {
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let Some(job) = self.next_job() else {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    () = self.wake.notified() => continue,
                }
            };
            let started = Instant::now();
            let result = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                result = client.ask(&job.system, &job.user) => result,
            };
            self.metrics.inference_call_seconds.observe(started.elapsed().as_secs_f64());
            let (label, answer) = match result {
                Ok(json) => ("ok", Answer::Ready(json)),
                Err(error) => {
                    let reason = error.reason();
                    tracing::warn!(key = %job.key, %reason, "inference call failed");
                    (if matches!(error, CallError::Timeout(_)) { "timeout" } else { "failed" }, Answer::Failed(reason))
                }
            };
            self.metrics.inference_calls.get_or_create(&InferenceCallLabel { result: label }).inc();
            self.settle(&job.key, answer);
        }
    }
}

impl Inference for InferenceService {
    fn request(&self, key: &str, system: &str, user: &str) -> RequestStatus {
        let status = self.admit(key, system, user);
        let outcome = match status {
            RequestStatus::Queued => "queued",
            RequestStatus::Known => "known",
            RequestStatus::Disabled => "disabled",
            RequestStatus::OverBudget => "over_budget",
            RequestStatus::Busy => "busy",
        };
        self.metrics.inference_requests.get_or_create(&InferenceRequestLabel { outcome }).inc();
        status
    }

    fn lookup(&self, key: &str) -> Option<Answer> {
        self.lock().cache.get(key).cloned()
    }
}
