//! The JSON API over `wiresift-session` (docs/ui-api.md). Every session call blocks (it reads
//! the capture), so each runs on tokio's blocking pool.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wiresift_flow::follow::FollowFormat;
use wiresift_session::follow::Kind;
use wiresift_session::rows::MAX_PAGE;
use wiresift_session::{Session, SessionError, Status, TimeDisplay, colors, view};

use crate::error::ApiError;
use crate::files::resolve;
use crate::params::{JsonBody, Params};
use crate::state::{AppState, Entry};
use crate::stream::stream_response;

/// Data of a followed stream sent in the JSON answer, at most (the rest: the downloads).
pub const FOLLOW_CAP: usize = 16 << 20;

/// Runs blocking work off the async threads; a panic in it is a 500, not a dead server.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal("the request failed inside the server"))?
}

pub fn session_json(e: &Entry) -> Value {
    json!({ "id": e.id, "name": e.name, "path": e.path, "uploaded": e.upload.is_some() })
}

pub fn status_json(s: &Status) -> Value {
    json!({
        "frames": s.frames,
        "bytes": s.bytes,
        "total_bytes": s.total_bytes,
        "done": s.done,
        "error": s.error,
        "elapsed_ms": s.elapsed_ms,
        "keys": { "keylog": s.keylogs, "rsa": s.rsa_keys },
        "marked": s.marked,
    })
}

/// Wrong method on a known route.
pub async fn method_not_allowed() -> Response {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response()
}

// ---- sessions ----

pub async fn list(State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let l = st
        .sessions
        .lock()
        .map_err(|_| ApiError::internal("session table poisoned"))?
        .list();
    let v: Vec<Value> = l.iter().map(|e| session_json(e)).collect();
    Ok(Json(json!({ "sessions": v })))
}

#[derive(Deserialize)]
pub struct OpenReq {
    path: String,
}

/// `POST /api/sessions {"path": REL}`
pub async fn open(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<OpenReq>,
) -> Result<Json<Value>, ApiError> {
    st.room()?;
    let e = blocking(move || {
        let (abs, rel) = resolve(&st.root, &req.path)?;
        if !abs.is_file() {
            return Err(ApiError::bad_request("not a file"));
        }
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| rel.clone());
        let s = Session::open(&abs, &name, st.spool.dir())?;
        st.recent.add(&abs, &name);
        st.insert(name, rel, s, None)
    })
    .await?;
    Ok(Json(session_json(&e)))
}

pub async fn get_session(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    Ok(Json(session_json(&e)))
}

pub async fn close(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // The session (and its spool files) goes when the last request using it ends; the drop
    // may remove files, so it runs off the async threads.
    let e = st.session(&id)?;
    st.remove(&id)?;
    blocking(move || {
        drop(e);
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "closed": true })))
}

pub async fn status(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    Ok(Json(status_json(&e.session.status())))
}

// ---- packet list ----

fn time_param(q: &Params) -> Result<TimeDisplay, ApiError> {
    match q.text("time") {
        None => Ok(TimeDisplay::Absolute),
        Some(t) => TimeDisplay::parse(t).ok_or_else(|| {
            ApiError::param(
                "time",
                "expected absolute, date, relative, delta, delta_displayed or epoch",
            )
        }),
    }
}

pub async fn rows(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let start = q.u64("start", Some(0))?;
    let count = q.u64("count", Some(100))?;
    if count > MAX_PAGE as u64 {
        return Err(ApiError::param("count", format!("at most {MAX_PAGE}")));
    }
    let time = time_param(&q)?;
    let filter = q.text("filter").map(str::to_string);
    let rows = blocking(move || {
        Ok(e.session
            .rows(filter.as_deref(), start, count as usize, time)?)
    })
    .await?;
    Ok(Json(rows).into_response())
}

