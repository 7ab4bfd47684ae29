//! Settings of the host's inference service: the model endpoint guests reach through the
//! `inference` import (`crate::inference`).
//!
//! Every bound is checked while the file is parsed, so a mistake is reported with the file, line
//! and key like any other schema error. What can also come from the environment (`url`, `model`,
//! the key) is only resolved when the service is built, because the environment wins over the file.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// An OpenAI-compatible chat-completions endpoint. Without a `url` (here or in
/// `SLUICE_INFERENCE_URL`) inference is disabled and guests are told so.
///
/// ```yaml
/// inference:
///   url: http://127.0.0.1:11434/v1
///   model: llama3.2
///   budget_per_hour: 120
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceConfig {
    /// Base URL of the API, e.g. `http://127.0.0.1:11434/v1` or `https://api.openai.com/v1`;
    /// requests go to `{url}/chat/completions`. `SLUICE_INFERENCE_URL` overrides it.
    #[serde(default, deserialize_with = "base_url")]
    pub url: Option<String>,
    /// Model name sent with every request, e.g. `gpt-4o-mini`. Required once a URL is set;
    /// `SLUICE_INFERENCE_MODEL` overrides it.
    #[serde(default)]
    pub model: Option<String>,
    /// Name of the environment variable holding the API key, sent as `Authorization: Bearer`.
    /// Unset or empty: no header (local servers). `SLUICE_INFERENCE_KEY` wins over it.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// Longest one call may take, connection and whole answer included, e.g. `20s`.
    #[serde(default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Calls in flight at once.
    #[serde(default = "default_max_concurrent", deserialize_with = "max_concurrent")]
    pub max_concurrent: usize,
    /// Requests waiting for a free call slot; beyond this a request is answered `busy`.
    #[serde(default = "default_max_queued", deserialize_with = "at_least_one")]
    pub max_queued: usize,
    /// Requests accepted in any sliding hour; beyond this a request is answered `over-budget`
    /// (and does not count).
    #[serde(default = "default_budget_per_hour", deserialize_with = "at_least_one_u32")]
    pub budget_per_hour: u32,
    /// `max_tokens` of every request: bounds the length (and the cost) of an answer.
    #[serde(default = "default_max_tokens", deserialize_with = "at_least_one_u32")]
    pub max_tokens: u32,
    /// `temperature` of every request, 0 to 2; low keeps answers for one pattern steady.
    #[serde(default = "default_temperature", deserialize_with = "temperature")]
    pub temperature: f32,
}

fn default_api_key_env() -> String {
    "OPENAI_API_KEY".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_max_concurrent() -> usize {
    2
}
fn default_max_queued() -> usize {
    64
}
fn default_budget_per_hour() -> u32 {
    60
}
fn default_max_tokens() -> u32 {
    300
}
fn default_temperature() -> f32 {
    0.2
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            url: None,
            model: None,
            api_key_env: default_api_key_env(),
            timeout: default_timeout(),
            max_concurrent: default_max_concurrent(),
            max_queued: default_max_queued(),
            budget_per_hour: default_budget_per_hour(),
            max_tokens: default_max_tokens(),
            temperature: default_temperature(),
        }
    }
}

/// Most calls in flight a pipeline may ask for: each one is a socket and a task.
pub const MAX_CONCURRENT: usize = 64;

