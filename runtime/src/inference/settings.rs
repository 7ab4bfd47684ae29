//! The settings the service runs with: the pipeline's `inference` section with the environment
//! applied. The environment wins so that a deployment can point a checked-in pipeline at its own
//! endpoint, and keep the key out of the file.

use std::fmt;
use std::time::Duration;

use crate::config::InferenceConfig;
use crate::config::inference::check_base_url;

use super::InferenceError;

/// Overrides `inference.url`.
pub const URL_ENV: &str = "SLUICE_INFERENCE_URL";
/// Overrides `inference.model`.
pub const MODEL_ENV: &str = "SLUICE_INFERENCE_MODEL";
/// The API key, winning over the variable `inference.api_key_env` names.
pub const KEY_ENV: &str = "SLUICE_INFERENCE_KEY";

/// How long a failed key is answered `known` (its failure stays readable) before a new `request`
/// may try it again: long enough that a broken endpoint is not hammered once per batch, short
/// enough that a pattern gets its insight once the endpoint is back.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(10 * 60);

/// Most answers kept; beyond this the oldest entry goes first.
pub const CACHE_ENTRIES: usize = 10_000;

/// Everything one service needs, resolved.
#[derive(Clone)]
pub struct Settings {
    /// `{url}/chat/completions`.
    pub endpoint: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; never logged nor shown by `Debug`.
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub max_queued: usize,
    pub budget_per_hour: u32,
    pub max_tokens: u32,
    pub temperature: f32,
    pub retry_failed_after: Duration,
    pub cache_entries: usize,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("max_concurrent", &self.max_concurrent)
            .field("max_queued", &self.max_queued)
            .field("budget_per_hour", &self.budget_per_hour)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Applies the environment (read through `env`, so tests need not touch the process's) to
    /// `config`. `Ok(None)`: no URL anywhere, inference is disabled.
    pub fn resolve(
        config: &InferenceConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Settings>, InferenceError> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let url = match set(URL_ENV) {
            Some(url) => check_base_url(url.trim()).map_err(|e| InferenceError::Config(format!("{URL_ENV}: {e}")))?,
            None => match &config.url {
                Some(url) => url.clone(),
                None => return Ok(None),
            },
        };
        let model = set(MODEL_ENV).or_else(|| config.model.clone().filter(|m| !m.trim().is_empty()));
        let Some(model) = model else {
            let message = format!("`inference.url` is set but no model: set `inference.model` or {MODEL_ENV}");
            return Err(InferenceError::Config(message));
        };
        let api_key = set(KEY_ENV).or_else(|| set(&config.api_key_env)).map(|k| k.trim().to_string());
        Ok(Some(Settings {
            endpoint: format!("{url}/chat/completions"),
            model: model.trim().to_string(),
            api_key,
            timeout: config.timeout,
            max_concurrent: config.max_concurrent,
            max_queued: config.max_queued,
            budget_per_hour: config.budget_per_hour,
            max_tokens: config.max_tokens,
            temperature: config.temperature,
            retry_failed_after: RETRY_FAILED_AFTER,
            cache_entries: CACHE_ENTRIES,
        }))
    }
}
