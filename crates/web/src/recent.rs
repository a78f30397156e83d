//! The recently opened files (`$XDG_CONFIG_HOME/wiresift/ui.json`, else
//! `~/.config/wiresift/ui.json`): absolute paths on disk, shown relative to the root (files
//! outside the current root are not shown).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Files kept.
const KEEP: usize = 10;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecentFile {
    pub path: String,
    pub name: String,
    pub opened: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    files: Vec<RecentFile>,
}

pub struct Recent {
    file: Option<PathBuf>,
    lock: Mutex<()>,
}

/// `$XDG_CONFIG_HOME/wiresift/ui.json` or `$HOME/.config/wiresift/ui.json`.
pub fn default_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty() && Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("wiresift").join("ui.json"))
}

impl Recent {
    pub fn new(file: Option<PathBuf>) -> Recent {
        Recent {
            file,
            lock: Mutex::new(()),
        }
    }

    fn load(&self) -> Stored {
        self.file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Records that `abs` (canonical) was opened. Failures to write are not the user's
    /// problem: the list is a convenience.
    pub fn add(&self, abs: &Path, name: &str) {
        let Some(file) = &self.file else { return };
        let Some(p) = abs.to_str() else { return };
        let _g = self.lock.lock();
        let mut s = self.load();
        s.files.retain(|f| f.path != p);
        let opened = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        s.files.insert(
            0,
            RecentFile {
                path: p.to_string(),
                name: name.to_string(),
                opened,
            },
        );
        s.files.truncate(KEEP);
        let Some(dir) = file.parent() else { return };
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        if b.create(dir).is_err() {
            return;
        }
        let tmp = file.with_extension(format!("json.{}.tmp", std::process::id()));
        let Ok(text) = serde_json::to_vec_pretty(&s) else {
            return;
        };
        if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, file).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// The list, with paths relative to `root` (canonical); files elsewhere or gone are left
    /// out.
    pub fn list(&self, root: &Path) -> Vec<RecentFile> {
        let _g = self.lock.lock();
        self.load()
            .files
            .into_iter()
            .filter_map(|f| {
                let canon = Path::new(&f.path).canonicalize().ok()?;
                let rel = canon.strip_prefix(root).ok()?;
                if !canon.is_file() {
                    return None;
                }
                Some(RecentFile {
                    path: crate::files::rel_string(rel)?,
                    ..f
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ten_newest_first_and_only_under_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let r = Recent::new(Some(root.join("cfg/wiresift/ui.json")));
        for i in 0..12 {
            let p = root.join(format!("f{i}.pcap"));
            std::fs::write(&p, b"x").unwrap();
            r.add(&p, &format!("f{i}.pcap"));
        }
        let l = r.list(&root);
        assert_eq!(l.len(), 10);
        assert_eq!(l[0].path, "f11.pcap");
        assert_eq!(l[9].path, "f2.pcap");
        let sub = root.join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(r.list(&sub).is_empty());
    }
}
