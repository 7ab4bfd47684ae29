//! Security headers on every response: the dashboard may not be framed, and its pages may load
//! scripts, styles, images and connections (the API and the live tail's websocket) only from the
//! origin that served them. Nothing here is configurable: the dashboard needs nothing else, and no
//! CDN or internet is used at run time.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// Only the app's own origin; `data:` images for the charts' exports and icons.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the headers to a response (used with `axum::middleware::map_response`).
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
