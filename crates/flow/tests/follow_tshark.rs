//! Byte-for-byte comparison of every follow format with tshark 4.0's `-z follow` output, for
//! every TCP and UDP stream of the corpus. Slow (one tshark run per stream and format) and
//! needs tshark: run with `cargo test -p wiresift-flow --test follow_tshark -- --ignored`.
//! The raw format is always checked by `corpus.rs` through the recorded md5s.

mod support;

use std::process::Command;

use wiresift_flow::{FollowFormat, Limits, Proto};

#[test]
#[ignore = "runs tshark once per stream and format (slow)"]
fn follow_formats_match_tshark() {
    let Some(dir) = support::captures_dir() else {
        return;
    };
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("SKIP: tshark not installed");
        return;
    }
    let only = std::env::var("WIRESIFT_FOLLOW_ONLY").ok();
    let mut bad = Vec::new();
    let mut n = 0;
    for (cap, _) in support::corpus(&dir) {
        if only
            .as_deref()
            .is_some_and(|o| !cap.to_string_lossy().contains(o))
        {
            continue;
        }
        for format in [
            FollowFormat::Ascii,
            FollowFormat::Hex,
            FollowFormat::Raw,
            FollowFormat::Yaml,
        ] {
            let h = support::FollowAll {
                format: Some(format),
                ..Default::default()
            };
            let (_, all) = support::run_with(&cap, Limits::default(), h, |_, _| {});
            for (id, (w, _, _)) in all.out {
                let proto = match id.proto {
                    Proto::Tcp => "tcp",
                    Proto::Udp => "udp",
                };
                let z = format!("follow,{proto},{},{}", format.as_str(), id.stream);
                let Ok(o) = Command::new("tshark")
                    .args(["-n", "-q", "-r"])
                    .arg(&cap)
                    .args(["-z", &z])
                    .output()
                else {
                    continue;
                };
                let mine = w.finish().unwrap_or_default();
                n += 1;
                if mine != o.stdout {
                    if let Ok(d) = std::env::var("WIRESIFT_FOLLOW_DUMP") {
                        let _ = std::fs::write(format!("{d}/mine.txt"), &mine);
                        let _ = std::fs::write(format!("{d}/tshark.txt"), &o.stdout);
                    }
                    bad.push(format!("{} {z}", cap.display()));
                }
            }
        }
    }
    eprintln!("{n} follow outputs compared, {} differ", bad.len());
    for b in &bad {
        eprintln!("DIFF {b}");
    }
    assert!(bad.is_empty());
}
