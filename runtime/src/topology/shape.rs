//! The running pipeline's inputs and outputs by name and kind, as the dashboard draws them.
//! Stages are in the stage view ([`super::Topology::status`]); this is the rest of the picture.

use serde::Serialize;

use crate::config::PipelineConfig;

/// One input or output of the running pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    pub name: String,
    /// `http`, `amqp`, `kafka`, `zeromq`; `libsql`, `websocket`, `postgres`, `kafka`, `webhook`.
    pub kind: &'static str,
}

/// The inputs and outputs, in pipeline-file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Shape {
    pub inputs: Vec<Endpoint>,
    pub outputs: Vec<Endpoint>,
}

impl Shape {
    pub fn of(config: &PipelineConfig) -> Shape {
        Shape {
            inputs: config.inputs.iter().map(|i| Endpoint { name: i.name().to_string(), kind: i.kind() }).collect(),
            outputs: config.outputs.iter().map(|o| Endpoint { name: o.name().to_string(), kind: o.kind() }).collect(),
        }
    }
}