pub async fn position(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    let frame = q.u64("frame", None)?;
    let filter = q.text("filter").map(str::to_string);
    let (pos, nearest) =
        blocking(move || Ok(e.session.position(filter.as_deref(), frame)?)).await?;
    Ok(Json(json!({ "position": pos, "nearest": nearest })))
}

#[derive(Deserialize)]
pub struct MarksReq {
    #[serde(default)]
    frames: Vec<u64>,
    #[serde(default)]
    all: bool,
    #[serde(default = "yes")]
    marked: bool,
}

fn yes() -> bool {
    true
}

pub async fn marks(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<MarksReq>,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    let n = blocking(move || {
        let s = &e.session;
        if req.all {
            if req.marked {
                let last = s.status().frames;
                let mut from = 1u64;
                while from <= last {
                    let to = last.min(from + 65_535);
                    s.set_marks(&(from..=to).collect::<Vec<_>>(), true);
                    from = to + 1;
                }
            } else {
                s.clear_marks();
            }
            Ok(s.status().marked)
        } else {
            Ok(s.set_marks(&req.frames, req.marked))
        }
    })
    .await?;
    Ok(Json(json!({ "marked": n })))
}

// ---- colours, filters, fields ----

pub async fn colors() -> Json<Value> {
    Json(json!({ "rules": colors::RULES }))
}

pub async fn check_filter(q: Params) -> Result<Json<Value>, ApiError> {
    let expr = q.get("expr").unwrap_or("").to_string();
    let r = blocking(move || Ok(view::check(&expr))).await?;
    Ok(Json(match r {
        Ok(()) => json!({ "ok": true }),
        Err(SessionError::BadFilter {
            column,
            message,
            rendered,
        }) => json!({ "ok": false, "column": column, "message": message, "rendered": rendered }),
        Err(e) => return Err(e.into()),
    }))
}

#[derive(Serialize)]
struct FieldOut {
    name: &'static str,
    kind: &'static str,
    desc: &'static str,
}

pub async fn fields(q: Params) -> Result<Json<Value>, ApiError> {
    let prefix = q.get("prefix").unwrap_or("").trim().to_string();
    let limit = q.u64("limit", Some(50))?;
    if limit > 1000 {
        return Err(ApiError::param("limit", "at most 1000"));
    }
    let mut v: Vec<&'static wiresift_field::FieldDef> = wiresift_session::registry()
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d.name.starts_with(&prefix))
        .collect();
    v.sort_by_key(|d| {
        (
            !matches!(d.kind, wiresift_field::FieldKind::Protocol),
            d.name,
        )
    });
    v.dedup_by_key(|d| d.name);
    let out: Vec<FieldOut> = v
        .into_iter()
        .take(limit as usize)
        .map(|d| FieldOut {
            name: d.name,
            kind: d.kind.ws_name(),
            desc: d.desc,
        })
        .collect();
    Ok(Json(json!({ "fields": out })))
}

#[derive(Deserialize)]
pub struct FilterReq {
    #[serde(default)]
    expr: String,
}

pub async fn apply_filter(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<FilterReq>,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let out = blocking(move || Ok(e.session.apply_filter(&req.expr)?)).await?;
    Ok(Json(out).into_response())
}

// ---- detail ----

pub async fn frame(
    State(st): State<Arc<AppState>>,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let n: u64 = n
        .parse()
        .map_err(|_| ApiError::param("frame", "expected a frame number"))?;
    let d = blocking(move || Ok(e.session.detail(n)?)).await?;
    Ok(Json(d).into_response())
}

// ---- follow ----

fn kind_param(q: &Params) -> Result<Kind, ApiError> {
    let p = q.text("proto").unwrap_or("tcp");
    Kind::parse(p).ok_or_else(|| ApiError::param("proto", "expected tcp, udp, tls or http"))
}

