//! Request bodies that are files: uploads (streamed to the spool with the size cap enforced as
//! they arrive) and TLS keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use wiresift_session::{KeyMaterial, Session};

use crate::api::{blocking, session_json, status_json};
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use crate::stream::{read_capped, too_large};

/// Largest key file.
pub const MAX_KEYS: u64 = 16 << 20;

/// Removes a spool file unless the session took it.
struct Partial(Option<PathBuf>);

impl Partial {
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The name shown for an upload: its last path component, printable, at most 200 characters.
fn clean_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let n: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let n = n.trim().to_string();
    (!n.is_empty() && n != "." && n != "..").then_some(n)
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// `POST /api/upload?name=NAME`, the body: the capture.
pub async fn upload(
    State(st): State<Arc<AppState>>,
    q: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let name = q
        .text("name")
        .and_then(clean_name)
        .ok_or_else(|| ApiError::param("name", "missing or empty"))?;
    st.room()?;
    if content_length(&headers).is_some_and(|n| n > st.max_upload) {
        return Err(too_large(st.max_upload));
    }
    let spool = st.spool.dir().to_path_buf();
    let n2 = name.clone();
    let path = blocking(move || Ok(wiresift_session::spool_file(&spool, &n2)?)).await?;
    let partial = Partial(Some(path.clone()));
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("spool file: {e}")))?;
    read_capped(body, st.max_upload, &mut f).await?;
    f.flush()
        .await
        .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))?;
    drop(f);
    let e = blocking(move || {
        let s = Session::open(&path, &name, st.spool.dir())?;
        // From here the session entry removes the file.
        let p = partial.keep();
        let r = st.insert(name.clone(), name, s, Some(p.clone()));
        if r.is_err() {
            let _ = std::fs::remove_file(&p);
        }
        r
    })
    .await?;
    Ok(Json(session_json(&e)))
}

/// `POST /api/sessions/ID/keys?kind=keylog|rsa[&target=IP:PORT]`, the body: the key file.
pub async fn keys(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    let kind = q.required("kind")?.to_string();
    if kind != "keylog" && kind != "rsa" {
        return Err(ApiError::param("kind", "expected keylog or rsa"));
    }
    let target = match q.text("target") {
        None => None,
        Some(t) => Some(
            t.trim()
                .parse::<SocketAddr>()
                .map_err(|_| ApiError::param("target", "expected IP:PORT"))?,
        ),
    };
    if content_length(&headers).is_some_and(|n| n > MAX_KEYS) {
        return Err(too_large(MAX_KEYS));
    }
    let mut buf = Vec::new();
    read_capped(body, MAX_KEYS, &mut buf).await?;
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the key file is empty"));
    }
    let km = if kind == "keylog" {
        KeyMaterial {
            keylogs: vec![buf],
            ..KeyMaterial::default()
        }
    } else {
        let pem = String::from_utf8(buf)
            .map_err(|_| ApiError::bad_request("the RSA key is not PEM text"))?;
        KeyMaterial {
            rsa: vec![(pem, "uploaded key".to_string(), target)],
            ..KeyMaterial::default()
        }
    };
    let v = blocking(move || {
        e.session.add_keys(km)?;
        Ok(status_json(&e.session.status()))
    })
    .await?;
    Ok(Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names() {
        assert_eq!(clean_name("a.pcap").as_deref(), Some("a.pcap"));
        assert_eq!(clean_name("../../x.pcap").as_deref(), Some("x.pcap"));
        assert_eq!(clean_name("C:\\d\\y.pcap").as_deref(), Some("y.pcap"));
        assert_eq!(clean_name("a\nb").as_deref(), Some("ab"));
        assert_eq!(clean_name("dir/"), None);
        assert_eq!(clean_name(".."), None);
        assert_eq!(clean_name("   "), None);
    }
}
