//! Backoff between reconnects and retried writes: `backon`'s exponential policy with jitter, so
//! many inputs that lost the same broker do not come back in lock-step.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

/// Growing delays from `min` to `max`, forever.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        let builder =
            ExponentialBuilder::default().with_min_delay(min).with_max_delay(max).with_jitter().without_max_times();
        Backoff { builder, delays: builder.build(), max }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.max)
    }

    /// Starts again from the shortest delay (after a success).
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
    }

    /// Sleeps for the next delay; `false` if `cancel` fired first.
    pub async fn wait(&mut self, cancel: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(160)), "{delays:?}");
        assert!(delays[7] >= Duration::from_millis(80), "{delays:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(20));
    }
}
