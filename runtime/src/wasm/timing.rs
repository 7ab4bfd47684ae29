//! Time spent running a guest's own code, apart from the host's side of the boundary crossing
//! (lowering arguments into the guest, lifting results out, serving its imports).
//!
//! Built on wasmtime's call hooks, which fire on every entry into and exit from WebAssembly:
//! the export call itself, the guest allocator calls the host makes while lowering a batch, and
//! each import the guest calls. Reading the clock at every transition costs tens of
//! nanoseconds, so this is off unless asked for (`sluice mine --split-time`).

use std::time::{Duration, Instant};

use wasmtime::CallHook;

/// Accumulates the time between entering and leaving WebAssembly.
#[derive(Debug, Default)]
pub struct CodeClock {
    entered: Option<Instant>,
    total: Duration,
}

impl CodeClock {
    /// Records one transition, now.
    pub fn transition(&mut self, hook: CallHook) {
        self.transition_at(hook, Instant::now());
    }

    fn transition_at(&mut self, hook: CallHook, now: Instant) {
        if hook.exiting_host() {
            self.entered = Some(now);
        } else if let Some(entered) = self.entered.take() {
            self.total += now.saturating_duration_since(entered);
        }
    }

    /// Time spent in guest code so far.
    pub fn total(&self) -> Duration {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_time_inside_wasm() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut clock = CodeClock::default();
        // The export runs 20 ms, calls an import that takes 50 ms, runs 5 ms more and returns;
        // then the host spends 100 ms on its own and calls the guest's allocator for 1 ms.
        clock.transition_at(CallHook::CallingWasm, at(0));
        clock.transition_at(CallHook::CallingHost, at(20));
        clock.transition_at(CallHook::ReturningFromHost, at(70));
        clock.transition_at(CallHook::ReturningFromWasm, at(75));
        clock.transition_at(CallHook::CallingWasm, at(175));
        clock.transition_at(CallHook::ReturningFromWasm, at(176));
        assert_eq!(clock.total(), Duration::from_millis(26));
        // An exit without an entry (the hook set mid-call) adds nothing.
        clock.transition_at(CallHook::ReturningFromWasm, at(300));
        assert_eq!(clock.total(), Duration::from_millis(26));
    }
}
