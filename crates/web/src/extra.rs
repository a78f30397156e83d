//! Capture properties, statistics, export objects and saving frames (the session's `info.rs`,
//! `stats.rs`, `objects.rs` and `save.rs`).

use std::io::Read;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use wiresift_session::SessionError;
use wiresift_session::save::{SaveFormat, Which};

use crate::api::blocking;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use crate::stream::stream_response;

/// Display filters given at once to the I/O graph, at most.
const MAX_IO_FILTERS: usize = 16;

pub async fn info(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let i = blocking(move || Ok(e.session.info())).await?;
    Ok(Json(i).into_response())
}

/// Splits `F1,F2` at the commas that are outside quotes, brackets and braces (a filter may
/// hold `tcp.port in {80,443}`).
pub fn split_filters(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote = false;
    let mut escape = false;
    for c in s.chars() {
        if quote {
            cur.push(c);
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == '"' {
                quote = false;
            }
            continue;
        }
        match c {
            '"' => quote = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

pub async fn stats(
    State(st): State<Arc<AppState>>,
    Path((id, what)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let kind = || q.text("type").unwrap_or("ip").trim().to_ascii_lowercase();
    let v: Value = match what.as_str() {
        "hierarchy" => {
            blocking(move || Ok(serde_json::to_value(e.session.hierarchy()).unwrap_or(Value::Null)))
                .await?
        }
        "conversations" => {
            let k = kind();
            blocking(move || {
                Ok(serde_json::to_value(e.session.conversations(&k)?).unwrap_or(Value::Null))
            })
            .await?
        }
        "endpoints" => {
            let k = kind();
            blocking(move || {
                Ok(serde_json::to_value(e.session.endpoints(&k)?).unwrap_or(Value::Null))
            })
            .await?
        }
        "io" => {
            let interval = q.u64("interval_ms", Some(1000))?;
            if interval == 0 {
                return Err(ApiError::param("interval_ms", "must be at least 1"));
            }
            let filters = split_filters(q.get("filters").unwrap_or(""));
            if filters.len() > MAX_IO_FILTERS {
                return Err(ApiError::param(
                    "filters",
                    format!("at most {MAX_IO_FILTERS} filters"),
                ));
            }
            blocking(move || {
                let f: Vec<&str> = filters.iter().map(String::as_str).collect();
                Ok(serde_json::to_value(e.session.io_graph(interval, &f)?).unwrap_or(Value::Null))
            })
            .await?
        }
        "expert" => {
            blocking(move || Ok(serde_json::to_value(e.session.expert()).unwrap_or(Value::Null)))
                .await?
        }
        _ => {
            return Err(ApiError::not_found(
                "no such statistic (hierarchy, conversations, endpoints, io, expert)",
            ));
        }
    };
    Ok(Json(v).into_response())
}

// ---- export objects ----

fn objects_json(s: &wiresift_session::Session) -> Value {
    serde_json::to_value(s.objects()).unwrap_or(Value::Null)
}

/// `POST .../objects`: starts the export (once per session and key set).
pub async fn start_objects(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    let v = blocking(move || {
        let exe = std::env::current_exe()
            .map_err(|e| ApiError::internal(format!("cannot find the wiresift binary: {e}")))?;
        e.session.start_objects(&exe, st.spool.dir())?;
        Ok(objects_json(&e.session))
    })
    .await?;
    Ok(Json(v))
}

/// `GET .../objects`
pub async fn objects(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = st.session(&id)?;
    let v = blocking(move || Ok(objects_json(&e.session))).await?;
    Ok(Json(v))
}

/// A media type worth passing on (`type/subtype` of token characters), or None.
fn clean_type(t: &str) -> Option<String> {
    let t = t.split(';').next()?.trim().to_ascii_lowercase();
    let (a, b) = t.split_once('/')?;
    let tok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
    };
    (tok(a) && tok(b)).then_some(t)
}

/// Images the browser may show from our origin (not SVG: it can carry script).
const INLINE_IMAGES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/avif",
];

/// A file name safe inside `filename="..."`.
pub fn header_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .take(150)
        .collect();
    if s.trim().is_empty() {
        "object.bin".to_string()
    } else {
        s
    }
}

/// `GET .../objects/K[?inline=1]`: the object's bytes.
pub async fn object(
    State(st): State<Arc<AppState>>,
    Path((id, k)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let k: u64 = k
        .parse()
        .map_err(|_| ApiError::param("object", "expected an object number"))?;
    let inline = matches!(q.text("inline"), Some("1" | "true"));
    let e2 = Arc::clone(&e);
    let (rec, path) = blocking(move || {
        let rec = e2.session.object_record(k)?;
        let path = e2.session.object_path(k)?;
        Ok((rec, path))
    })
    .await?;
    let ctype = rec
        .get("content_type")
        .and_then(Value::as_str)
        .and_then(clean_type);
    let fname = header_filename(
        rec.get("file")
            .and_then(Value::as_str)
            .unwrap_or("object.bin"),
    );
    let (served, disposition): (&'static str, String) = if inline {
        match ctype.as_deref() {
            Some(t) if INLINE_IMAGES.contains(&t) => (
                INLINE_IMAGES
                    .iter()
                    .find(|x| **x == t)
                    .copied()
                    .unwrap_or("image/png"),
                "inline".into(),
            ),
            _ => ("text/plain; charset=utf-8", "inline".into()),
        }
    } else {
        (
            "application/octet-stream",
            format!("attachment; filename=\"{fname}\""),
        )
    };
    let mut r = stream_response(served, Some(disposition), move |w| {
        let mut f = std::fs::File::open(&path).map_err(|source| SessionError::Io {
            what: "object file".into(),
            source,
        })?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = f.read(&mut buf).map_err(|source| SessionError::Io {
                what: "object file".into(),
                source,
            })?;
            if n == 0 {
                return Ok(());
            }
            w.write_all(&buf[..n]).map_err(|source| SessionError::Io {
                what: "sending the object".into(),
                source,
            })?;
        }
    })
    .await?;
    // The record's type, for the client to see (never used to render the bytes).
    if !inline
        && let Some(t) = ctype
        && let Ok(v) = HeaderValue::from_str(&t)
    {
        r.headers_mut()
            .insert(header::HeaderName::from_static("x-object-content-type"), v);
    }
    // Whatever the object is, it runs nothing here.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self' data:; sandbox"),
    );
    Ok(r)
}

