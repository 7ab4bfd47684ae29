//! Bucketed event counts over time: what every counting rule keeps per key.
//!
//! Time is cut into slots of `window / SLOTS` nanoseconds (an event's slot is its `received_ns`
//! divided by the slot width). The last [`SLOTS`] slots, up to and including the current one, are
//! the *window* and are counted one by one. Slots that leave the window are merged into coarse
//! buckets of `SLOTS` slots each (one window long): the *baseline*. Memory per key is therefore
//! `SLOTS + baseline buckets + 1` counters, whatever the event rate.
//!
//! At a time `now`, with `e` the newest slot already out of the window, the baseline holds the
//! `buckets` whole buckets before the bucket of `e`, plus the part of that bucket up to `e`: between
//! `buckets` and `buckets + 1` windows, and [`Series::baseline_slots`] says exactly how much.

/// Slots per window: the window's resolution (5 %).
pub const SLOTS: i64 = 20;

/// The shape of a rule's series: slot width and number of baseline buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub slot_ns: i64,
    /// Whole baseline buckets; 0 for a rule without baseline.
    pub buckets: i64,
}

impl Geometry {
    /// The geometry for `window_ns` (at least [`SLOTS`] ns) and `baseline_ns` (0 for none).
    pub fn new(window_ns: i64, baseline_ns: i64) -> Self {
        let slot_ns = (window_ns / SLOTS).max(1);
        let window = slot_ns * SLOTS;
        Self { slot_ns, buckets: (baseline_ns + window - 1) / window }
    }

    /// The slot of a time.
    pub const fn slot(self, ns: i64) -> i64 {
        ns.div_euclid(self.slot_ns)
    }

    /// The window as counted: `SLOTS` slots.
    pub const fn window_ns(self) -> i64 {
        self.slot_ns * SLOTS
    }

    /// Coarse counters kept: the whole buckets plus the partial one.
    const fn coarse_len(self) -> usize {
        if self.buckets == 0 { 0 } else { self.buckets as usize + 1 }
    }
}

/// The counts of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Newest slot reached; the window is `head - SLOTS + 1 ..= head`.
    head: i64,
    /// Per-slot counts of the window, at `slot mod SLOTS`.
    fine: Vec<u32>,
    /// Per-bucket counts of the baseline, at `bucket mod coarse.len()`.
    coarse: Vec<u32>,
    fine_sum: u64,
    coarse_sum: u64,
}

impl Series {
    /// An empty series whose window ends at `slot`.
    pub fn new(geometry: Geometry, slot: i64) -> Self {
        Self {
            head: slot,
            fine: vec![0; SLOTS as usize],
            coarse: vec![0; geometry.coarse_len()],
            fine_sum: 0,
            coarse_sum: 0,
        }
    }

    /// A series read back from the store; `None` when the counters do not fit `geometry`.
    pub fn from_parts(geometry: Geometry, head: i64, fine: Vec<u32>, coarse: Vec<u32>) -> Option<Self> {
        if fine.len() != SLOTS as usize || coarse.len() != geometry.coarse_len() {
            return None;
        }
        let fine_sum = fine.iter().map(|&c| u64::from(c)).sum();
        let coarse_sum = coarse.iter().map(|&c| u64::from(c)).sum();
        Some(Self { head, fine, coarse, fine_sum, coarse_sum })
    }

    /// The stored form: newest slot, window counters, baseline counters.
    pub fn parts(&self) -> (i64, &[u32], &[u32]) {
        (self.head, &self.fine, &self.coarse)
    }

    /// Events in the window.
    pub const fn current(&self) -> u64 {
        self.fine_sum
    }

    /// Events in the baseline.
    pub const fn baseline(&self) -> u64 {
        self.coarse_sum
    }

    /// How many slots the baseline covers now (see the module doc).
    pub const fn baseline_slots(&self, geometry: Geometry) -> i64 {
        let expired = self.head - SLOTS;
        geometry.buckets * SLOTS + expired.rem_euclid(SLOTS) + 1
    }

    /// Whether nothing is left to count.
    pub const fn is_empty(&self) -> bool {
        self.fine_sum == 0 && self.coarse_sum == 0
    }

