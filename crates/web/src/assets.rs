//! The front end (`ui/static/`), embedded in the binary at build time (also in the dev
//! profile: rust-embed's `debug-embed`), so `cargo build` makes the whole program. Only the
//! embedded files are served, by exact name; there is no directory listing.

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use crate::error::ApiError;

#[derive(Embed)]
#[folder = "ui/static/"]
struct Assets;

/// The content type of an asset, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// Names of the embedded files.
#[cfg(test)]
pub fn names() -> Vec<String> {
    Assets::iter().map(|n| n.into_owned()).collect()
}

/// Everything that is not an API route: `/` is `index.html`, other paths name an asset.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::not_found("no such API route").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
    }
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        n => n,
    };
    let found = if name
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        None
    } else {
        Assets::get(name)
    };
    let Some(f) = found else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found\n",
        )
            .into_response();
    };
    let mut r = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(f.data.into_owned())
    });
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    // The assets change only with the binary: revalidate, never store stale ones.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.svg"), "image/svg+xml");
        assert_eq!(content_type("x.PNG"), "image/png");
        assert_eq!(content_type("x"), "application/octet-stream");
    }

    #[test]
    fn the_front_end_is_embedded() {
        assert!(names().iter().any(|n| n == "api.js"), "{:?}", names());
    }
}
