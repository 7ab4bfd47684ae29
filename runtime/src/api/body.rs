//! Reading a request body under a size limit, shared by ingest and guest uploads.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

use super::ApiError;

/// Reads `body`, refusing it with `too_large()` as soon as the declared `Content-Length` or the
/// bytes actually received pass `limit`; anything else that stops the read is a 400.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    too_large: impl Fn() -> ApiError,
) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if e.to_string().contains("length limit exceeded") {
            too_large()
        } else {
            ApiError::bad_request("unreadable_body", format!("cannot read the request body: {e}"))
        }
    })
}
