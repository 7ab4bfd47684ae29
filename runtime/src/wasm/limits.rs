//! Memory limits per instance, remembering a refusal so the resulting trap can be named.

use wasmtime::ResourceLimiter;

/// Caps every linear memory of an instance and records when the guest hit the cap.
#[derive(Debug)]
pub struct MemoryLimiter {
    pub max_bytes: usize,
    /// The size a refused growth asked for, if any.
    pub refused: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any real guest.
        Ok(desired <= 1_000_000)
    }
}
