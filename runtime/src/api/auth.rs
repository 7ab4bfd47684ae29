//! Who may use the management API: guest uploads, activation, rollback, canaries and reload.
//!
//! This module owns the write-access rule and where its settings come from. With a bearer token
//! configured, every write request must carry it; without one, writes are served to loopback
//! peers only, so a server started with no configuration cannot be reprogrammed from the network.
//! Ingest, queries and operations endpoints are not behind [`require_write`]; they stay open, as
//! the seeds' clients expect.
//!
//! It never logs, echoes or compares a token in a way that depends on where it differs, and it
//! never decides whether a component's signature is trusted: it only loads the trusted keys for
//! [`crate::guests::signing`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use super::{ApiError, AppState};
use crate::guests::signing::{KeyListError, TrustedKeys};

/// The environment variable holding the API token when no token file is given.
pub const TOKEN_ENV: &str = "SLUICE_API_TOKEN";
/// The environment variable holding comma-separated trusted public keys when no keys file is
/// given.
pub const TRUSTED_KEYS_ENV: &str = "SLUICE_TRUSTED_KEYS";

/// Access rules for the management API.
#[derive(Clone, Default)]
pub struct Access {
    /// The bearer token write requests must carry; `None` serves them on loopback only.
    pub token: Option<String>,
    /// Keys an uploaded guest must be signed with; empty means uploads need no signature.
    pub trusted: TrustedKeys,
}

/// Why the access rules could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the API token file {path}: {source}")]
    ReadToken { path: PathBuf, source: io::Error },
    #[error("the API token file {path} is empty")]
    EmptyToken { path: PathBuf },
    /// Clients could not send such a token in an `Authorization` header.
    #[error("the API token from {origin} contains whitespace or control characters")]
    UnsendableToken { origin: String },
    /// Refused rather than read as unset, which could turn signature checks off unnoticed.
    #[error("{var} is set but is not valid UTF-8")]
    NotUnicode { var: &'static str },
    #[error("cannot read the trusted keys file {path}: {source}")]
    ReadKeys { path: PathBuf, source: io::Error },
    /// A trusted keys file is malformed; the error names the file and line.
    #[error("trusted keys: {0}")]
    KeysFile(#[source] KeyListError),
    #[error("SLUICE_TRUSTED_KEYS: {0}")]
    KeysEnv(#[source] KeyListError),
}

impl Access {
    /// Rules from explicit values, for tests and embedders.
    pub fn new(token: Option<String>, trusted: TrustedKeys) -> Access {
        Access { token, trusted }
    }

    /// Writes need `token`; uploads need no signature.
    pub fn with_token(token: impl Into<String>) -> Access {
        Access::new(Some(token.into()), TrustedKeys::default())
    }

    /// Reads the token (`token_file`, else `SLUICE_API_TOKEN`) and the trusted keys (`keys_file`,
    /// else `SLUICE_TRUSTED_KEYS`, comma-separated). Empty environment variables count as unset;
    /// a named file that is empty or holds no keys is an error, since whoever named it meant
    /// something by it.
    pub fn from_env(token_file: Option<&Path>, keys_file: Option<&Path>) -> Result<Access, AccessError> {
        let token = match token_file {
            Some(path) => Some(token_from_file(path)?),
            None => token_from_env()?,
        };
        let trusted = match keys_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| AccessError::ReadKeys { path: path.to_owned(), source })?;
                TrustedKeys::parse(&text, &path.display().to_string()).map_err(AccessError::KeysFile)?
            }
            None => match env(TRUSTED_KEYS_ENV)? {
                Some(list) => TrustedKeys::from_env_list(&list).map_err(AccessError::KeysEnv)?,
                None => TrustedKeys::default(),
            },
        };
        Ok(Access { token, trusted })
    }

    /// Whether a write request with these headers, from `peer`, may proceed. `peer` is `None` when
    /// the server was not told its clients' addresses, which counts as remote.
    pub fn check(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), ApiError> {
        check_same_origin(headers)?;
        match &self.token {
            Some(token) => check_token(token, headers),
            None => check_loopback(peer),
        }
    }
}

/// The token stays out of `Debug` output, which ends up in logs.
impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("trusted", &self.trusted)
            .finish()
    }
}

