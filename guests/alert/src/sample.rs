//! What a call's matching events say about one key, for the text of an alert.
//!
//! Only positions in the batch are kept while events are ingested, so a hot key costs a counter
//! increment and no copy; ids, source and template are read from the batch when an alert is
//! actually raised, still within the same call.

use sluice_guest::Event;

use crate::alert::MAX_EVENT_IDS;

/// Collected per key during one call, and cleared once the key is evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Matching events of this key in the call.
    pub events: u64,
    /// Positions in the batch of the first [`MAX_EVENT_IDS`] of them.
    first: [u32; MAX_EVENT_IDS],
}

impl Sample {
    /// Notes the event at `index` in the batch.
    pub fn push(&mut self, index: usize) {
        if let Some(slot) = self.first.get_mut(self.events as usize) {
            *slot = u32::try_from(index).unwrap_or(u32::MAX);
        }
        self.events += 1;
    }

    /// The noted events of `batch`, in arrival order.
    pub fn events_of<'b>(&self, batch: &'b [Event]) -> impl Iterator<Item = &'b Event> + use<'b> {
        let n = (self.events as usize).min(MAX_EVENT_IDS);
        let first = self.first;
        (0..n).filter_map(move |i| batch.get(first[i] as usize))
    }

    /// The ids of the noted events.
    pub fn ids(&self, batch: &[Event]) -> Vec<String> {
        self.events_of(batch).map(|e| e.id.clone()).collect()
    }

    /// The first pattern template among the noted events.
    pub fn template(&self, batch: &[Event]) -> Option<String> {
        self.events_of(batch).find_map(|e| e.pattern.as_ref().map(|p| p.template.clone()))
    }
}

#[cfg(test)]
mod tests {
    use sluice_guest::{PatternRef, blank_event};

    use super::Sample;

    #[test]
    fn keeps_the_first_ten() {
        let batch: Vec<_> = (0..15)
            .map(|i| {
                let mut e = blank_event();
                e.id = format!("e{i}");
                if i == 3 {
                    e.pattern = Some(PatternRef { id: "p".into(), template: "t <*>".into() });
                }
                e
            })
            .collect();
        let mut sample = Sample::default();
        for i in (1..15).step_by(1) {
            sample.push(i);
        }
        assert_eq!(sample.events, 14);
        assert_eq!(sample.ids(&batch), (1..11).map(|i| format!("e{i}")).collect::<Vec<_>>());
        assert_eq!(sample.template(&batch).as_deref(), Some("t <*>"));
    }
}
