//! Requests to a running Sluice's management API, and its replies as JSON.
//!
//! One [`Api`] per command: a current-thread tokio runtime and a reqwest client, used for a
//! request or two and dropped. Every reply is either the JSON of a success or a
//! [`ClientError::Server`] carrying the API's `{"error": {"code", "message"}}`; a transport
//! failure becomes a message naming the URL. The token goes into the `Authorization` header and
//! nowhere else.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use super::ServerArgs;
use super::error::{ClientError, hint};
use crate::guests::signing::SIGNATURE_HEADER;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take: an upload or an activation compiles a component server-side.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection to one server.
#[derive(Debug)]
pub struct Api {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// The server's base URL, without a trailing `/`.
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(server: &ServerArgs) -> Result<Api, ClientError> {
        let base = server.server.trim_end_matches('/').to_string();
        let bad = |reason: &str| ClientError::BadUrl { url: server.server.clone(), reason: reason.to_string() };
        let url = reqwest::Url::parse(&base).map_err(|e| bad(&e.to_string()))?;
        match url.scheme() {
            "http" => {}
            "https" => return Err(bad("this build speaks plain http only; reach a remote server through a tunnel")),
            _ => return Err(bad("use an http:// URL")),
        }
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ClientError::Runtime)?;
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Http { url: base.clone(), reason: e.to_string() })?;
        let token = server.token.clone().filter(|t| !t.is_empty());
        Ok(Api { runtime, client, base, token })
    }

    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.request(Method::GET, path))
    }

    /// POSTs a JSON object (the API's write endpoints all take one, possibly empty).
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(self.request(Method::POST, path).json(body))
    }

    pub fn delete(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ClientError> {
        self.send(self.request(Method::DELETE, path).query(query))
    }

    /// Uploads a component, with its detached signature if there is one.
    pub fn put_component(&self, path: &str, bytes: Vec<u8>, signature: Option<&str>) -> Result<Value, ClientError> {
        let mut request = self.request(Method::PUT, path).header(reqwest::header::CONTENT_TYPE, "application/wasm");
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        self.send(request.body(bytes))
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn send(&self, request: RequestBuilder) -> Result<Value, ClientError> {
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|e| self.transport(e))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| self.transport(e))?;
            reply(status, &body, self.token.is_some())
        })
    }

    fn transport(&self, error: reqwest::Error) -> ClientError {
        let url = self.base.clone();
        if error.is_timeout() {
            let secs = if error.is_connect() { CONNECT_TIMEOUT } else { REQUEST_TIMEOUT }.as_secs();
            return ClientError::Timeout { url, secs };
        }
        if error.is_connect() {
            return ClientError::Unreachable { url, reason: root_cause(&error) };
        }
        ClientError::Http { url, reason: root_cause(&error) }
    }
}

/// Turns a status and body into the reply's JSON or the server's error.
pub(super) fn reply(status: StatusCode, body: &[u8], sent_token: bool) -> Result<Value, ClientError> {
    let json = serde_json::from_slice::<Value>(body);
    if status.is_success() {
        return json.map_err(|e| ClientError::Reply(format!("HTTP {status} with a body that is not JSON ({e})")));
    }
    let error = json.ok().and_then(|v| v.get("error").cloned());
    let text = |key: &str| error.as_ref().and_then(|e| e.get(key)).and_then(Value::as_str).map(str::to_owned);
    let code = text("code").unwrap_or_else(|| format!("http_{}", status.as_u16()));
    let message = text("message").unwrap_or_else(|| {
        // Not the API's error shape (a proxy, or an older server): show what came back.
        let body = String::from_utf8_lossy(body);
        let body = body.trim();
        if body.is_empty() {
            status.canonical_reason().unwrap_or("request failed").to_string()
        } else {
            body.chars().take(300).collect()
        }
    });
    let hint = hint(&code, sent_token);
    Err(ClientError::Server { status: status.as_u16(), code, message, hint })
}

/// The innermost cause, which is where "Connection refused" lives.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::reply;
    use crate::client::error::ClientError;

    #[test]
    fn the_servers_error_shape_becomes_its_code_and_message() {
        let body = br#"{"error": {"code": "not_found", "message": "guest `x` has no version `abc`"}}"#;
        let err = reply(StatusCode::NOT_FOUND, body, false).expect_err("404");
        assert!(matches!(&err, ClientError::Server { status: 404, code, .. } if code == "not_found"));
        assert_eq!(err.to_string(), "guest `x` has no version `abc` (not_found, HTTP 404)");
    }

    #[test]
    fn other_error_bodies_are_shown_and_hints_given() {
        let err = reply(StatusCode::BAD_GATEWAY, b"upstream down\n", false).expect_err("502");
        assert_eq!(err.to_string(), "upstream down (http_502, HTTP 502)");
        let body = br#"{"error": {"code": "unauthorized", "message": "a bearer token is required"}}"#;
        let err = reply(StatusCode::UNAUTHORIZED, body, false).expect_err("401");
        assert!(err.to_string().contains("hint: give the API token with --token"), "{err}");
        assert!(reply(StatusCode::OK, b"not json", false).is_err());
        assert_eq!(reply(StatusCode::OK, b"{\"a\": 1}", false).expect("ok")["a"], 1);
    }
}
