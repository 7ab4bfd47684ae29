//! Holding an instance's state between calls.
//!
//! The [`Guest`](crate::Guest) trait has associated functions, not methods: `init` and
//! `process` get no `self`. Whatever `init` builds (parsed config, a parse tree...) must therefore
//! live in a static, and every guest needs the same small wrapper for it.

use std::fmt;
use std::sync::{Mutex, PoisonError};

/// A slot for the value `init` builds and `process` uses.
///
/// A component instance is single-threaded, so the lock is never contended; it is there because a
/// `static` must be `Sync`. A poisoned lock cannot happen on WebAssembly (panics abort the
/// instance) and is ignored elsewhere, so no call here can fail.
pub struct InstanceCell<T> {
    slot: Mutex<Option<T>>,
}

impl<T> InstanceCell<T> {
    /// An empty cell, usable in a `static`.
    pub const fn new() -> Self {
        Self { slot: Mutex::new(None) }
    }

    /// Stores `value`, replacing whatever was there.
    pub fn set(&self, value: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    /// Runs `f` on the stored value, or returns `None` when nothing was stored yet (the host
    /// called `process` before `init`).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut guard = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_mut().map(f)
    }

    /// Whether a value was stored.
    pub fn is_set(&self) -> bool {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }
}

impl<T> Default for InstanceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for InstanceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceCell").field("set", &self.is_set()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::InstanceCell;

    #[test]
    fn empty_until_set() {
        static CELL: InstanceCell<u32> = InstanceCell::new();
        assert_eq!(CELL.with(|v| *v), None);
        CELL.set(4);
        assert_eq!(
            CELL.with(|v| {
                *v += 1;
                *v
            }),
            Some(5)
        );
        assert!(CELL.is_set());
    }
}
