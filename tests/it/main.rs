//! Integration tests: the real runtime (in-process on port 0, or the real binary where a test
//! kills it), real guests under real limits, the real embedded store.
//!
//! One test binary; shared helpers in [`helpers`]; one module per concern.

mod helpers;

mod durability;
mod encryption;
mod ingest;
mod malformed;
mod sandbox;
mod tail;
