//! Guest versions in a running topology: upload, activate, roll back, canary, and the status
//! the API lists. Every change is prepared off the hot path (compiled, and `init` tried on a
//! private copy of the stage's state) and then switched by the processor between two batches.

use serde::Serialize;
use tokio::sync::oneshot;

use super::processor::Control;
use super::{StageInfo, Topology};
use crate::guests::{ActiveRecord, RegistryError, Source, VersionInfo};
use crate::stages::canary::CanaryReport;
use crate::stages::{StatsSnapshot, Version};
use crate::wasm::LoadError;

/// Why a lifecycle request failed. Each maps to one API error code.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("`{name}` is not a valid component: {reason}")]
    Invalid { name: String, reason: String },
    #[error("no stage runs guest `{0}`")]
    NoStage(String),
    #[error("stage `{stage}` does not run guest `{guest}`")]
    WrongStage { stage: String, guest: String },
    #[error("stage `{0}` has no previous version to roll back to")]
    NoPrevious(String),
    #[error("no canary runs for guest `{0}`")]
    NoCanary(String),
    #[error("activation failed; the active version stays: {0}")]
    Failed(String),
    #[error("the pipeline has stopped")]
    Stopped,
}

impl From<LoadError> for LifecycleError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Invalid { name, reason } => LifecycleError::Invalid { name, reason },
            other => LifecycleError::Failed(other.to_string()),
        }
    }
}

/// One stage switched to a version.
#[derive(Debug, Clone, Serialize)]
pub struct Activated {
    pub stage: String,
    pub guest: String,
    pub active: String,
    pub previous: Option<String>,
    /// How long the pipeline paused for the switch, in microseconds (0 when it was active already).
    pub pause_us: u64,
}

