//! Everything that can go wrong in a client command, worded for the person who ran it.

use std::path::PathBuf;

use crate::scaffold::ScaffoldError;

/// Why a `sluice guest` or `sluice reload` command failed. Each message says what to do next
/// where that is knowable.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot connect to {url} ({reason}): is Sluice running at {url}? (set --server or SLUICE_SERVER)")]
    Unreachable { url: String, reason: String },
    #[error("no answer from {url} within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The server refused the request; `code` is its stable error code.
    #[error("{message} ({code}, HTTP {status}){}", hint.map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Server { status: u16, code: String, message: String, hint: Option<&'static str> },
    #[error("unexpected reply from the server: {0}")]
    Reply(String),
    #[error("cannot {action} {}: {source}", path.display())]
    File { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Scaffold(#[from] ScaffoldError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl ClientError {
    /// An I/O error on `path` while trying to `action` it.
    pub(super) fn file(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ClientError {
        let path = path.into();
        move |source| ClientError::File { action, path, source }
    }
}

/// What the person can do about a server error code, when it is not obvious from the message.
pub(super) fn hint(code: &str, sent_token: bool) -> Option<&'static str> {
    match code {
        "unauthorized" if !sent_token => Some("give the API token with --token or SLUICE_API_TOKEN"),
        "unauthorized" => Some("the server refused this token; it must equal the server's API token"),
        "loopback_only" => Some(
            "without an API token the server accepts management requests from its own machine only; \
             give the server an API token (--api-token-file) and send it with --token",
        ),
        "bad_signature" => Some(
            "push with --sign-key KEY, or --signature FILE from `sluice guest sign`, using a key the server trusts",
        ),
        _ => None,
    }
}
