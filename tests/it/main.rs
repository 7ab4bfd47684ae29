//! Integration tests: the real runtime (in-process on port 0, or the real binary where a test
//! kills it), real guests under real limits, the real embedded store.
//!
//! One test binary; shared helpers in [`helpers`]; one module per concern.

mod helpers;
mod peer;
mod pg;

mod amqp;
mod cli;
mod dashboard;
mod durability;
mod edge;
mod encryption;
mod hotswap;
mod ingest;
mod insights;
mod kafka;
mod lifecycle;
mod malformed;
mod mine;
mod pipeline_tests;
mod postgres;
mod precompiled;
mod queries;
mod reload;
mod sandbox;
mod seeds;
mod sessions;
mod signals;
mod tail;
mod zeromq;