/// `GET .../objects.zip`
pub async fn objects_zip(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    stream_response(
        "application/zip",
        Some("attachment; filename=\"objects.zip\"".into()),
        move |w| e.session.write_zip(w),
    )
    .await
}

// ---- save ----

/// `GET .../save?format=pcapng|pcap&which=all|displayed|marked|range&filter=E&range=R`
pub async fn save(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let e = st.session(&id)?;
    let format = SaveFormat::parse(q.text("format").unwrap_or("pcapng"))
        .ok_or_else(|| ApiError::param("format", "expected pcapng or pcap"))?;
    let which_s = q.text("which").unwrap_or("all").to_string();
    let which = Which::parse(&which_s, q.get("filter"), q.get("range"))?;
    if let Which::Displayed(f) = &which {
        wiresift_session::view::check(f)?;
    }
    let stem = e
        .name
        .trim_end_matches(".gz")
        .trim_end_matches(".pcapng")
        .trim_end_matches(".pcap")
        .trim_end_matches(".cap")
        .to_string();
    let fname = header_filename(&format!("{stem}-{which_s}.{}", format.extension()));
    stream_response(
        format.content_type(),
        Some(format!("attachment; filename=\"{fname}\"")),
        move |w| e.session.save(&which, format, w).map(|_| ()),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_split_outside_sets() {
        assert_eq!(
            split_filters("tcp, tcp.port in {80,443} ,http.host == \"a,b\""),
            ["tcp", "tcp.port in {80,443}", "http.host == \"a,b\""]
        );
        assert!(split_filters("").is_empty());
        assert_eq!(split_filters(",dns,"), ["dns"]);
    }

    #[test]
    fn types_and_names() {
        assert_eq!(
            clean_type("Text/HTML; charset=x").as_deref(),
            Some("text/html")
        );
        assert_eq!(clean_type("nonsense"), None);
        assert_eq!(clean_type("a/b\r\nx: y"), None);
        assert_eq!(header_filename("dir/a\"b.txt"), "a_b.txt");
        assert_eq!(header_filename("é.png"), "_.png");
        assert_eq!(header_filename(""), "object.bin");
    }
}
