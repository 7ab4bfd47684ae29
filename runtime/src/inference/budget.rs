//! The hourly request budget, as a sliding window: at most `limit` requests accepted in any 60
//! minutes. A fixed clock-hour window would let twice the budget through around the turn of an
//! hour; the sliding one costs one timestamp per accepted request, at most `limit` of them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the budget applies to.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);

#[derive(Debug)]
pub struct Budget {
    limit: usize,
    /// When each request still inside the window was accepted, oldest first.
    spent: VecDeque<Instant>,
}

impl Budget {
    pub fn new(limit: u32) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Budget { limit, spent: VecDeque::with_capacity(limit.min(4096)) }
    }

    /// Whether one more request may be accepted at `now`. Does not spend anything.
    pub fn allows(&mut self, now: Instant) -> bool {
        while self.spent.front().is_some_and(|&at| now.saturating_duration_since(at) >= WINDOW) {
            self.spent.pop_front();
        }
        self.spent.len() < self.limit
    }

    /// Records a request accepted at `now` (after [`Budget::allows`] said yes).
    pub fn spend(&mut self, now: Instant) {
        self.spent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Budget, WINDOW};

    #[test]
    fn the_window_slides() {
        let start = Instant::now();
        let mut budget = Budget::new(2);
        assert!(budget.allows(start));
        budget.spend(start);
        let later = start + Duration::from_secs(30 * 60);
        assert!(budget.allows(later));
        budget.spend(later);
        assert!(!budget.allows(later), "two spent within the hour");
        assert!(!budget.allows(start + WINDOW - Duration::from_secs(1)));
        // The first request leaves the window; the second is still in it.
        assert!(budget.allows(start + WINDOW));
        budget.spend(start + WINDOW);
        assert!(!budget.allows(start + WINDOW));
        assert!(budget.allows(later + WINDOW));
    }
}
