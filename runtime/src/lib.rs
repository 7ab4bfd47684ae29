//! Sluice: a log stream processor whose processing steps are sandboxed WebAssembly components.
//!
//! # Layout
//!
//! An event flows through the modules in this order (see `docs/ARCHITECTURE.md`):
//!
//! - [`inputs`] receive events (HTTP today) and append them to the [`journal`], acknowledging the
//!   producer only once the journal has made them durable.
//! - [`topology`] owns the running pipeline: it reads the journal in batches, runs each batch through
//!   the [`stages`] (guests loaded by [`wasm`]), and hands the result to the [`outputs`].
//! - [`outputs`] deliver processed batches: the embedded [`storage`] (libSQL) and the live stream.
//!   The store records how far into the journal it has committed, atomically with the data, which is
//!   what makes a replay after a crash exactly-once.
//! - [`inference`] asks a model endpoint, on a side path, for what guests request through the
//!   `inference` import.
//! - [`mining`] runs the mining guest over a log file (`sluice mine`).
//! - [`api`] serves queries, health, statistics and metrics; [`telemetry`] holds the counters.
//! - [`config`] parses and validates pipeline files; [`event`] is the host's event model.
//! - [`server`] wires it all together and owns start-up and graceful shutdown.

pub mod api;
pub mod client;
pub mod config;
pub mod event;
pub mod guests;
pub mod inference;
pub mod inputs;
pub mod journal;
pub mod mining;
pub mod outputs;
pub mod retry;
pub mod scaffold;
pub mod server;
pub mod stages;
pub mod storage;
pub mod telemetry;
pub mod testing;
pub mod topology;
pub mod wasm;

pub use server::{Running, Server, ServerOptions};
