//! One chat-completions call: the request body, the HTTP exchange under the timeout, and a
//! precise reason when it goes wrong. The reason ends up in front of whoever reads the insight,
//! so it says what happened (`timed out after 20s`, `HTTP 429: ...`), not just "error".

use std::time::Duration;

use serde_json::{Value, json};

use super::answer::{normalise, quote};
use super::settings::Settings;

/// Largest response body read; a bigger one is refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How a call ended, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The call did not finish within the timeout.
    Timeout(Duration),
    /// Anything else: the reason.
    Failed(String),
}

impl CallError {
    pub fn reason(&self) -> String {
        match self {
            CallError::Timeout(after) => format!("timed out after {}", humantime::format_duration(*after)),
            CallError::Failed(reason) => reason.clone(),
        }
    }
}

/// The HTTP side of the service: a connection pool and the resolved settings.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    settings: std::sync::Arc<Settings>,
}

impl Client {
    pub fn new(settings: std::sync::Arc<Settings>) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(settings.max_concurrent)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, settings })
    }

    /// Asks the model; the normalised answer (JSON text) or why there is none.
    pub async fn ask(&self, system: &str, user: &str) -> Result<String, CallError> {
        let timeout = self.settings.timeout;
        tokio::time::timeout(timeout, self.exchange(system, user)).await.map_err(|_| CallError::Timeout(timeout))?
    }

    async fn exchange(&self, system: &str, user: &str) -> Result<String, CallError> {
        let s = &self.settings;
        let body = json!({
            "model": s.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "response_format": {"type": "json_object"},
        });
        let mut request = self.http.post(&s.endpoint).json(&body);
        if let Some(key) = &s.api_key {
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.map_err(|e| CallError::Failed(self.describe(&e)))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| CallError::Failed(self.describe(&e)))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(CallError::Failed(format!("HTTP {}: response larger than 1 MiB", status.as_u16())));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            return Err(CallError::Failed(format!("HTTP {}: {}", status.as_u16(), quote(text.trim()))));
        }
        let response: Value = serde_json::from_str(&text)
            .map_err(|e| CallError::Failed(format!("response is not JSON ({e}): {}", quote(&text))))?;
        let content = response.pointer("/choices/0/message/content").and_then(Value::as_str).ok_or_else(|| {
            CallError::Failed(format!("response has no choices[0].message.content: {}", quote(&text)))
        })?;
        // Who answered: the server's name for the model when it gives one (it may be more precise
        // than the configured alias), else the configured name.
        let model = response.get("model").and_then(Value::as_str).unwrap_or(&s.model);
        normalise(content, model).map_err(CallError::Failed)
    }

    /// A transport error as a reason: what was tried, then its innermost cause (`Connection
    /// refused (os error 111)`), which reqwest's own message leaves out.
    fn describe(&self, error: &reqwest::Error) -> String {
        let mut cause: &dyn std::error::Error = error;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let what = if error.is_connect() {
            "cannot connect to"
        } else if error.is_body() || error.is_decode() {
            "cannot read the response of"
        } else {
            "request failed to"
        };
        format!("{what} {}: {cause}", self.settings.endpoint)
    }
}
