//! Responses written by blocking session code (`follow_text`, `follow_bytes`, saving): a
//! writer on a blocking thread feeds a bounded channel, the body reads it. Nothing is held
//! whole in memory, and an error before the first bytes still gets a proper status.

use std::io::Write;

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;
use wiresift_session::SessionError;

use crate::error::ApiError;

/// Bytes gathered before they are sent.
const BATCH: usize = 64 << 10;

enum Msg {
    Data(Bytes),
    Failed(SessionError),
    /// Everything was written (a channel closed without it: the writer panicked).
    Done,
}

/// The blocking side.
struct ChannelWriter {
    tx: mpsc::Sender<Msg>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let b = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH)));
        self.tx.blocking_send(Msg::Data(b)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.tx.is_closed() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client went away",
            ));
        }
        self.buf.extend_from_slice(b);
        if self.buf.len() >= BATCH {
            self.send()?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` on a blocking thread and streams what it writes as the body of a 200 answer with
/// `content_type` (and `disposition`, when given).
pub async fn stream_response<F>(
    content_type: &'static str,
    disposition: Option<String>,
    f: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&mut dyn Write) -> Result<(), SessionError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(BATCH),
        };
        match f(&mut w) {
            Ok(()) => {
                if w.send().is_ok() {
                    let _ = tx.blocking_send(Msg::Done);
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Msg::Failed(e));
            }
        }
    });
    let first = match rx.recv().await {
        Some(Msg::Done) => None,
        Some(Msg::Failed(e)) => return Err(e.into()),
        Some(Msg::Data(b)) => Some(b),
        None => return Err(ApiError::internal("the request failed inside the server")),
    };
    let ended = first.is_none();
    let rest = stream::unfold((rx, ended), |(mut rx, ended)| async move {
        if ended {
            return None;
        }
        match rx.recv().await {
            Some(Msg::Data(b)) => Some((Ok(b), (rx, false))),
            Some(Msg::Done) => None,
            // Too late for a status: the body ends short (the client sees a cut transfer).
            Some(Msg::Failed(e)) => Some((Err(std::io::Error::other(e.to_string())), (rx, true))),
            None => Some((Err(std::io::Error::other("the writer stopped")), (rx, true))),
        }
    });
    let body = stream::iter(first.map(Ok::<Bytes, std::io::Error>)).chain(rest);
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(d) = disposition
        && let Ok(v) = HeaderValue::from_str(&d)
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Reads a request body into a file or memory through `sink`, at most `cap` bytes: `Err` with
/// 413 beyond it (the rest is not read).
pub async fn read_capped<S>(body: Body, cap: u64, mut sink: S) -> Result<u64, ApiError>
where
    S: AsyncSink,
{
    let mut s = body.into_data_stream();
    let mut n = 0u64;
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the request body ended early"))?;
        n += chunk.len() as u64;
        if n > cap {
            return Err(too_large(cap));
        }
        sink.put(chunk).await?;
    }
    Ok(n)
}

pub fn too_large(cap: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than the limit ({cap} bytes)"),
    )
}

/// Where [`read_capped`] puts the bytes.
pub trait AsyncSink {
    fn put(&mut self, b: Bytes) -> impl std::future::Future<Output = Result<(), ApiError>> + Send;
}

impl AsyncSink for &mut Vec<u8> {
    async fn put(&mut self, b: Bytes) -> Result<(), ApiError> {
        self.extend_from_slice(&b);
        Ok(())
    }
}

impl AsyncSink for &mut tokio::fs::File {
    async fn put(&mut self, b: Bytes) -> Result<(), ApiError> {
        use tokio::io::AsyncWriteExt;
        self.write_all(&b)
            .await
            .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))
    }
}
