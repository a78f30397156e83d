//! Shared helpers for the CLI's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The wiresift binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wiresift"))
}

/// tests/data in the repository.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

/// The shared capture corpus, from `WIRESIFT_CAPTURES` (set by .ci/run). `None` (with the
/// reason printed) when it is not available, so the test can skip.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("WIRESIFT_CAPTURES") {
        Some(p) if Path::new(&p).is_dir() => Some(PathBuf::from(p)),
        Some(p) => {
            eprintln!(
                "SKIP: WIRESIFT_CAPTURES={} is not a directory",
                Path::new(&p).display()
            );
            None
        }
        None => {
            eprintln!(
                "SKIP: WIRESIFT_CAPTURES is not set (.ci/run points it at ../shared/captures)"
            );
            None
        }
    }
}

/// Files under `dir` (recursively) that `keep` accepts, sorted.
#[allow(dead_code)]
pub fn files_under(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if keep(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every capture of the corpus with its `.expected.txt` parsed into lines.
pub fn corpus_captures(dir: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().ends_with(".expected.txt") {
                let cap = PathBuf::from(p.to_string_lossy().trim_end_matches(".expected.txt"));
                if cap.exists() {
                    let lines = std::fs::read_to_string(&p)
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_string)
                        .collect();
                    out.push((cap, lines));
                }
            }
        }
    }
    out.sort();
    out
}

/// Value of `key: value` in an expected file.
pub fn expected<'a>(lines: &'a [String], key: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// Parses `PREFIX "expr": N ...` lines into (expr, N, rest).
pub fn quoted_counts(lines: &[String], prefix: &str) -> Vec<(String, u64, String)> {
    let mut v = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix(prefix) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(" \"") else {
            continue;
        };
        let Some(end) = rest.rfind("\": ") else {
            continue;
        };
        let expr = rest[..end].to_string();
        let tail = &rest[end + 3..];
        let mut it = tail.splitn(2, ' ');
        let Some(n) = it.next().and_then(|n| n.parse().ok()) else {
            continue;
        };
        v.push((expr, n, it.next().unwrap_or("").to_string()));
    }
    v
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run wiresift")
}

pub fn stdout_lines(o: &Output) -> usize {
    o.stdout.iter().filter(|&&b| b == b'\n').count()
}

/// True if `tool` runs; prints a skip reason otherwise.
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: {tool} is not installed (.ci/run installs it)");
    }
    ok
}
