//! The dashboard: the files `ui/` builds (into `ui/dist/`), embedded in the binary and served
//! under `/`; and the API's JSON 404.
//!
//! A path that names a built file gets that file; any other `GET` outside `/api/` gets
//! `index.html`, so the dashboard's own routes (`/live`, `/explore?level=ERROR`) load and can be
//! shared. Unknown paths under `/api/` get a JSON 404, never HTML. Release builds embed the files;
//! debug builds read them from `ui/dist/` at request time, so a rebuilt dashboard shows on reload.
//!
//! Hashed asset names (`assets/app-<hash>.js`) never change content, so they are cached for a
//! year; `index.html` is revalidated every time, so a new binary's dashboard is picked up at once.

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// The built dashboard.
#[derive(rust_embed::Embed)]
// Relative to this crate's manifest, in debug builds too.
#[folder = "../ui/dist/"]
struct Dashboard;

const INDEX: &str = "index.html";

// Names the build script's digest of the built page, so cargo rebuilds (and re-embeds) whenever
// the dashboard changes.
const _: &str = env!("SLUICE_UI_DIGEST");

pub fn routes() -> Router<AppState> {
    Router::new().fallback(fallback)
}

async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let readable = method == Method::GET || method == Method::HEAD;
    if path.starts_with("/api/") || !readable {
        return ApiError::not_found(format!("no route for {method} {path}")).into_response();
    }
    let name = path.trim_start_matches('/');
    if let Some(file) = (!name.is_empty()).then(|| Dashboard::get(name)).flatten() {
        return serve(name, file);
    }
    // A missing asset is a 404, not the page: a browser that asked for a script must not get HTML.
    if name.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    match Dashboard::get(INDEX) {
        Some(file) => serve(INDEX, file),
        None => (StatusCode::NOT_FOUND, "the dashboard was not built into this binary (see ui/)").into_response(),
    }
}

fn serve(name: &str, file: rust_embed::EmbeddedFile) -> Response {
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mime = file.metadata.mimetype();
    // The build writes UTF-8; saying so spares browsers a guess.
    let textual = mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("json");
    let content_type =
        if textual && !mime.contains("charset") { format!("{mime}; charset=utf-8") } else { mime.to_string() };
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
