//! The only `bindgen!` site: host-side bindings for `sluice:pipeline@0.1.0`'s `stage-guest` world.

wasmtime::component::bindgen!({
    world: "stage-guest",
    path: "../wit/pipeline-0.1.0",
});

pub use self::exports::sluice::pipeline::stage;
pub use self::sluice::pipeline::{clock, inference, log, signal, state, types};
