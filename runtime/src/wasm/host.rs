//! The host side of the guest imports: logging and state. Every size a guest hands us is bounded.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{batch_types, clock, inference, log, signal, state, types};
use super::limits::MemoryLimiter;
use super::services::{Answer, HostServices, RequestStatus};
use super::state::{GuestState, StateError};
use super::timing::CodeClock;
use crate::event::SignalKind;

/// Longest inference key, system or user message a guest may pass, in bytes.
const MAX_INFERENCE_KEY_BYTES: usize = 256;
const MAX_INFERENCE_MESSAGE_BYTES: usize = 32 * 1024;

/// Longest guest log message kept; the rest is cut.
const MAX_LOG_BYTES: usize = 4096;

/// Per-instance host state (lives in the wasmtime `Store`).
pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub state: Arc<GuestState>,
    pub services: Arc<HostServices>,
    /// `name@version`, for the guest's log lines.
    pub label: Arc<str>,
    /// Time in guest code, when [`GuestInstance::time_guest_code`](super::GuestInstance) is on.
    pub code_clock: CodeClock,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for HostState {}
impl batch_types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, mut message: String) {
        if message.len() > MAX_LOG_BYTES {
            let mut cut = MAX_LOG_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let guest = &*self.label;
        match level {
            log::Level::Trace => tracing::trace!(guest, "{message}"),
            log::Level::Debug => tracing::debug!(guest, "{message}"),
            log::Level::Info => tracing::info!(guest, "{message}"),
            log::Level::Warn => tracing::warn!(guest, "{message}"),
            log::Level::Error => tracing::error!(guest, "{message}"),
        }
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.state.get(&key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), state::StateError> {
        self.state.set(key, value).map_err(|e| match e {
            StateError::KeyTooLong(n) => state::StateError::KeyTooLong(n),
            StateError::ValueTooLarge(n) => state::StateError::ValueTooLarge(n),
            StateError::QuotaExceeded(n) => state::StateError::QuotaExceeded(n),
        })
    }

    fn delete(&mut self, key: String) {
        self.state.delete(&key);
    }

    fn scan(&mut self, prefix: String) -> Vec<(String, Vec<u8>)> {
        self.state.scan(&prefix)
    }
}

impl signal::Host for HostState {
    fn emit(&mut self, kind: signal::Kind, body: String) -> bool {
        let kind = match kind {
            signal::Kind::Alert => SignalKind::Alert,
            signal::Kind::PatternChanged => SignalKind::PatternChanged,
            signal::Kind::Insight => SignalKind::Insight,
        };
        self.state.emit(kind, &body, self.services.clock.now_ns())
    }
}

impl inference::Host for HostState {
    fn request(&mut self, key: String, system: String, user: String) -> inference::Status {
        if key.len() > MAX_INFERENCE_KEY_BYTES
            || system.len() > MAX_INFERENCE_MESSAGE_BYTES
            || user.len() > MAX_INFERENCE_MESSAGE_BYTES
        {
            return inference::Status::Busy;
        }
        match self.services.inference().request(&key, &system, &user) {
            RequestStatus::Queued => inference::Status::Queued,
            RequestStatus::Known => inference::Status::Known,
            RequestStatus::Disabled => inference::Status::Disabled,
            RequestStatus::OverBudget => inference::Status::OverBudget,
            RequestStatus::Busy => inference::Status::Busy,
        }
    }

    fn lookup(&mut self, key: String) -> Option<inference::Answer> {
        self.services.inference().lookup(&key).map(|answer| match answer {
            Answer::Pending => inference::Answer::Pending,
            Answer::Ready(text) => inference::Answer::Ready(text),
            Answer::Failed(reason) => inference::Answer::Failed(reason),
        })
    }
}

impl clock::Host for HostState {
    fn now_ns(&mut self) -> i64 {
        self.services.clock.now_ns()
    }
}
