//! The file browser: paths the browser names are relative to `--root` and must stay under it
//! (`..`, absolute paths and symlinks leading out are refused) — checked on the canonical
//! paths, so every spelling of a place is judged by where it really is.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

/// Entries listed per directory, at most.
const MAX_ENTRIES: usize = 10_000;

/// Names the file browser shows.
const EXTENSIONS: &[&str] = &[".pcap", ".pcapng", ".cap", ".gz"];

/// A path relative to the root as the API spells it (`a/b/c.pcap`; `""` is the root).
pub fn rel_string(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// The canonical path `rel` names under `root` (canonical), and its relative spelling.
pub fn resolve(root: &Path, rel: &str) -> Result<(PathBuf, String), ApiError> {
    let p = Path::new(rel);
    if rel.contains('\0') {
        return Err(ApiError::bad_request("bad path"));
    }
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ApiError::forbidden(
                    "paths are relative to the root, without ..",
                ));
            }
        }
    }
    let canon = root.join(p).canonicalize().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::not_found("no such file or directory")
        } else {
            ApiError::forbidden(format!("cannot open that path: {e}"))
        }
    })?;
    let Ok(inside) = canon.strip_prefix(root) else {
        return Err(ApiError::forbidden("that path leads outside the root"));
    };
    let rel = rel_string(inside).ok_or_else(|| ApiError::forbidden("path is not UTF-8"))?;
    Ok((canon, rel))
}

fn listed(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    EXTENSIONS
        .iter()
        .any(|e| l.ends_with(e) && l.len() > e.len())
}

#[derive(Serialize)]
struct FileEntry {
    name: String,
    path: String,
    dir: bool,
    size: u64,
    mtime: u64,
}

fn list_dir(root: &Path, rel: &str) -> Result<Value, ApiError> {
    let (dir, rel) = resolve(root, rel)?;
    if !dir.is_dir() {
        return Err(ApiError::bad_request("not a directory"));
    }
    let rd =
        std::fs::read_dir(&dir).map_err(|e| ApiError::forbidden(format!("cannot list: {e}")))?;
    let mut entries = Vec::new();
    let mut truncated = false;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            // A link is shown only when it leads somewhere under the root.
            match path.canonicalize() {
                Ok(c) if c.starts_with(root) => {}
                _ => continue,
            }
        }
        // Follows links.
        let Ok(md) = std::fs::metadata(&path) else {
            continue;
        };
        let is_dir = md.is_dir();
        let shown = is_dir || (md.is_file() && listed(name));
        if !shown {
            continue;
        }
        if entries.len() >= MAX_ENTRIES {
            truncated = true;
            break;
        }
        let mtime = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        entries.push(FileEntry {
            name: name.to_string(),
            path: if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            },
            dir: is_dir,
            size: if is_dir { 0 } else { md.len() },
            mtime,
        });
    }
    entries.sort_by(|a, b| {
        b.dir
            .cmp(&a.dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(json!({ "dir": rel, "entries": entries, "truncated": truncated }))
}

/// `GET /api/files?dir=REL`
pub async fn files(State(st): State<Arc<AppState>>, q: Params) -> Result<Json<Value>, ApiError> {
    let rel = q.get("dir").unwrap_or("").to_string();
    let v = crate::api::blocking(move || list_dir(&st.root, &rel)).await?;
    Ok(Json(v))
}

/// `GET /api/recent`
pub async fn recent(State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let files = crate::api::blocking(move || Ok(st.recent.list(&st.root))).await?;
    Ok(Json(json!({ "files": files })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_stays_under_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("a")).unwrap();
        std::fs::write(root.join("a/x.pcap"), b"").unwrap();
        assert_eq!(resolve(&root, "a/x.pcap").unwrap().1, "a/x.pcap");
        assert_eq!(resolve(&root, "./a/./x.pcap").unwrap().1, "a/x.pcap");
        assert_eq!(resolve(&root, "").unwrap().1, "");
        let st = |r: Result<_, ApiError>| r.unwrap_err().status.as_u16();
        assert_eq!(st(resolve(&root, "../x")), 403);
        assert_eq!(st(resolve(&root, "a/../a/x.pcap")), 403);
        assert_eq!(st(resolve(&root, "/etc/passwd")), 403);
        assert_eq!(st(resolve(&root, "nope")), 404);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
            assert_eq!(st(resolve(&root, "etc/passwd")), 403);
            assert_eq!(st(resolve(&root, "etc")), 403);
            std::os::unix::fs::symlink(root.join("a"), root.join("b")).unwrap();
            assert_eq!(resolve(&root, "b/x.pcap").unwrap().1, "a/x.pcap");
        }
    }

    #[test]
    fn listing_shows_captures_and_directories_only() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        for f in [
            "b.pcap",
            "A.PCAPNG",
            "c.cap",
            "d.pcap.gz",
            "e.txt",
            ".hidden.pcap",
            ".gz",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        std::fs::create_dir(root.join("zdir")).unwrap();
        std::fs::create_dir(root.join(".hid")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        let v = list_dir(&root, "").unwrap();
        let names: Vec<&str> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["zdir", "A.PCAPNG", "b.pcap", "c.cap", "d.pcap.gz"]);
        assert_eq!(v["entries"][0]["dir"], true);
        assert_eq!(v["entries"][1]["size"], 1);
    }
}
