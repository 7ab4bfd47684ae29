//! Writing a call's state changes to the host, and saying so once when that keeps failing.
//!
//! Every stateful guest ends a call the same way: apply its changed keys, carry on in memory if
//! the host refuses some (quota, size), and log the trouble without a line per call. Written
//! once here so the guests agree on what "degraded but running" looks like.

use crate::{State, StateError};

/// How often, in calls, a save failure that persists is logged again.
pub const LOG_EVERY: u64 = 1000;

/// A call whose writes were refused in part.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveFailure {
    /// Writes refused.
    pub failed: usize,
    /// The first refused key, and why.
    pub key: String,
    pub error: StateError,
}

impl State {
    /// Applies `writes` (`Some` sets the value, `None` deletes the key). A refused write does not
    /// stop the others; the refusals are summed up in the error.
    pub fn apply(self, writes: impl IntoIterator<Item = (String, Option<Vec<u8>>)>) -> Result<(), SaveFailure> {
        let mut failure: Option<SaveFailure> = None;
        for (key, value) in writes {
            let Some(value) = value else {
                self.delete(&key);
                continue;
            };
            if let Err(error) = self.set(&key, &value) {
                match &mut failure {
                    Some(f) => f.failed += 1,
                    None => failure = Some(SaveFailure { failed: 1, key, error }),
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Why the host refused a write, in words.
pub fn describe(error: StateError) -> String {
    match error {
        StateError::KeyTooLong(limit) => format!("key longer than {limit} bytes"),
        StateError::ValueTooLarge(limit) => format!("value larger than {limit} bytes"),
        StateError::QuotaExceeded(quota) => format!("state quota of {quota} bytes reached"),
    }
}

/// Logs save failures without flooding: the first failing call, then every [`LOG_EVERY`]th while
/// they go on, and once when saving works again.
#[derive(Debug)]
pub struct SaveLog {
    /// What is saved, plural, e.g. `patterns`.
    what: &'static str,
    /// What carries on meanwhile, e.g. `mining continues in memory`.
    meanwhile: &'static str,
    /// Consecutive calls with a refused write.
    failing: u64,
}

impl SaveLog {
    pub const fn new(what: &'static str, meanwhile: &'static str) -> Self {
        Self { what, meanwhile, failing: 0 }
    }

    /// Records how a call's save went, logging as described above.
    pub fn record(&mut self, result: Result<(), SaveFailure>) {
        match result {
            Err(SaveFailure { failed, key, error }) => {
                if self.failing.is_multiple_of(LOG_EVERY) {
                    crate::log!(
                        Warn,
                        "could not save {failed} of the {}, first {key}: {}; {}",
                        self.what,
                        describe(error),
                        self.meanwhile
                    );
                }
                self.failing += 1;
            }
            Ok(()) if self.failing > 0 => {
                crate::log!(Info, "saving {} again", self.what);
                self.failing = 0;
            }
            Ok(()) => {}
        }
    }

    /// Consecutive calls whose save failed.
    pub fn failing(&self) -> u64 {
        self.failing
    }
}

#[cfg(test)]
mod tests {
    use super::{SaveLog, State};

    #[test]
    fn writes_and_deletes_apply_and_the_log_counts_failing_calls() {
        let state = State;
        assert!(state.set("s/gone", b"x").is_ok());
        let writes = vec![("s/a".to_string(), Some(b"1".to_vec())), ("s/gone".to_string(), None)];
        assert_eq!(state.apply(writes), Ok(()));
        assert_eq!(state.get("s/a"), Some(b"1".to_vec()));
        assert_eq!(state.get("s/gone"), None);
        let mut log = SaveLog::new("things", "work goes on");
        log.record(Err(super::SaveFailure { failed: 2, key: "k".into(), error: crate::StateError::KeyTooLong(1) }));
        log.record(Err(super::SaveFailure { failed: 1, key: "k".into(), error: crate::StateError::KeyTooLong(1) }));
        assert_eq!(log.failing(), 2);
        log.record(Ok(()));
        assert_eq!(log.failing(), 0);
    }
}
