//! Logging into the host's log.
//!
//! The host tags each line with the guest's name and version, so a guest only says what happened.
//! Off WebAssembly (unit tests) there is no host, and lines go to stderr instead.

use crate::Level;

/// Writes `message` to the host's log at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::sluice::pipeline::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Formats and writes a line to the host's log:
/// `sluice_guest::log!(Warn, "could not save {} patterns", n)`.
///
/// The level is one of `Trace`, `Debug`, `Info`, `Warn`, `Error`. Formatting happens only here, so
/// a guest pays for it only on the lines it actually writes.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log($crate::Level::$level, &::std::format!($($arg)+))
    };
}
