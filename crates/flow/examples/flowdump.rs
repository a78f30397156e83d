//! Prints the flow engine's per-frame facts in the column order of
//! `tshark -T fields -e frame.number -e tcp.stream -e udp.stream -e tcp.seq -e tcp.ack
//!  -e tcp.nxtseq -e tcp.window_size -e tcp.window_size_scalefactor -e tcp.analysis.flags...`,
//! for diffing against tshark while developing. Usage: `flowdump FILE`.

#[path = "../tests/support/mod.rs"]
mod support;

use wiresift_flow::{Limits, PacketFlow};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: flowdump FILE");
        std::process::exit(2);
    };
    let run = support::run(std::path::Path::new(&path), Limits::default());
    for (n, pf) in &run.frames {
        match pf {
            Some(PacketFlow::Tcp(t)) => {
                let names: Vec<&str> = t
                    .analysis
                    .names()
                    .map(|s| s.trim_start_matches("tcp.analysis."))
                    .collect();
                println!(
                    "{n}\t{}\t\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.stream,
                    t.rel_seq,
                    t.rel_ack,
                    t.window_size,
                    t.window_scale_factor
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    names.join(","),
                    t.dup_ack_num.map(|v| v.to_string()).unwrap_or_default()
                );
            }
            Some(PacketFlow::Udp { stream, .. }) => println!("{n}\t\t{stream}\t\t\t\t\t\t"),
            None => println!("{n}\t\t\t\t\t\t\t\t"),
        }
    }
}
