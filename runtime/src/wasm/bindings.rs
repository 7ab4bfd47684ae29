//! The only `bindgen!` sites: host-side bindings for the two worlds of `sluice:pipeline@0.1.1`.
//!
//! `stage-guest` takes batches as typed records; `batch-guest` takes them in the `batch-types`
//! layout (one text buffer, spans into it). Both import the same host interfaces, which are
//! generated once, with the typed world, and reused by the batch world through `with`, so the host
//! implements each import once.

mod typed {
    wasmtime::component::bindgen!({
        world: "stage-guest",
        path: "../wit/pipeline-0.1.1",
    });
}

mod batched {
    wasmtime::component::bindgen!({
        world: "batch-guest",
        path: "../wit/pipeline-0.1.1",
        with: {
            "sluice:pipeline/log": crate::wasm::bindings::typed::sluice::pipeline::log,
            "sluice:pipeline/state": crate::wasm::bindings::typed::sluice::pipeline::state,
            "sluice:pipeline/signal": crate::wasm::bindings::typed::sluice::pipeline::signal,
            "sluice:pipeline/inference": crate::wasm::bindings::typed::sluice::pipeline::inference,
            "sluice:pipeline/clock": crate::wasm::bindings::typed::sluice::pipeline::clock,
        },
    });
}

pub use self::batched::sluice::pipeline::batch_types;
pub use self::batched::{BatchGuest, BatchGuestPre};
pub use self::typed::exports::sluice::pipeline::stage;
pub use self::typed::sluice::pipeline::{clock, inference, log, signal, state, types};
pub use self::typed::{StageGuest, StageGuestPre};