/// The stream asked for: `stream=S`, or the stream of `frame=N`.
fn stream_param(q: &Params, s: &Session, kind: Kind) -> Result<u64, ApiError> {
    if let Some(n) = q.u64_opt("stream")? {
        return Ok(n);
    }
    let Some(f) = q.u64_opt("frame")? else {
        return Err(ApiError::param("stream", "missing"));
    };
    let (entry, _, _) = s.read_frame(f)?;
    match entry.stream_of() {
        Some((udp, n)) if udp == (kind == Kind::Udp) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "frame {f} is not part of a {} stream",
            if kind == Kind::Udp { "UDP" } else { "TCP" }
        ))),
    }
}

/// Following TLS without keys would show the TCP bytes under a TLS title: refused first.
/// (Decryption Secrets Blocks in the capture count as keys.)
fn tls_keys(s: &Session, kind: Kind) -> Result<(), ApiError> {
    if kind == Kind::Tls && !s.has_tls_keys() {
        return Err(ApiError::bad_request(
            "no TLS keys for this capture: add a key log or an RSA key first",
        ));
    }
    Ok(())
}

#[derive(Serialize)]
struct ChunkOut {
    dir: u8,
    frame: u64,
    data: String,
    missing: u64,
}

#[derive(Serialize)]
struct FollowOut {
    proto: &'static str,
    stream: u64,
    client: String,
    server: String,
    chunks: Vec<ChunkOut>,
    bytes: [u64; 2],
    truncated: bool,
    streams: Option<u64>,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Tcp => "tcp",
        Kind::Udp => "udp",
        Kind::Tls => "tls",
        Kind::Http => "http",
    }
}

pub async fn follow(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let kind = kind_param(&q)?;
    let out = blocking(move || {
        let s = &e.session;
        let stream = stream_param(&q, s, kind)?;
        tls_keys(s, kind)?;
        let f = s.follow(kind, stream, FOLLOW_CAP)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(FollowOut {
            proto: kind_name(kind),
            stream,
            client: f.client,
            server: f.server,
            chunks: f
                .chunks
                .into_iter()
                .map(|c| ChunkOut {
                    dir: c.dir,
                    frame: c.frame,
                    data: b64.encode(&c.data),
                    missing: c.missing,
                })
                .collect(),
            bytes: f.bytes,
            truncated: f.truncated,
            streams: s.max_stream(kind == Kind::Udp),
        })
    })
    .await?;
    Ok(Json(out).into_response())
}

pub async fn follow_text(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let kind = kind_param(&q)?;
    let format: FollowFormat = q
        .text("format")
        .unwrap_or("ascii")
        .parse()
        .map_err(|_| ApiError::param("format", "expected ascii, hex, raw or yaml"))?;
    let e2 = Arc::clone(&e);
    let stream = blocking(move || {
        let s = stream_param(&q, &e2.session, kind)?;
        tls_keys(&e2.session, kind)?;
        Ok(s)
    })
    .await?;
    stream_response("text/plain; charset=utf-8", None, move |w| {
        e.session.follow_text(kind, stream, format, w)
    })
    .await
}

pub async fn follow_bytes(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let kind = kind_param(&q)?;
    let dir = match q.text("dir").unwrap_or("both") {
        "both" => None,
        "0" => Some(0u8),
        "1" => Some(1u8),
        _ => return Err(ApiError::param("dir", "expected both, 0 or 1")),
    };
    let e2 = Arc::clone(&e);
    let stream = blocking(move || {
        let s = stream_param(&q, &e2.session, kind)?;
        tls_keys(&e2.session, kind)?;
        Ok(s)
    })
    .await?;
    let name = match dir {
        None => format!("attachment; filename=\"stream-{stream}.bin\""),
        Some(0) => format!("attachment; filename=\"stream-{stream}-c2s.bin\""),
        Some(_) => format!("attachment; filename=\"stream-{stream}-s2c.bin\""),
    };
    stream_response("application/octet-stream", Some(name), move |w| {
        e.session.follow_bytes(kind, stream, dir, w).map(|_| ())
    })
    .await
}
