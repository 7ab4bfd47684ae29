//! Planning a topology: everything that can fail happens here, before the running topology is
//! touched. Each stage's guest is resolved to a version (the pipeline file's, unless a version
//! activated over the API still applies), compiled, and its `init` tried on a private copy of the
//! stage's state; stages whose settings and version did not change are kept as they run.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

use super::processor::{Settings, Slot};
use super::{Current, StageInfo, Topology, TopologyError, trial};
use crate::config::{GuestSource, InputConfig, OutputConfig, Pipeline};
use crate::guests::{ActiveRecord, Source};
use crate::inputs::http::HttpInput;
use crate::outputs::websocket::TailHub;
use crate::wasm::builtin;

/// A fully built topology, ready to install.
#[derive(Debug)]
pub(super) struct Plan {
    pub slots: Vec<Slot>,
    pub settings: Settings,
    pub current: Current,
    pub http: Option<HttpInput>,
    pub max_pending_bytes: u64,
    pub changes: Changes,
}

/// What a reload changed, by name.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Changes {
    pub stages_added: Vec<String>,
    pub stages_changed: Vec<String>,
    pub stages_removed: Vec<String>,
    pub stages_kept: Vec<String>,
    pub inputs_changed: Vec<String>,
    pub inputs_kept: Vec<String>,
    pub outputs_changed: Vec<String>,
    pub outputs_kept: Vec<String>,
}

impl Topology {
    pub(super) async fn plan(&self, pipeline: &Pipeline, current: &Current) -> Result<Plan, TopologyError> {
        let mut changes = Changes::default();
        let mut slots = Vec::new();
        let mut stages = Vec::new();
        for config in &pipeline.config.stages {
            let stage = config.name.clone();
            let source = pipeline.guest_source(config);
            let guest =
                source.guest_name().map_err(|message| TopologyError::Guest { stage: stage.clone(), message })?;
            let Base { base, sha256: base_sha, bytes: base_bytes } = self.base_version(&stage, &guest, &source)?;
            let previous_record = self.registry.active(&stage).filter(|r| r.guest == guest);
            let active = match &previous_record {
                Some(r) if r.base == base => r.active.clone(),
                _ => base_sha.clone().ok_or_else(|| TopologyError::Guest {
                    stage: stage.clone(),
                    message: format!(
                        "`{guest}` is neither a built-in guest ({}), a file, nor an uploaded guest (upload it with `sluice guest push {guest} FILE`)",
                        builtin::NAMES.join(", ")
                    ),
                })?,
            };
            let previous = match &previous_record {
                Some(r) if r.active != active => Some(r.active.clone()),
                Some(r) => r.previous.clone(),
                None => None,
            };
            let record = ActiveRecord { guest: guest.clone(), active: active.clone(), previous, base };
            // The pipeline's own bytes are at hand when they are what runs: no need to read them back.
            let bytes = base_bytes.filter(|_| base_sha.as_deref() == Some(active.as_str()));
            let version = self
                .version(&guest, &active, bytes)
                .await
                .map_err(|source| TopologyError::Load { stage: stage.clone(), source })?;
            let running = current.stages.iter().find(|s| s.config.name == stage);
            match running {
                Some(info) if info.config == *config && info.record.active == active => {
                    changes.stages_kept.push(stage.clone());
                    slots.push(Slot::Keep(stage));
                    stages.push(StageInfo { record, ..info.clone() });
                    continue;
                }
                Some(_) => changes.stages_changed.push(stage.clone()),
                None => changes.stages_added.push(stage.clone()),
            }
            let state = self.state(config).await?;
            // The trial keeps a failing `init` off the processor thread while a pipeline runs; at
            // start-up nothing runs yet, so the install's own `init` is the only one needed.
            if current.pipeline.is_some() {
                trial(config, &version, &state)
                    .await
                    .map_err(|source| TopologyError::Init { stage: stage.clone(), source })?;
            }
            slots.push(Slot::New { config: config.clone(), version, state });
            stages.push(StageInfo { config: config.clone(), guest, record, canary: None });
        }
        for info in &current.stages {
            if !stages.iter().any(|s| s.config.name == info.config.name) {
                changes.stages_removed.push(info.config.name.clone());
            }
        }

        let store_events = pipeline.config.outputs.iter().any(|o| matches!(o, OutputConfig::Libsql(_)));
        let websocket = pipeline.config.outputs.iter().find_map(|o| match o {
            OutputConfig::Websocket(c) => Some(c.clone()),
            _ => None,
        });
        let tail = if websocket == current.websocket {
            current.tail.clone()
        } else {
            changes
                .outputs_changed
                .push(websocket.as_ref().and_then(|c| c.name.clone()).unwrap_or_else(|| "websocket".into()));
            websocket.as_ref().map(|c| Arc::new(TailHub::new(c.buffer_batches, c.dead_letters, c.sessions.clone())))
        };

        let old_http = current.pipeline.as_ref().and_then(|p| http_config(p).cloned());
        let new_http = http_config(pipeline);
        let http = match new_http {
            Some(c) if old_http.as_ref() == Some(c) && self.live.http().is_some() => {
                changes.inputs_kept.push(input_name(pipeline));
                self.live.http()
            }
            Some(c) => {
                changes.inputs_changed.push(input_name(pipeline));
                Some(HttpInput::new(&input_name(pipeline), c.clone()))
            }
            None => None,
        };

        Ok(Plan {
            slots,
            settings: Settings {
                max_events: pipeline.config.batch.max_events,
                store_events,
                tail: tail.clone(),
                sinks: Vec::new(),
            },
            current: Current {
                pipeline: Some(pipeline.clone()),
                stages,
                websocket,
                tail,
                inputs: Default::default(),
                sinks: Default::default(),
                inference: None,
            },
            http,
            max_pending_bytes: pipeline.config.journal.max_pending_mib * 1024 * 1024,
            changes,
        })
    }

