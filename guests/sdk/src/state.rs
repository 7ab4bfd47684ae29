//! The guest's private key-value store.
//!
//! A thin wrapper over the `state` import, so guests call methods on one type instead of reaching
//! into the generated module, and so the same calls work in native unit tests, where an in-memory
//! map (per thread, without quota) stands in for the host.

use crate::StateError;

/// Handle to the host-owned store of this guest. It holds nothing itself; every call goes to the
/// host.
#[derive(Debug, Clone, Copy, Default)]
pub struct State;

#[cfg(target_arch = "wasm32")]
use crate::bindings::sluice::pipeline::state as backend;

impl State {
    /// The value stored under `key`, if any.
    pub fn get(self, key: &str) -> Option<Vec<u8>> {
        backend::get(key)
    }

    /// Stores `value` under `key`. The host may refuse (key or value too large, quota reached);
    /// guests should treat that as a degraded mode, not a fatal error.
    pub fn set(self, key: &str, value: &[u8]) -> Result<(), StateError> {
        backend::set(key, value)
    }

    /// Removes `key` if present.
    pub fn delete(self, key: &str) {
        backend::delete(key);
    }

    /// Every key starting with `prefix`, in key order, with its value.
    pub fn scan(self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        backend::scan(prefix)
    }
}

/// Stand-in for the host store when running natively (unit tests).
#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use crate::StateError;

    thread_local! {
        static STORE: RefCell<BTreeMap<String, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub fn get(key: &str) -> Option<Vec<u8>> {
        STORE.with_borrow(|s| s.get(key).cloned())
    }

    #[allow(clippy::unnecessary_wraps, reason = "mirrors the host import")]
    pub fn set(key: &str, value: &[u8]) -> Result<(), StateError> {
        STORE.with_borrow_mut(|s| s.insert(key.to_owned(), value.to_vec()));
        Ok(())
    }

    pub fn delete(key: &str) {
        STORE.with_borrow_mut(|s| s.remove(key));
    }

    pub fn scan(prefix: &str) -> Vec<(String, Vec<u8>)> {
        STORE.with_borrow(|s| {
            s.range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::State;

    #[test]
    fn native_store_round_trips() {
        let state = State;
        assert!(state.set("p/b", b"2").is_ok());
        assert!(state.set("p/a", b"1").is_ok());
        assert!(state.set("q/a", b"3").is_ok());
        assert_eq!(state.get("p/a"), Some(b"1".to_vec()));
        let keys: Vec<String> = state.scan("p/").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["p/a", "p/b"]);
        state.delete("p/a");
        assert_eq!(state.get("p/a"), None);
    }
}
