//! Request parsing that answers malformed input with a JSON 400 naming what was wrong.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The query string's parameters (the last value of a repeated one).
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ApiError> {
        let Query(m) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("malformed query string"))?;
        Ok(Params(m.into_iter().collect()))
    }
}

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    /// A non-empty value.
    pub fn text(&self, k: &str) -> Option<&str> {
        self.get(k).filter(|v| !v.trim().is_empty())
    }
    pub fn required(&self, k: &str) -> Result<&str, ApiError> {
        self.text(k).ok_or_else(|| ApiError::param(k, "missing"))
    }
    /// An unsigned integer (the default when absent or empty).
    pub fn u64(&self, k: &str, default: Option<u64>) -> Result<u64, ApiError> {
        match (self.text(k), default) {
            (Some(v), _) => v
                .trim()
                .parse()
                .map_err(|_| ApiError::param(k, "expected an unsigned integer")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(ApiError::param(k, "missing")),
        }
    }
    pub fn u64_opt(&self, k: &str) -> Result<Option<u64>, ApiError> {
        match self.text(k) {
            Some(_) => self.u64(k, None).map(Some),
            None => Ok(None),
        }
    }
}

/// A JSON body (400 with the parser's words when it is not the JSON expected).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let b = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "request body too large or unreadable"))?;
        serde_json::from_slice(&b)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
    }
}
