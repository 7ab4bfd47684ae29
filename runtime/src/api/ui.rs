//! The dashboard and the API's JSON 404. Until the dashboard lands, `/` serves a placeholder page
//! embedded in the binary; unknown paths under `/api/` get a JSON 404, never HTML.

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState};

static INDEX: &str = include_str!("../../../ui/index.html");

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).fallback(fallback)
}

async fn index() -> Html<&'static str> {
    Html(INDEX)
}

async fn fallback(method: Method, uri: Uri) -> Response {
    if method == Method::GET && !uri.path().starts_with("/api/") {
        return Html(INDEX).into_response();
    }
    ApiError::not_found(format!("no route for {method} {}", uri.path())).into_response()
}