/// `GET /api/v1/guests`.
#[derive(Debug, Clone, Serialize)]
pub struct GuestsStatus {
    pub guests: Vec<GuestStatus>,
    pub stages: Vec<StageStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuestStatus {
    pub name: String,
    pub versions: Vec<VersionStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionStatus {
    #[serde(flatten)]
    pub info: VersionInfo,
    /// Counters since this process started; zero for a version not loaded.
    pub stats: StatsSnapshot,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub stage: String,
    pub guest: String,
    pub active: String,
    pub previous: Option<String>,
    pub canary: Option<CanaryReport>,
}

/// What an upload stored.
#[derive(Debug)]
pub struct Uploaded {
    pub info: VersionInfo,
    /// Whether the version is new (an upload of a stored version changes nothing).
    pub created: bool,
    /// The stage world the component implements.
    pub world: String,
}

pub(super) fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

impl Topology {
    /// Checks an uploaded component (it must compile and implement a stage world) and stores it
    /// as a new version of `name`. Nothing runs.
    pub async fn upload(
        &self,
        name: &str,
        bytes: Vec<u8>,
        signed_by: Option<String>,
    ) -> Result<Uploaded, LifecycleError> {
        crate::config::validate_guest_name(name).map_err(RegistryError::InvalidName)?;
        let world = self.check(name, bytes.clone()).await?;
        let registry = self.registry.clone();
        let name = name.to_string();
        // Writing and syncing files is blocking work.
        let (info, created) =
            tokio::task::spawn_blocking(move || registry.add(&name, &bytes, Source::Upload, signed_by))
                .await
                .map_err(|e| LifecycleError::Failed(e.to_string()))??;
        Ok(Uploaded { info, created, world })
    }

    /// Makes `version` (a hash prefix) of `guest` the active one in `stage`, or in every stage that
    /// runs `guest` when `stage` is `None`.
    pub async fn activate(
        &self,
        guest: &str,
        version: &str,
        stage: Option<&str>,
    ) -> Result<Vec<Activated>, LifecycleError> {
        let target = self.registry.find(guest, version)?;
        let mut current = self.current.lock().await;
        let indices = stage_indices(&current.stages, guest, stage)?;
        let mut done = Vec::new();
        for i in indices {
            done.push(self.switch(&mut current.stages[i], &target.sha256).await?);
        }
        Ok(done)
    }

    /// Switches back to each stage's previous version.
    pub async fn rollback(&self, guest: &str, stage: Option<&str>) -> Result<Vec<Activated>, LifecycleError> {
        let mut current = self.current.lock().await;
        let indices = stage_indices(&current.stages, guest, stage)?;
        let mut done = Vec::new();
        for i in indices {
            let info = &mut current.stages[i];
            let previous =
                info.record.previous.clone().ok_or_else(|| LifecycleError::NoPrevious(info.config.name.clone()))?;
            done.push(self.switch(info, &previous).await?);
        }
        Ok(done)
    }

    /// Prepares `sha256` off the hot path, has the processor switch to it, and records it.
    async fn switch(&self, info: &mut StageInfo, sha256: &str) -> Result<Activated, LifecycleError> {
        let stage = info.config.name.clone();
        if info.record.active == sha256 {
            return Ok(activated(info, 0));
        }
        let version = self.version(&info.guest, sha256, None).await?;
        self.trial(info, &version).await?;
        let (reply, answer) = oneshot::channel();
        let swap = Control::Swap { stage: stage.clone(), version, reply };
        self.control.send(swap).await.map_err(|_| LifecycleError::Stopped)?;
        let pause = answer.await.map_err(|_| LifecycleError::Stopped)?.map_err(LifecycleError::Failed)?;
        let record = ActiveRecord {
            guest: info.guest.clone(),
            active: sha256.to_string(),
            previous: Some(info.record.active.clone()),
            base: info.record.base.clone(),
        };
        info.record = record.clone();
        self.publish(info);
        self.registry.set_active(&stage, record)?;
        tracing::info!(stage, guest = %info.guest, version = %short(sha256), pause_us = pause.as_micros() as u64, "guest version activated");
        Ok(activated(info, u64::try_from(pause.as_micros()).unwrap_or(u64::MAX)))
    }

    /// Creates an instance of `version` with the stage's config on a private copy of its state,
    /// so a version that cannot start is refused before the running stage is touched.
    async fn trial(&self, info: &StageInfo, version: &Version) -> Result<(), LifecycleError> {
        let state = self.state(&info.config).await.map_err(|e| LifecycleError::Failed(e.to_string()))?;
        super::trial(&info.config, version, &state).await.map_err(|e| LifecycleError::Failed(e.to_string()))
    }

    /// Starts `version` of `guest` as a canary next to the active version.
    pub async fn canary_start(
        &self,
        guest: &str,
        version: &str,
        stage: Option<&str>,
        max_diffs: usize,
    ) -> Result<Vec<CanaryReport>, LifecycleError> {
        let target = self.registry.find(guest, version)?;
        let mut current = self.current.lock().await;
        let indices = stage_indices(&current.stages, guest, stage)?;
        let mut reports = Vec::new();
        for i in indices {
            let info = &mut current.stages[i];
            let version = self.version(guest, &target.sha256, None).await?;
            self.trial(info, &version).await?;
            let (reply, answer) = oneshot::channel();
            let start = Control::CanaryStart { stage: info.config.name.clone(), version, max_diffs, reply };
            self.control.send(start).await.map_err(|_| LifecycleError::Stopped)?;
            let report = answer.await.map_err(|_| LifecycleError::Stopped)?.map_err(LifecycleError::Failed)?;
            reports.push(report.lock().unwrap_or_else(|p| p.into_inner()).clone());
            info.canary = Some(report);
            self.publish(info);
        }
        Ok(reports)
    }

    /// The running canaries of `guest`.
    pub async fn canary_reports(&self, guest: &str) -> Vec<CanaryReport> {
        self.stages_view()
            .iter()
            .filter(|s| s.guest == guest)
            .filter_map(|s| s.canary.as_ref())
            .map(|r| r.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// Stops the canaries of `guest`; returns the stages whose canary stopped.
    pub async fn canary_discard(&self, guest: &str, stage: Option<&str>) -> Result<Vec<String>, LifecycleError> {
        let mut current = self.current.lock().await;
        let indices = stage_indices(&current.stages, guest, stage)?;
        let mut stopped = Vec::new();
        for i in indices {
            if self.stop_canary(&mut current.stages[i]).await?.is_some() {
                stopped.push(current.stages[i].config.name.clone());
            }
        }
        if stopped.is_empty() {
            return Err(LifecycleError::NoCanary(guest.to_string()));
        }
        Ok(stopped)
    }

    /// Makes each canary's candidate the active version, then stops the canary.
    pub async fn canary_promote(&self, guest: &str, stage: Option<&str>) -> Result<Vec<Activated>, LifecycleError> {
        let mut current = self.current.lock().await;
        let indices = stage_indices(&current.stages, guest, stage)?;
        let mut done = Vec::new();
        for i in indices {
            let info = &mut current.stages[i];
            let Some(candidate) = self.stop_canary(info).await? else { continue };
            done.push(self.switch(info, &candidate.guest.sha256).await?);
        }
        if done.is_empty() {
            return Err(LifecycleError::NoCanary(guest.to_string()));
        }
        Ok(done)
    }

    async fn stop_canary(&self, info: &mut StageInfo) -> Result<Option<Version>, LifecycleError> {
        if info.canary.is_none() {
            return Ok(None);
        }
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::CanaryStop { stage: info.config.name.clone(), reply })
            .await
            .map_err(|_| LifecycleError::Stopped)?;
        info.canary = None;
        self.publish(info);
        answer.await.map_err(|_| LifecycleError::Stopped)
    }

    /// Every guest with its versions and counters, and what each stage runs.
    pub async fn status(&self) -> GuestsStatus {
        let stages = self.stages_view();
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let guests = self
            .registry
            .list()
            .into_iter()
            .map(|(name, infos)| GuestStatus {
                versions: infos
                    .into_iter()
                    .map(|info| {
                        let stats = versions
                            .get(&(name.clone(), info.sha256.clone()))
                            .map(|v| v.stats.snapshot())
                            .unwrap_or_default();
                        VersionStatus { info, stats }
                    })
                    .collect(),
                name,
            })
            .collect();
        let stages = stages
            .iter()
            .map(|s| StageStatus {
                stage: s.config.name.clone(),
                guest: s.guest.clone(),
                active: short(&s.record.active),
                previous: s.record.previous.as_deref().map(short),
                canary: s.canary.as_ref().map(|r| r.lock().unwrap_or_else(|p| p.into_inner()).clone()),
            })
            .collect();
        GuestsStatus { guests, stages }
    }
}

fn activated(info: &StageInfo, pause_us: u64) -> Activated {
    Activated {
        stage: info.config.name.clone(),
        guest: info.guest.clone(),
        active: short(&info.record.active),
        previous: info.record.previous.as_deref().map(short),
        pause_us,
    }
}

/// The stages a request is about: `stage` if given (it must run `guest`), else every stage that
/// runs `guest`.
fn stage_indices(stages: &[StageInfo], guest: &str, stage: Option<&str>) -> Result<Vec<usize>, LifecycleError> {
    match stage {
        Some(name) => match stages.iter().position(|s| s.config.name == name) {
            Some(i) if stages[i].guest == guest => Ok(vec![i]),
            _ => Err(LifecycleError::WrongStage { stage: name.to_string(), guest: guest.to_string() }),
        },
        None => {
            let found: Vec<usize> =
                stages.iter().enumerate().filter(|(_, s)| s.guest == guest).map(|(i, _)| i).collect();
            if found.is_empty() { Err(LifecycleError::NoStage(guest.to_string())) } else { Ok(found) }
        }
    }
}
