//! Signals: what a guest reports besides its outcomes (alerts, pattern changes, insights).
//!
//! A thin wrapper over the `signal` import. Natively (unit tests) the signals are collected per
//! thread instead, and [`take_signals`] hands them to the test.

pub use crate::bindings::sluice::pipeline::signal::Kind as SignalKind;

/// Queues one signal whose `body` is a JSON object. Returns `false` when the host refused it
/// (not an object, too large, too many in this call).
pub fn emit(kind: SignalKind, body: &str) -> bool {
    backend::emit(kind, body)
}

/// The signals emitted on this thread since the last call (native builds only, for tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn take_signals() -> Vec<(SignalKind, String)> {
    backend::take()
}

#[cfg(target_arch = "wasm32")]
mod backend {
    use super::SignalKind;

    pub fn emit(kind: SignalKind, body: &str) -> bool {
        crate::bindings::sluice::pipeline::signal::emit(kind, body)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use std::cell::RefCell;

    use super::SignalKind;

    thread_local! {
        static EMITTED: RefCell<Vec<(SignalKind, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn emit(kind: SignalKind, body: &str) -> bool {
        EMITTED.with_borrow_mut(|e| e.push((kind, body.to_owned())));
        true
    }

    pub fn take() -> Vec<(SignalKind, String)> {
        EMITTED.with_borrow_mut(std::mem::take)
    }
}