/// Lets write routes extract just the rules with `State<Access>`.
impl FromRef<AppState> for Access {
    fn from_ref(state: &AppState) -> Access {
        state.access.clone()
    }
}

/// Most body bytes read from a refused write request (the upload limit).
const DRAIN_LIMIT: usize = crate::api::MAX_GUEST_BYTES;

/// Middleware for write routes: runs the request only if [`Access::check`] allows it. Attach it
/// with `axum::middleware::from_fn_with_state(state, require_write)`; the peer address comes from
/// `ConnectInfo<SocketAddr>`, so the server must be served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub async fn require_write(State(access): State<Access>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
    match access.check(request.headers(), peer) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            tracing::warn!(method = %request.method(), uri = %request.uri(), ?peer, code = error.code, "write refused");
            let unauthorized = error.status == StatusCode::UNAUTHORIZED;
            // Read (and drop) what the client is sending before answering: a refusal sent while
            // an upload is still being written makes the client see a reset connection instead
            // of our answer. Bounded like an authorised upload.
            let _ = axum::body::to_bytes(request.into_body(), DRAIN_LIMIT).await;
            let mut response = error.into_response();
            if unauthorized {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

fn token_from_file(path: &Path) -> Result<String, AccessError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| AccessError::ReadToken { path: path.to_owned(), source })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(AccessError::EmptyToken { path: path.to_owned() });
    }
    sendable(token, || path.display().to_string())
}

fn token_from_env() -> Result<Option<String>, AccessError> {
    match env(TOKEN_ENV)? {
        Some(value) if !value.trim().is_empty() => sendable(value.trim(), || TOKEN_ENV.to_owned()).map(Some),
        _ => Ok(None),
    }
}

fn env(var: &'static str) -> Result<Option<String>, AccessError> {
    match std::env::var(var) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(AccessError::NotUnicode { var }),
    }
}

/// A token must be visible ASCII to travel as `Authorization: Bearer <token>`.
fn sendable(token: &str, origin: impl FnOnce() -> String) -> Result<String, AccessError> {
    if token.bytes().all(|byte| byte.is_ascii_graphic()) {
        Ok(token.to_owned())
    } else {
        Err(AccessError::UnsendableToken { origin: origin() })
    }
}

fn check_token(expected: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized("this endpoint needs an `Authorization: Bearer <token>` header; none was sent"));
    };
    // The scheme is case-insensitive (RFC 9110); a value that is not visible ASCII cannot match.
    let given = value.to_str().ok().and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
    });
    let Some(given) = given else {
        return Err(unauthorized("the Authorization header does not hold a bearer token (`Bearer <token>`)"));
    };
    if tokens_match(given, expected) { Ok(()) } else { Err(unauthorized("the bearer token is wrong")) }
}

/// Compares tokens in time that does not depend on their contents. Comparing the strings directly
/// would stop at the first differing byte, and timing that over many requests reveals the token a
/// byte at a time. Hashing first gives both sides the same length, and the fold visits every byte
/// with no early exit; what little timing might remain is about digests, which say nothing useful
/// about the token.
fn tokens_match(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    let difference = given.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// Refuses a write a browser sends on behalf of another site. Without a token, "loopback only"
/// would otherwise let any web page open on this machine POST to the management API (a form's
/// `text/plain` POST needs no CORS preflight). Browsers say where a request comes from in `Origin`
/// (and `Sec-Fetch-Site`); the dashboard's own requests name this server. Clients that are not
/// browsers send neither header and are unaffected.
fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: String| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            format!("management requests from another site's page are refused ({why})"),
        ))
    };
    if headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return refuse("Sec-Fetch-Site: cross-site".to_owned());
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("?");
    // `Origin` is `scheme://host[:port]`; it must name the host this request was sent to.
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (authority, host) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => refuse(format!("Origin `{origin}` is not this server, `{}`", host.unwrap_or("?"))),
    }
}

