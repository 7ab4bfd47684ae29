//! Model inference through the host, and the pipeline clock.
//!
//! [`request`] never waits for the model: the host queues the call on a side path (timeout,
//! concurrency limit, hourly budget, cache per key) and [`lookup`] reads its answer later.
//! Natively (unit tests) a per-thread table stands in for the host: [`native`] lets a test say
//! what the "model" answers and what time it is.

pub use crate::bindings::sluice::pipeline::inference::{Answer, Status};

/// Asks the model once for `key` (normally a pattern id).
pub fn request(key: &str, system: &str, user: &str) -> Status {
    backend::request(key, system, user)
}

/// The answer for `key`, if it was requested.
pub fn lookup(key: &str) -> Option<Answer> {
    backend::lookup(key)
}

/// The pipeline clock: nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    backend::now_ns()
}

#[cfg(target_arch = "wasm32")]
mod backend {
    use super::{Answer, Status};
    use crate::bindings::sluice::pipeline::{clock, inference};

    pub fn request(key: &str, system: &str, user: &str) -> Status {
        inference::request(key, system, user)
    }

    pub fn lookup(key: &str) -> Option<Answer> {
        inference::lookup(key)
    }

    pub fn now_ns() -> i64 {
        clock::now_ns()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod backend {
    pub use super::native::{lookup, now_ns, request};
}

/// The native stand-in for the host's inference and clock, per thread.
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    use super::{Answer, Status};

    thread_local! {
        static NOW: Cell<i64> = const { Cell::new(0) };
        static ENABLED: Cell<bool> = const { Cell::new(false) };
        static REQUESTS: RefCell<Vec<(String, String, String)>> = const { RefCell::new(Vec::new()) };
        static ANSWERS: RefCell<BTreeMap<String, Answer>> = const { RefCell::new(BTreeMap::new()) };
    }

    /// Sets the clock.
    pub fn set_now(ns: i64) {
        NOW.set(ns);
    }

    /// Whether requests are accepted (`queued`) or answered `disabled`.
    pub fn set_enabled(enabled: bool) {
        ENABLED.set(enabled);
    }

    /// Makes `answer` what `lookup(key)` returns.
    pub fn answer(key: &str, answer: Answer) {
        ANSWERS.with_borrow_mut(|a| a.insert(key.to_owned(), answer));
    }

    /// The requests made since the last call: (key, system, user).
    pub fn take_requests() -> Vec<(String, String, String)> {
        REQUESTS.with_borrow_mut(std::mem::take)
    }

    pub fn request(key: &str, system: &str, user: &str) -> Status {
        if !ENABLED.get() {
            return Status::Disabled;
        }
        if ANSWERS.with_borrow(|a| a.contains_key(key)) {
            return Status::Known;
        }
        REQUESTS.with_borrow_mut(|r| r.push((key.to_owned(), system.to_owned(), user.to_owned())));
        ANSWERS.with_borrow_mut(|a| a.insert(key.to_owned(), Answer::Pending));
        Status::Queued
    }

    pub fn lookup(key: &str) -> Option<Answer> {
        ANSWERS.with_borrow(|a| a.get(key).cloned())
    }

    pub fn now_ns() -> i64 {
        NOW.get()
    }
}
