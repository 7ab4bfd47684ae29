//! Inputs: where events enter. Each input validates what it receives, appends it to the journal
//! and acknowledges only once the journal has made it durable.

pub mod http;