    /// What the pipeline file names for a stage: `(base, sha256)`. Built-in and file guests are
    /// added to the registry (so they can be rolled back to later) and their base is their hash;
    /// an uploaded guest's base is its name and its version the newest upload, if any.
    fn base_version(&self, stage: &str, guest: &str, source: &GuestSource) -> Result<Base, TopologyError> {
        let local =
            source.local_bytes().map_err(|message| TopologyError::Guest { stage: stage.to_string(), message })?;
        let Some(bytes) = local else {
            let sha256 = self.registry.latest_upload(guest).map(|v| v.sha256);
            return Ok(Base { base: format!("upload:{guest}"), sha256, bytes: None });
        };
        let kind = if matches!(source, GuestSource::Builtin(_)) { Source::Builtin } else { Source::File };
        let (info, _) = self.registry.add(guest, &bytes, kind, None)?;
        Ok(Base { base: info.sha256.clone(), sha256: Some(info.sha256), bytes: Some(bytes) })
    }
}

/// What a pipeline file names for a stage (see [`Topology::base_version`]).
struct Base {
    /// The built-in's or file's hash, or `upload:<name>`.
    base: String,
    /// The version that means, if there is one.
    sha256: Option<String>,
    /// Its bytes, when they were just read.
    bytes: Option<Cow<'static, [u8]>>,
}

fn http_config(pipeline: &Pipeline) -> Option<&crate::config::HttpInputConfig> {
    pipeline.config.inputs.iter().find_map(|i| match i {
        InputConfig::Http(c) => Some(c),
        _ => None,
    })
}

fn input_name(pipeline: &Pipeline) -> String {
    pipeline
        .config
        .inputs
        .iter()
        .find(|i| matches!(i, InputConfig::Http(_)))
        .map_or_else(|| "http".into(), |i| i.name().to_string())
}