fn check_loopback(peer: Option<SocketAddr>) -> Result<(), ApiError> {
    // `to_canonical` turns an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, as a dual-stack
    // listener reports IPv4 clients) back into IPv4 first.
    if peer.is_some_and(|peer| peer.ip().to_canonical().is_loopback()) {
        return Ok(());
    }
    let from = match peer {
        Some(peer) => format!("this request came from {}", peer.ip()),
        None => "this request's peer address is unknown".to_owned(),
    };
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "loopback_only",
        format!(
            "no API token is configured, so management requests are only accepted from loopback and {from}; \
             set {TOKEN_ENV} or pass --api-token-file to the server, then send `Authorization: Bearer <token>`"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::put;
    use tower::ServiceExt as _;

    use super::*;

    const TOKEN: &str = "s3cret-token";

    fn peer(ip: impl Into<std::net::IpAddr>) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.into(), 40000))
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).expect("a valid header value"));
        headers
    }

    fn refusal(result: Result<(), ApiError>) -> ApiError {
        result.expect_err("the request should be refused")
    }

    #[test]
    fn the_right_token_is_accepted_from_anywhere() {
        let access = Access::with_token(TOKEN);
        assert!(access.check(&bearer("Bearer s3cret-token"), peer(Ipv4Addr::new(10, 1, 2, 3))).is_ok());
        assert!(access.check(&bearer("bearer s3cret-token"), None).is_ok(), "the scheme is case-insensitive");
    }

    #[test]
    fn a_missing_token_is_unauthorized_even_on_loopback() {
        let error = refusal(Access::with_token(TOKEN).check(&HeaderMap::new(), peer(Ipv4Addr::LOCALHOST)));
        assert_eq!((error.status, error.code), (StatusCode::UNAUTHORIZED, "unauthorized"));
        assert!(error.message.contains("none was sent"), "{}", error.message);
    }

    #[test]
    fn a_wrong_token_is_unauthorized_and_not_echoed() {
        let access = Access::with_token(TOKEN);
        for value in ["Bearer s3cret-tokeN", "Bearer s3cret-token-and-more", "Bearer ", "Basic s3cret-token", "s3cret"]
        {
            let error = refusal(access.check(&bearer(value), peer(Ipv4Addr::LOCALHOST)));
            assert_eq!((error.status, error.code), (StatusCode::UNAUTHORIZED, "unauthorized"), "{value}");
            assert!(!error.message.contains("s3cret"), "{}", error.message);
        }
        let error = refusal(access.check(&bearer("Bearer nope"), None));
        assert_eq!(error.message, "the bearer token is wrong");
    }

    #[test]
    fn without_a_token_loopback_peers_may_write() {
        let access = Access::default();
        assert!(access.check(&HeaderMap::new(), peer(Ipv4Addr::LOCALHOST)).is_ok());
        assert!(access.check(&HeaderMap::new(), peer(Ipv4Addr::new(127, 0, 0, 2))).is_ok());
        assert!(access.check(&HeaderMap::new(), peer(Ipv6Addr::LOCALHOST)).is_ok());
        let mapped = Ipv4Addr::LOCALHOST.to_ipv6_mapped();
        assert!(access.check(&HeaderMap::new(), peer(mapped)).is_ok(), "IPv4-mapped loopback is loopback");
    }

    #[test]
    fn a_browser_write_from_another_site_is_refused_and_the_dashboards_own_is_not() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in pairs {
                h.insert(*name, HeaderValue::from_str(value).expect("a valid header value"));
            }
            h
        };
        let local = peer(Ipv4Addr::LOCALHOST);
        for access in [Access::default(), Access::with_token(TOKEN)] {
            let token = format!("Bearer {TOKEN}");
            let own = headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
                ("authorization", &token),
            ]);
            assert!(access.check(&own, local).is_ok(), "{access:?}");
            for hostile in [
                headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example"), ("authorization", &token)]),
                headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:9999"), ("authorization", &token)]),
                headers(&[("host", "127.0.0.1:8080"), ("origin", "null"), ("authorization", &token)]),
                headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site"), ("authorization", &token)]),
            ] {
                let error = refusal(access.check(&hostile, local));
                assert_eq!((error.status, error.code), (StatusCode::FORBIDDEN, "cross_origin"), "{hostile:?}");
            }
        }
    }

    #[test]
    fn without_a_token_remote_or_unknown_peers_are_forbidden() {
        let access = Access::default();
        let remote = [peer(Ipv4Addr::new(192, 168, 1, 7)), peer(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()), None];
        for from in remote {
            let error = refusal(access.check(&bearer("Bearer anything"), from));
            assert_eq!((error.status, error.code), (StatusCode::FORBIDDEN, "loopback_only"), "{from:?}");
            assert!(error.message.contains(TOKEN_ENV) && error.message.contains("--api-token-file"));
        }
    }

    #[test]
    fn token_comparison_depends_on_every_byte() {
        assert!(tokens_match(TOKEN, TOKEN));
        assert!(!tokens_match("s3cret-tokem", TOKEN));
        assert!(!tokens_match("", TOKEN));
    }

    #[test]
    fn debug_output_hides_the_token() {
        assert!(!format!("{:?}", Access::with_token(TOKEN)).contains(TOKEN));
    }

    fn write_app(access: Access) -> Router {
        Router::new()
            .route("/api/v1/reload", put(|| async { "reloaded" }))
            .route_layer(axum::middleware::from_fn_with_state(access.clone(), require_write))
            .with_state(access)
    }

    fn request(peer: Option<SocketAddr>, authorization: Option<&str>) -> Request {
        let mut builder = axum::http::Request::put("/api/v1/reload");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let mut request = builder.body(Body::empty()).expect("a valid request");
        if let Some(peer) = peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        request
    }

    async fn status_and_challenge(app: Router, request: Request) -> (StatusCode, Option<String>) {
        let response = app.oneshot(request).await.expect("the router is infallible");
        let challenge =
            response.headers().get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        (response.status(), challenge)
    }

    #[tokio::test]
    async fn the_middleware_runs_allowed_requests_and_challenges_the_rest() {
        let app = write_app(Access::with_token(TOKEN));
        let remote = peer(Ipv4Addr::new(203, 0, 113, 9));
        let allowed = status_and_challenge(app.clone(), request(remote, Some("Bearer s3cret-token"))).await;
        assert_eq!(allowed, (StatusCode::OK, None));
        let refused = status_and_challenge(app, request(remote, None)).await;
        assert_eq!(refused, (StatusCode::UNAUTHORIZED, Some("Bearer".to_owned())));
    }

    #[tokio::test]
    async fn the_middleware_reads_the_peer_from_connect_info() {
        let app = write_app(Access::default());
        let local = status_and_challenge(app.clone(), request(peer(Ipv4Addr::LOCALHOST), None)).await;
        assert_eq!(local, (StatusCode::OK, None));
        let remote = status_and_challenge(app.clone(), request(peer(Ipv4Addr::new(203, 0, 113, 9)), None)).await;
        assert_eq!(remote, (StatusCode::FORBIDDEN, None));
        let unknown = status_and_challenge(app, request(None, None)).await;
        assert_eq!(unknown, (StatusCode::FORBIDDEN, None));
    }

    #[test]
    fn token_and_keys_files_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, format!("  {TOKEN}\n")).expect("writes");
        let (_, public) = crate::guests::signing::generate_keypair().expect("random source works");
        let keys_file = dir.path().join("keys");
        std::fs::write(&keys_file, format!("# ci\n{public}\n")).expect("writes");
        let access = Access::from_env(Some(&token_file), Some(&keys_file)).expect("both files are valid");
        assert_eq!(access.token.as_deref(), Some(TOKEN));
        assert!(access.trusted.required());

        std::fs::write(&token_file, "\n  \n").expect("writes");
        let error = Access::from_env(Some(&token_file), None).expect_err("an empty token file is refused");
        assert!(matches!(error, AccessError::EmptyToken { .. }), "{error:?}");
        assert!(error.to_string().contains(&token_file.display().to_string()), "{error}");

        std::fs::write(&token_file, "two words").expect("writes");
        let error = Access::from_env(Some(&token_file), None).expect_err("a token with a space cannot be sent");
        assert!(matches!(error, AccessError::UnsendableToken { .. }), "{error:?}");

        std::fs::write(&keys_file, format!("{public}\nnot-a-key\n")).expect("writes");
        let error = Access::from_env(Some(&dir.path().join("missing")), None).expect_err("no such token file");
        assert!(matches!(error, AccessError::ReadToken { .. }), "{error:?}");
        std::fs::write(&token_file, TOKEN).expect("writes");
        let error = Access::from_env(Some(&token_file), Some(&keys_file)).expect_err("line 2 is not a key");
        let expected = format!("{}:2:", keys_file.display());
        assert!(error.to_string().contains(&expected), "{error}");
    }
}