/// Checks a base URL (`http` or `https`, with a host) and drops a trailing `/`, so
/// `{url}/chat/completions` never has two. Shared with the environment override.
pub fn check_base_url(text: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{text}`: only http:// and https:// URLs are supported"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(text.trim_end_matches('/').to_string())
}

// The checks run inside the deserializer's visitors: an error raised there carries the line of
// the offending value, while one raised after deserializing would point at the section.

fn base_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_str(Text(check_base_url)).map(Some)
}

fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(Text(|text: &str| {
        let value = humantime::parse_duration(text).map_err(|e| format!("invalid duration `{text}`: {e}"))?;
        if value.is_zero() {
            return Err("must be above zero".to_string());
        }
        Ok(value)
    }))
}

fn max_concurrent<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let max = u64::try_from(MAX_CONCURRENT).unwrap_or(u64::MAX);
    let value = d.deserialize_any(Count { max })?;
    Ok(usize::try_from(value).unwrap_or(usize::MAX))
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
    let value = d.deserialize_any(Count { max })?;
    Ok(usize::try_from(value).unwrap_or(usize::MAX))
}

fn at_least_one_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = d.deserialize_any(Count { max: u64::from(u32::MAX) })?;
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

fn temperature<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    d.deserialize_f64(Temperature)
}

/// A string, checked by the function.
struct Text<F>(F);

impl<'de, T, F: FnOnce(&str) -> Result<T, String>> Visitor<'de> for Text<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

/// A whole number from 1 to `max`.
struct Count {
    max: u64,
}

impl<'de> Visitor<'de> for Count {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a whole number from 1 to {}", self.max)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        match v {
            0 => Err(E::custom("must be above zero")),
            v if v > self.max => Err(E::custom(format!("must be at most {}", self.max))),
            v => Ok(v),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom("must be above zero")),
        }
    }
}

/// A sampling temperature, 0 to 2.
struct Temperature;

impl<'de> Visitor<'de> for Temperature {
    type Value = f32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number from 0 to 2")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f32, E> {
        if !(0.0..=2.0).contains(&v) {
            return Err(E::custom(format!("must be between 0 and 2 (got {v})")));
        }
        // In range, so the narrowing only rounds.
        Ok(v as f32)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f32, E> {
        self.visit_f64(u32::try_from(v).map_or(f64::MAX, f64::from))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f32, E> {
        self.visit_f64(i32::try_from(v).map_or(f64::MIN, f64::from))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::InferenceConfig;
    use crate::config::Pipeline;

    fn parse(yaml: &str) -> Result<InferenceConfig, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let c = parse("{}").expect("parse");
        assert_eq!(c, InferenceConfig::default());
        assert_eq!(c.url, None);
        assert_eq!(c.api_key_env, "OPENAI_API_KEY");
        assert_eq!(c.timeout, Duration::from_secs(20));
        assert_eq!((c.max_concurrent, c.max_queued, c.budget_per_hour, c.max_tokens), (2, 64, 60, 300));
        assert!((c.temperature - 0.2).abs() < f32::EPSILON);
    }

    #[test]
    fn every_field_parses() {
        let c = parse(
            "url: https://api.openai.com/v1/\nmodel: gpt-4o-mini\napi_key_env: MY_KEY\ntimeout: 5s\n\
             max_concurrent: 4\nmax_queued: 8\nbudget_per_hour: 10\nmax_tokens: 100\ntemperature: 0",
        )
        .expect("parse");
        assert_eq!(c.url.as_deref(), Some("https://api.openai.com/v1"));
        assert_eq!(c.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(c.api_key_env, "MY_KEY");
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!((c.max_concurrent, c.max_queued, c.budget_per_hour, c.max_tokens), (4, 8, 10, 100));
        assert_eq!(c.temperature, 0.0);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |yaml: &str| parse(yaml).expect_err(yaml);
        assert!(err("url: ftp://x/v1").contains("only http:// and https://"));
        assert!(err("url: localhost").contains("is not a URL"));
        assert!(err("timeout: 0s").contains("above zero"));
        assert!(err("timeout: soon").contains("invalid duration `soon`"));
        assert!(err("max_concurrent: 0").contains("above zero"));
        assert!(err("max_concurrent: 65").contains("at most 64"));
        assert!(err("max_queued: 0").contains("above zero"));
        assert!(err("budget_per_hour: 0").contains("above zero"));
        assert!(err("temperature: 3").contains("between 0 and 2"));
        assert!(err("temperature: -0.5").contains("between 0 and 2"));
        assert!(err("max_tokens: -1").contains("above zero"));
        assert!(err("max_tokens: many").contains("whole number"));
        assert!(err("modle: x").contains("unknown field `modle`"));
    }

    #[test]
    fn pipeline_errors_have_file_line_and_key() {
        let text = "inputs: [{http: {}}]\noutputs: [{libsql: {}}]\ninference:\n  url: http://127.0.0.1:1/v1\n  max_queued: 0\n";
        let err = Pipeline::parse(Path::new("p.yaml"), text).expect_err("max_queued 0");
        assert_eq!(err.key.as_deref(), Some("inference.max_queued"));
        assert_eq!(err.line, Some(5));
        assert_eq!(err.message, "must be above zero");
        let text = "inputs: [{http: {}}]\noutputs: [{libsql: {}}]\ninference:\n  url: ftp://x/v1\n  model: m\n";
        let err = Pipeline::parse(Path::new("p.yaml"), text).expect_err("ftp");
        assert_eq!((err.key.as_deref(), err.line), (Some("inference.url"), Some(4)));
        let ok = Pipeline::parse(Path::new("p.yaml"), "inputs: [{http: {}}]\noutputs: [{libsql: {}}]\n")
            .expect("no inference section");
        assert_eq!(ok.config.inference, InferenceConfig::default());
    }
}
