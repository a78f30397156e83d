//! Errors: the server's own ([`WebError`], when it cannot start) and the API's answers
//! ([`ApiError`]: a status and `{"error": "..."}`).

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wiresift_session::SessionError;

/// Why the server could not start or run. (The messages hold their causes: no `source()`,
/// so `{:#}` does not repeat them.)
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("--root {}: {error}", path.display())]
    Root {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", path.display())]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is outside --root {} (the browser may open captures only under the root)", path.display(), root.display())]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("{}: {error}", path.display())]
    Open { path: PathBuf, error: SessionError },
    #[error("spool directory {}: {error}", path.display())]
    Spool {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("no random numbers for the access token: {0}")]
    Random(String),
    #[error("{0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for WebError {
    fn from(e: std::io::Error) -> WebError {
        WebError::Io(e)
    }
}

/// An API error: the status and the JSON body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, msg: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": msg.into() }),
        }
    }
    /// A bad query parameter (400, naming it).
    pub fn param(name: &str, msg: impl std::fmt::Display) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, format!("parameter {name}: {msg}"));
        e.body["parameter"] = Value::String(name.to_string());
        e
    }
    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, msg)
    }
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, msg)
    }
    pub fn forbidden(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, msg)
    }
    pub fn internal(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg)
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> ApiError {
        match e {
            SessionError::BadFilter {
                column,
                message,
                rendered,
            } => ApiError {
                status: StatusCode::BAD_REQUEST,
                body: json!({
                    "error": format!("bad display filter: {message}"),
                    "column": column,
                    "message": message,
                    "rendered": rendered,
                }),
            },
            SessionError::NoSuchFrame(_) => ApiError::not_found(e.to_string()),
            e if e.is_client_error() => ApiError::bad_request(e.to_string()),
            e => ApiError::internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_errors_map_to_statuses() {
        let e: ApiError = SessionError::NoSuchFrame(9).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError = SessionError::BadKeys("x".into()).into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e: ApiError = SessionError::Io {
            what: "w".into(),
            source: std::io::Error::other("boom"),
        }
        .into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        let e: ApiError = SessionError::BadFilter {
            column: 3,
            message: "m".into(),
            rendered: "r".into(),
        }
        .into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.body["column"], 3);
        assert_eq!(e.body["rendered"], "r");
    }
}
