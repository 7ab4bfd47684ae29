//! The trait a stage implements, and the macro that exports it as the component's `batch-stage`.
//!
//! The component exports the generated `batch-stage` interface; [`export_stage!`] puts a small
//! adapter between it and a [`Guest`], so a guest works on owned events ([`Guest::process`]) or,
//! when it overrides [`Guest::process_batch`], on the batch where it lies.

use crate::answers::Answers;
use crate::batch::BatchView;
use crate::types::{Event, Outcome};
use crate::wire;

/// A pipeline stage.
///
/// `init` is called once per instance with the stage's config, then `process_batch` once per
/// batch (an empty batch is a tick), which must answer exactly one outcome per event, in order.
/// Like the generated bindings, the functions take no `self`: what `init` builds lives in a
/// static (see [`InstanceCell`](crate::InstanceCell)).
pub trait Guest {
    /// Called once per instance, before any batch, with the stage's `config` from the pipeline
    /// file as JSON text (`{}` when absent). An error stops the pipeline from starting and is
    /// reported to the user.
    fn init(config: String) -> Result<(), String>;

    /// Processes one batch of owned events: exactly one outcome per event, in order.
    fn process(batch: Vec<Event>) -> Vec<Outcome>;

    /// Processes one batch as it crossed the boundary, writing one outcome per event into
    /// `answers`, in order.
    ///
    /// By default it copies the events out, calls [`Self::process`] and writes its outcomes. A
    /// stage that wants to avoid those copies overrides it, reading from `batch` and writing
    /// through [`Answers`]; it should then answer as [`Self::process`] would.
    fn process_batch(batch: &BatchView<'_>, answers: &mut Answers) {
        process_owned::<Self>(batch, answers);
    }
}

/// What [`Guest::process_batch`] does unless overridden: copies the events out, calls
/// `T::process` and writes its outcomes. For an override that takes its own path only sometimes.
pub fn process_owned<T: Guest + ?Sized>(batch: &BatchView<'_>, answers: &mut Answers) {
    for outcome in T::process(batch.to_events()) {
        answers.push(outcome);
    }
}

/// `batch` handed to `T` as the exported `process` hands it: `T`'s answer.
pub(crate) fn answer<T: Guest + ?Sized>(batch: &wire::Batch) -> wire::Results {
    let view = BatchView::new(batch);
    let mut answers = Answers::with_capacity(view.len(), 0);
    T::process_batch(&view, &mut answers);
    answers.finish()
}

/// What [`export_stage!`](crate::export_stage!) expands to calls; not part of the API.
#[doc(hidden)]
pub mod __export {
    pub use crate::bindings::exports::sluice::pipeline::batch_stage::Guest as BatchStage;
    pub use crate::wire::{Batch, Results};

    /// One call of the exported `process`, handed to `T`.
    pub fn process<T: crate::Guest + ?Sized>(batch: &Batch) -> Results {
        super::answer::<T>(batch)
    }
}

/// Exports a type implementing [`Guest`] as the component's stage:
/// `sluice_guest::export_stage!(MyStage);`, once per component.
///
/// The export symbols' names are not valid in a native shared library, which `cargo test` builds
/// for `cdylib` crates, so invoke it under `#[cfg(target_arch = "wasm32")]` in crates that are
/// also tested natively.
#[macro_export]
macro_rules! export_stage {
    ($ty:ty) => {
        const _: () = {
            /// Connects the generated `batch-stage` export to the guest.
            struct __SluiceBatchStage;

            impl $crate::__export::BatchStage for __SluiceBatchStage {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    <$ty as $crate::Guest>::init(config)
                }

                fn process(batch: $crate::__export::Batch) -> $crate::__export::Results {
                    $crate::__export::process::<$ty>(&batch)
                }
            }

            $crate::bindings::__export_batch_stage! {
                __SluiceBatchStage with_types_in $crate::bindings
            }
        };
    };
}
