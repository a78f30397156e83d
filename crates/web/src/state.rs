//! What the server holds: the token, the root, the spool directory and the opened sessions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use wiresift_session::Session;

use crate::error::{ApiError, WebError};
use crate::recent::Recent;

/// Sessions open at once, at most (429 beyond).
pub const MAX_SESSIONS: usize = 32;

/// Shared by every handler.
pub struct AppState {
    pub token: String,
    /// Canonical.
    pub root: PathBuf,
    pub spool: Spool,
    pub max_upload: u64,
    /// The port we listen on (the `Host` check).
    pub port: u16,
    pub sessions: Mutex<Sessions>,
    pub recent: Recent,
}

/// One opened capture.
pub struct Entry {
    pub id: String,
    pub name: String,
    /// Relative to the root (or the upload's name).
    pub path: String,
    pub session: Session,
    /// The uploaded file in the spool, removed with the session.
    pub upload: Option<PathBuf>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(p) = &self.upload {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    next: u64,
    map: BTreeMap<u64, Arc<Entry>>,
}

impl Sessions {
    pub fn list(&self) -> Vec<Arc<Entry>> {
        self.map.values().cloned().collect()
    }
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

impl AppState {
    /// The session `id` (`s1`, `s2`, ...).
    pub fn session(&self, id: &str) -> Result<Arc<Entry>, ApiError> {
        let n = id.strip_prefix('s').and_then(|n| n.parse::<u64>().ok());
        let m = self
            .sessions
            .lock()
            .map_err(|_| ApiError::internal("session table poisoned"))?;
        n.and_then(|n| m.map.get(&n).cloned())
            .ok_or_else(|| ApiError::not_found("no such session"))
    }

    /// Whether another session may be opened (checked before the work of opening one).
    pub fn room(&self) -> Result<(), ApiError> {
        let m = self
            .sessions
            .lock()
            .map_err(|_| ApiError::internal("session table poisoned"))?;
        if m.map.len() >= MAX_SESSIONS {
            return Err(too_many());
        }
        Ok(())
    }

    /// Adds an opened session and gives it its id.
    pub fn insert(
        &self,
        name: String,
        path: String,
        session: Session,
        upload: Option<PathBuf>,
    ) -> Result<Arc<Entry>, ApiError> {
        let mut m = self
            .sessions
            .lock()
            .map_err(|_| ApiError::internal("session table poisoned"))?;
        if m.map.len() >= MAX_SESSIONS {
            // Dropping the session (and its upload) here.
            return Err(too_many());
        }
        m.next += 1;
        let n = m.next;
        let e = Arc::new(Entry {
            id: format!("s{n}"),
            name,
            path,
            session,
            upload,
        });
        m.map.insert(n, Arc::clone(&e));
        Ok(e)
    }

    /// Closes a session: the last request using it drops it (and its spool files).
    pub fn remove(&self, id: &str) -> Result<(), ApiError> {
        let n = id.strip_prefix('s').and_then(|n| n.parse::<u64>().ok());
        let mut m = self
            .sessions
            .lock()
            .map_err(|_| ApiError::internal("session table poisoned"))?;
        n.and_then(|n| m.map.remove(&n))
            .map(drop)
            .ok_or_else(|| ApiError::not_found("no such session"))
    }
}

fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("at most {MAX_SESSIONS} captures can be open at once: close one first"),
    )
}

/// A private directory for uploads and decompressed captures, made fresh inside the given
/// directory (mode 0700) and removed with everything in it when the server stops.
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn create(parent: &Path) -> Result<Spool, WebError> {
        let err = |error| WebError::Spool {
            path: parent.to_path_buf(),
            error,
        };
        std::fs::create_dir_all(parent).map_err(err)?;
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).map_err(|e| WebError::Random(e.to_string()))?;
        let tag: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let dir = parent.join(format!("wiresift-ui-{}-{tag}", std::process::id()));
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir).map_err(|error| WebError::Spool {
            path: dir.clone(),
            error,
        })?;
        Ok(Spool { dir })
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.remove();
    }
}
