//! Memory limits per instance, remembering a refusal so the resulting trap can be named.

use wasmtime::ResourceLimiter;

/// Caps every linear memory of an instance and records when the guest hit the cap.
#[derive(Debug)]
pub struct MemoryLimiter {
    pub max_bytes: usize,
    /// The size a refused growth asked for, if any.
    pub refused: Option<usize>,
    /// The largest size a memory was allowed to grow to: the instance's high-water mark.
    pub peak: usize,
}

impl MemoryLimiter {
    pub fn new(max_bytes: usize) -> Self {
        MemoryLimiter { max_bytes, refused: None, peak: 0 }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = Some(desired);
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any real guest.
        Ok(desired <= 1_000_000)
    }
}
