//! What the guest answers for a mined message: its pattern, and the values of the pattern's
//! variables.
//!
//! Two ways to the same outcome. [`annotation`] builds it owned, for `Guest::process`;
//! [`BatchSpans`] writes it straight into the batch's [`Answers`]: each pattern's
//! id and template once per batch, however many events it annotates, the `template_vars` key
//! once per batch, and the variables' JSON directly into the answer's text.

use sluice_guest::wire::{Attribute as WireAttribute, PatternRef as WirePatternRef};
use sluice_guest::{Annotation, Answers, Attribute, Outcome, PatternRef, Span, push_json_string};

use crate::Miner;
use crate::cluster::Cluster;

/// The attribute holding the values at a template's `<*>` positions, as a JSON array of strings.
pub const TEMPLATE_VARS: &str = "template_vars";

/// The outcome for the message `text` just mined into `index`: its pattern, and its variables'
/// values when the template has any.
pub fn annotation(miner: &Miner, index: u32, text: &str) -> Outcome {
    let Some(cluster) = miner.cluster(index) else {
        return Outcome::Keep;
    };
    let mut attributes = Vec::new();
    if cluster.has_variables() {
        let mut json = String::new();
        push_variables(&mut json, miner, index, text, cluster);
        attributes.push(Attribute { key: TEMPLATE_VARS.into(), value: json });
    }
    Outcome::Annotate(Annotation {
        level: None,
        pattern: Some(PatternRef { id: cluster.id.clone(), template: cluster.template.clone() }),
        insight: None,
        attributes,
    })
}

/// Appends the values of `cluster`'s variables in `text` (just mined into `index`) to `out`, as a
/// JSON array of strings: `["v1","v2"]`.
fn push_variables(out: &mut String, miner: &Miner, index: u32, text: &str, cluster: &Cluster) {
    // Sized once: the values come from the message, plus quotes and commas.
    out.reserve(text.len() + 8 + 3 * cluster.tokens.len());
    out.push('[');
    for (i, value) in miner.variables(index, text).enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, value);
    }
    out.push(']');
}

/// The strings already written into the current batch's answer, by what they stand for.
///
/// Kept between batches only to reuse its memory: a span is valid in the answer it was written
/// to, so every entry is stamped with the batch it belongs to and ignored in later ones.
#[derive(Debug, Default)]
pub struct BatchSpans {
    /// Number of the current batch; entries of earlier batches carry a smaller one.
    batch: u64,
    /// Per cluster index, the spans of its id and template.
    patterns: Vec<PatternSpans>,
    /// The span of [`TEMPLATE_VARS`].
    template_vars: Option<Span>,
}

/// The spans of one pattern's id and template (as of its `revision`) in the answer of batch
/// `batch`.
#[derive(Debug, Clone, Copy)]
struct PatternSpans {
    batch: u64,
    revision: u32,
    id: Span,
    template: Span,
}

impl PatternSpans {
    /// No batch's: batches are numbered from 1.
    const UNUSED: Self =
        Self { batch: 0, revision: 0, id: Span { start: 0, len: 0 }, template: Span { start: 0, len: 0 } };

    fn to_wire(self) -> WirePatternRef {
        WirePatternRef { id: self.id, template: self.template }
    }
}

impl BatchSpans {
    /// Forgets the spans of the previous batch: the next ones go to a new answer.
    pub fn start_batch(&mut self) {
        self.batch += 1;
        self.template_vars = None;
    }

    /// Writes the outcome [`annotation`] would give for `text` just mined into `index`.
    pub fn annotate(&mut self, answers: &mut Answers, miner: &Miner, index: u32, text: &str) {
        let Some(cluster) = miner.cluster(index) else {
            answers.keep();
            return;
        };
        let pattern = self.pattern(answers, index, cluster);
        let mut variables = None;
        if cluster.has_variables() {
            let key = *self.template_vars.get_or_insert_with(|| answers.span(TEMPLATE_VARS));
            let value = answers.span_with(|out| push_variables(out, miner, index, text, cluster));
            variables = Some(WireAttribute { key, value });
        }
        answers.annotate(None, Some(pattern), None, variables.as_slice());
    }

    /// The spans of `cluster`'s (at `index`) id and template, written if this batch has not
    /// written them yet, or (the template) if the template changed since.
    fn pattern(&mut self, answers: &mut Answers, index: u32, cluster: &Cluster) -> WirePatternRef {
        let batch = self.batch;
        let write = |answers: &mut Answers| PatternSpans {
            batch,
            revision: cluster.revision,
            id: answers.span(&cluster.id),
            template: answers.span(&cluster.template),
        };
        let Some(spans) = usize::try_from(index).ok().and_then(|slot| self.slot(slot)) else {
            return write(answers).to_wire();
        };
        if spans.batch != batch {
            *spans = write(answers);
        } else if spans.revision != cluster.revision {
            // The template generalised during the batch: later events get the new one, earlier
            // ones keep the span they were answered with. A cluster's id never changes.
            spans.revision = cluster.revision;
            spans.template = answers.span(&cluster.template);
        }
        spans.to_wire()
    }

    /// The entry of cluster index `slot`, made if needed.
    fn slot(&mut self, slot: usize) -> Option<&mut PatternSpans> {
        if self.patterns.len() <= slot {
            self.patterns.resize(slot.saturating_add(1), PatternSpans::UNUSED);
        }
        self.patterns.get_mut(slot)
    }
}
