//! Driving the host clock through a case's timeline, and giving it back afterwards.
//!
//! The clock belongs to the engine's [`HostServices`](crate::wasm::HostServices), which every
//! guest of the run shares, so a case that sets it must leave it reading the wall clock again,
//! even when it ends early: the next case (or file) may have no `clock`.

use crate::wasm::Clock;

/// The host clock while one case runs: set explicitly when the case has a `clock`, untouched
/// otherwise; back to the wall clock when dropped.
#[derive(Debug)]
pub struct CaseClock<'a> {
    clock: &'a Clock,
    /// Whether this case drives the clock (and so must give it back).
    driven: bool,
}

impl<'a> CaseClock<'a> {
    /// Starts the case's time at `start_ns`; `None` leaves the wall clock.
    pub fn new(clock: &'a Clock, start_ns: Option<i64>) -> CaseClock<'a> {
        clock.set(start_ns);
        CaseClock { clock, driven: start_ns.is_some() }
    }

    /// Shows `ns` until the next call (a no-op for a case on the wall clock).
    pub fn set(&self, ns: i64) {
        if self.driven {
            self.clock.set(Some(ns));
        }
    }
}

impl Drop for CaseClock<'_> {
    fn drop(&mut self) {
        self.clock.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::now_ns;

    #[test]
    fn a_driven_clock_shows_the_case_time_and_is_given_back() {
        let clock = Clock::default();
        {
            let case = CaseClock::new(&clock, Some(1_000));
            assert_eq!(clock.now_ns(), 1_000);
            case.set(2_000);
            assert_eq!(clock.now_ns(), 2_000);
        }
        let before = now_ns();
        assert!(clock.now_ns() >= before, "the wall clock again after the case");
        let wall = CaseClock::new(&clock, None);
        wall.set(5);
        assert!(clock.now_ns() >= before, "a case without `clock` never stops it");
    }
}
