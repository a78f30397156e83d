//! `wiresift info`: what capinfos tells, in one streaming pass.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wiresift_capfile::FileFormat;
use wiresift_dissect::fmt::{TimeFormat, push_time};

use crate::Outcome;

#[derive(Args)]
pub struct InfoArgs {
    /// Capture file(s); `-` reads standard input
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

fn time_str(ts: i64, digits: u8) -> String {
    let mut v = Vec::new();
    push_time(&mut v, TimeFormat::Date, ts, 0, 0, digits);
    String::from_utf8_lossy(&v).into_owned()
}

fn precision_name(d: u8) -> String {
    match d {
        0 => "seconds (0)".into(),
        3 => "milliseconds (3)".into(),
        6 => "microseconds (6)".into(),
        9 => "nanoseconds (9)".into(),
        n => format!("10^-{n} seconds ({n})"),
    }
}

pub fn run(a: InfoArgs) -> Result<Outcome> {
    let mut worst = Outcome::Ok;
    for (i, path) in a.files.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match info_one(path) {
            Outcome::Ok => {}
            Outcome::Partial => {
                if matches!(worst, Outcome::Ok) {
                    worst = Outcome::Partial;
                }
            }
            Outcome::Failed => worst = Outcome::Failed,
        }
    }
    Ok(worst)
}

fn info_one(path: &PathBuf) -> Outcome {
    let mut r = match crate::output::open_capture(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wiresift: {}: {e}", path.display());
            return Outcome::Failed;
        }
    };
    let (mut n, mut bytes, mut wire) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut per_iface: Vec<u64> = Vec::new();
    let (mut min_len, mut max_len) = (u32::MAX, 0u32);
    let mut ordered = true;
    let mut prev = i64::MIN;
    let mut error = None;
    loop {
        match r.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        let Some(f) = r.current() else { break };
        n += 1;
        bytes += f.data.len() as u64;
        wire += u64::from(f.orig_len);
        first = first.min(f.ts);
        last = last.max(f.ts);
        if f.ts < prev {
            ordered = false;
        }
        prev = f.ts;
        min_len = min_len.min(f.data.len() as u32);
        max_len = max_len.max(f.data.len() as u32);
        let i = f.iface as usize;
        if per_iface.len() <= i {
            per_iface.resize(i + 1, 0);
        }
        per_iface[i] += 1;
    }
    let ifaces = r.interfaces();
    let digits = ifaces
        .iter()
        .map(|i| i.precision_digits())
        .max()
        .unwrap_or(6);
    let file_size = std::fs::metadata(path).map(|m| m.len()).ok();
    println!("File name:           {}", path.display());
    let mut ftype = r.format().describe().to_string();
    if r.is_gzip() {
        ftype.push_str(" (gzip compressed)");
    }
    println!("File type:           {ftype}");
    let mut encaps: Vec<String> = ifaces
        .iter()
        .map(|i| format!("{} ({})", i.link.description(), i.link))
        .collect();
    encaps.dedup();
    if encaps.len() > 1 {
        println!("File encapsulation:  Per packet");
        for e in &encaps {
            println!("                     {e}");
        }
    } else {
        println!(
            "File encapsulation:  {}",
            encaps.first().map(String::as_str).unwrap_or("none")
        );
    }
    println!("File timestamp precision:  {}", precision_name(digits));
    if let FileFormat::Pcap { major, minor, .. } = r.format() {
        println!("File format version: {major}.{minor}");
    }
    let snaps: Vec<u32> = ifaces.iter().map(|i| i.snaplen).collect();
    match (snaps.iter().min(), snaps.iter().max()) {
        (Some(a), Some(b)) if a == b => println!("Packet size limit:   file hdr: {a} bytes"),
        (Some(a), Some(b)) => println!("Packet size limit:   file hdr: {a}-{b} bytes"),
        _ => {}
    }
    if n > 0 {
        println!("Packet size limit:   inferred: {min_len} bytes - {max_len} bytes (range)");
    }
    println!("Number of packets:   {n}");
    if let Some(s) = file_size {
        println!("File size:           {s} bytes");
    }
    println!("Data size:           {bytes} bytes");
    if wire != bytes {
        println!("Data size on wire:   {wire} bytes");
    }
    if n > 0 {
        let dur = last - first;
        let secs = dur as f64 / 1e9;
        let mut d = Vec::new();
        wiresift_dissect::fmt::push_secs(&mut d, dur, digits);
        println!(
            "Capture duration:    {} seconds",
            String::from_utf8_lossy(&d)
        );
        println!("First packet time:   {}", time_str(first, digits));
        println!("Last packet time:    {}", time_str(last, digits));
        if secs > 0.0 {
            println!("Data byte rate:      {:.0} bytes/s", bytes as f64 / secs);
            println!(
                "Data bit rate:       {:.0} bits/s",
                bytes as f64 * 8.0 / secs
            );
            println!("Average packet rate: {:.0} packets/s", n as f64 / secs);
        } else {
            println!("Data byte rate:      n/a");
            println!("Data bit rate:       n/a");
            println!("Average packet rate: n/a");
        }
        println!("Average packet size: {:.2} bytes", bytes as f64 / n as f64);
        println!(
            "Strict time order:   {}",
            if ordered { "True" } else { "False" }
        );
    }
    if !r.secrets().is_empty() {
        println!("Decryption secrets:  {} block(s)", r.secrets().len());
    }
    println!("Number of interfaces in file: {}", ifaces.len());
    for (i, iface) in ifaces.iter().enumerate() {
        println!("Interface #{i} info:");
        if let Some(nm) = &iface.name {
            println!("                     Name = {nm}");
        }
        if let Some(d) = &iface.description {
            println!("                     Description = {d}");
        }
        println!(
            "                     Encapsulation = {} ({} - {})",
            iface.link.description(),
            iface.link.0,
            iface.link
        );
        println!("                     Capture length = {}", iface.snaplen);
        println!(
            "                     Time precision = {}",
            precision_name(iface.precision_digits())
        );
        if let Some(f) = &iface.filter {
            println!("                     Capture filter = {f}");
        }
        if let Some(os) = &iface.os {
            println!("                     Operating system = {os}");
        }
        for st in r
            .interface_stats()
            .iter()
            .filter(|s| s.iface as usize == i)
            .take(1)
        {
            if let Some(v) = st.received {
                println!("                     Packets received = {v}");
            }
            if let Some(v) = st.dropped {
                println!("                     Packets dropped = {v}");
            }
        }
        println!(
            "                     Number of packets = {}",
            per_iface.get(i).copied().unwrap_or(0)
        );
    }
    if let Some(e) = error {
        println!("Read error:          {e}");
        eprintln!("wiresift: {}: damaged after frame {n}: {e}", path.display());
        return if n == 0 {
            Outcome::Failed
        } else {
            Outcome::Partial
        };
    }
    Outcome::Ok
}
