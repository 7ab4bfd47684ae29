//! Inputs: where events enter. Each input validates what it receives, appends it to the journal
//! and acknowledges only once the journal has made it durable (`context.rs` has the rules broker
//! inputs follow).

#[cfg(feature = "amqp")]
pub mod amqp;
mod context;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "zeromq")]
pub mod zeromq;

pub use context::{InputContext, InputError, REJECTED_KEEP_BYTES, stable_id};
