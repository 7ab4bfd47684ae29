//! Bindings and small helpers shared by every Sluice guest.
//!
//! This crate is the only place in the guest workspace that runs `wit_bindgen::generate!`, for the
//! `sluice:pipeline/batch-guest` world. Generating the bindings once keeps every guest on the same
//! types and lets them share helpers written against those types.
//!
//! Under that world a batch crosses the boundary with all its strings in one buffer (the
//! `batch-types` layout, see [`wire`]). A guest still works on plain owned records ([`Event`],
//! [`Outcome`], ...): it implements [`Guest`] and exports itself with [`export_stage!`]:
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
//! A stage for which copying each event out costs too much overrides
//! [`Guest::process_batch`] instead: it reads the events where they lie through [`BatchView`]
//! and writes its outcomes with [`Answers`], referring to strings by [`Span`]. [`pack`],
//! [`unpack`] and [`process_packed`] do the host's side of that in native tests.
//!
//! The bindings compile on the host target too (their imports then refuse to be called), so a
//! guest's logic can be unit-tested with a plain `cargo test`. The helpers here that touch the
//! host ([`log`](fn@log), [`State`]) fall back to stderr and an in-memory map off WebAssembly for
//! the same reason.

/// The generated bindings, kept in their own module so the lints of this workspace, which the
/// generator does not follow, can be relaxed for them alone. Public only for what
/// [`export_stage!`] expands to.
#[doc(hidden)]
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
pub mod bindings {
    wit_bindgen::generate!({
        world: "batch-guest",
        path: "../../wit/pipeline-0.1.1",
        pub_export_macro: true,
        export_macro_name: "__export_batch_stage",
        default_bindings_module: "sluice_guest",
        additional_derives: [PartialEq],
    });
}

mod answers;
mod batch;
mod cell;
mod encode;
mod event;
mod guest;
pub mod inference;
mod json;
mod log;
mod pack;
pub mod saving;
pub mod signal;
mod span;
mod state;
mod types;

#[cfg(test)]
mod tests;

/// The records of the `batch-types` layout as generated: what crosses the boundary, strings as
/// [`Span`]s of one text buffer and lists as [`Range`](wire::Range)s of side lists.
pub mod wire {
    pub use crate::bindings::sluice::pipeline::batch_types::{
        Annotation, Attribute, Batch, Event, Outcome, PatternRef, Range, Results, Span,
    };
}

pub use bindings::sluice::pipeline::log::Level;
pub use bindings::sluice::pipeline::state::StateError;

pub use answers::Answers;
pub use batch::{BatchView, EventView};
pub use cell::InstanceCell;
#[doc(hidden)]
pub use guest::__export;
pub use guest::{Guest, process_owned};
pub use pack::{pack, process_packed, unpack};
pub use types::{Annotation, Attribute, Event, Outcome, PatternRef};
pub use wire::{Batch, Results, Span};

pub use event::{annotate_pattern, blank_event, fail, string_attribute};
pub use json::{push_json_string, to_json_string};
pub use log::log;
pub use saving::{SaveFailure, SaveLog};
pub use signal::{SignalKind, emit};
pub use state::State;