    /// Counts one event in `slot`. Events older than the baseline are not counted.
    pub fn add(&mut self, geometry: Geometry, slot: i64) {
        self.advance(geometry, slot);
        if slot > self.head - SLOTS {
            let i = slot.rem_euclid(SLOTS) as usize;
            self.fine[i] = self.fine[i].saturating_add(1);
            self.fine_sum += 1;
        } else if !self.coarse.is_empty() {
            let bucket = slot.div_euclid(SLOTS);
            let newest = (self.head - SLOTS).div_euclid(SLOTS);
            if bucket >= newest - geometry.buckets {
                let i = bucket.rem_euclid(self.coarse.len() as i64) as usize;
                self.coarse[i] = self.coarse[i].saturating_add(1);
                self.coarse_sum += 1;
            }
        }
    }

    /// Moves the window forward so it ends at `slot`; no-op for an older slot.
    pub fn advance(&mut self, geometry: Geometry, slot: i64) {
        if slot <= self.head {
            return;
        }
        let horizon = SLOTS * (geometry.buckets + 2);
        if self.is_empty() || slot - self.head >= horizon {
            self.fine.fill(0);
            self.coarse.fill(0);
            (self.fine_sum, self.coarse_sum) = (0, 0);
            self.head = slot;
            return;
        }
        for entering in self.head + 1..=slot {
            let i = entering.rem_euclid(SLOTS) as usize;
            let leaving = std::mem::take(&mut self.fine[i]);
            self.fine_sum -= u64::from(leaving);
            if self.coarse.is_empty() {
                continue;
            }
            let old = entering - SLOTS;
            let j = old.div_euclid(SLOTS).rem_euclid(self.coarse.len() as i64) as usize;
            if old.rem_euclid(SLOTS) == 0 {
                // A new bucket starts: it takes the place of the oldest one.
                self.coarse_sum -= u64::from(std::mem::take(&mut self.coarse[j]));
            }
            self.coarse[j] = self.coarse[j].saturating_add(leaving);
            self.coarse_sum += u64::from(leaving);
        }
        self.head = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::{Geometry, SLOTS, Series};

    /// Reference: the events whose slot is in the window, and in the baseline slots before it.
    fn brute(events: &[i64], head: i64, baseline_slots: i64) -> (u64, u64) {
        let current = events.iter().filter(|&&s| s > head - SLOTS && s <= head).count() as u64;
        let lo = head - SLOTS - baseline_slots;
        let baseline = events.iter().filter(|&&s| s > lo && s <= head - SLOTS).count() as u64;
        (current, baseline)
    }

    #[test]
    fn window_only() {
        let g = Geometry::new(60_000_000_000, 0);
        assert_eq!((g.slot_ns, g.buckets), (3_000_000_000, 0));
        let mut s = Series::new(g, 0);
        for slot in [0, 0, 5, 19] {
            s.add(g, slot);
        }
        assert_eq!(s.current(), 4);
        s.advance(g, 19);
        assert_eq!(s.current(), 4);
        s.advance(g, 20);
        assert_eq!(s.current(), 2, "slot 0 left the window");
        s.advance(g, 39);
        assert_eq!(s.current(), 0);
        assert!(s.is_empty());
    }

    #[test]
    fn matches_a_brute_force_count() {
        let g = Geometry::new(20, 75);
        assert_eq!(g.buckets, 4);
        let mut s = Series::new(g, 0);
        let mut events = Vec::new();
        let mut x: u64 = 12345;
        let mut head = 0i64;
        for _ in 0..5000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let step = (x >> 60) as i64; // 0..=15
            head += if step > 12 { step * 7 } else { step / 4 };
            // Mostly current events, some late ones.
            let late = ((x >> 40) % 50) as i64;
            let slot = if late < 40 { head } else { head - late };
            s.add(g, slot);
            events.push(slot);
            let (c, b) = brute(&events, s.parts().0, s.baseline_slots(g));
            assert_eq!((s.current(), s.baseline()), (c, b), "head {head}");
        }
    }

    #[test]
    fn a_long_gap_clears_everything() {
        let g = Geometry::new(20, 40);
        let mut s = Series::new(g, 0);
        s.add(g, 0);
        s.advance(g, 1000);
        assert!(s.is_empty());
        assert_eq!(s.parts().0, 1000);
    }

    #[test]
    fn parts_round_trip_and_are_checked() {
        let g = Geometry::new(20, 40);
        let mut s = Series::new(g, 0);
        for slot in 0..70 {
            s.add(g, slot);
        }
        let (head, fine, coarse) = s.parts();
        let back = Series::from_parts(g, head, fine.to_vec(), coarse.to_vec()).unwrap();
        assert_eq!(back, s);
        assert!(Series::from_parts(g, head, fine.to_vec(), vec![1]).is_none());
    }
}
