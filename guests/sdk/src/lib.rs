//! Bindings and small helpers shared by every Sluice guest.
//!
//! This crate is the only place in the guest workspace that runs `wit_bindgen::generate!` for the
//! `sluice:pipeline/stage-guest` world. Generating the bindings once keeps every guest on the same
//! types and lets them share helpers written against those types. A guest implements [`Guest`] and
//! exports itself with:
//!
//! ```
//! use sluice_guest::{Event, Guest, Outcome};
//!
//! struct MyStage;
//!
//! impl Guest for MyStage {
//!     fn init(_config: String) -> Result<(), String> {
//!         Ok(())
//!     }
//!
//!     fn process(batch: Vec<Event>) -> Vec<Outcome> {
//!         batch.iter().map(|_| Outcome::Keep).collect()
//!     }
//! }
//!
//! // The export symbols' names are not valid in a native shared library, and `cargo test` builds
//! // one for `cdylib` crates: export on WebAssembly only.
//! #[cfg(target_arch = "wasm32")]
//! sluice_guest::export_stage!(MyStage);
//! ```
//!
//! The bindings compile on the host target too (their imports then refuse to be called), so a
//! guest's logic can be unit-tested with a plain `cargo test`. The helpers here that touch the
//! host ([`log`], [`State`]) fall back to stderr and an in-memory map off WebAssembly for the same
//! reason.

/// The generated bindings, kept in their own module so the lints of this workspace, which the
/// generator does not follow, can be relaxed for them alone.
#[allow(
    unsafe_code,
    unused_qualifications,
    missing_debug_implementations,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "generated code"
)]
mod bindings {
    wit_bindgen::generate!({
        world: "stage-guest",
        path: "../../wit/pipeline-0.1.0",
        pub_export_macro: true,
        export_macro_name: "export_stage",
        default_bindings_module: "sluice_guest",
        additional_derives: [PartialEq],
    });
}

mod cell;
mod event;
pub mod inference;
mod json;
mod log;
pub mod saving;
pub mod signal;
mod state;

// The generated modules stay reachable under their WIT paths (`exports` must be, for
// `export_stage!`); the flat re-exports below are what guests normally use.
pub use bindings::*;

pub use bindings::exports::sluice::pipeline::stage::Guest;
pub use bindings::sluice::pipeline::log::Level;
pub use bindings::sluice::pipeline::state::StateError;
pub use bindings::sluice::pipeline::types::{Annotation, Attribute, Event, Outcome, PatternRef};

pub use cell::InstanceCell;
pub use event::{annotate_pattern, blank_event, fail, string_attribute};
pub use json::{push_json_string, to_json_string};
pub use log::log;
pub use saving::{SaveFailure, SaveLog};
pub use signal::{SignalKind, emit};
pub use state::State;
