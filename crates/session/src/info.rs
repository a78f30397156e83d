//! Capture file properties: what capinfos tells. [`CapInfo`] is counted frame by frame (by
//! `wiresift info` in its own pass, by the session in the indexing pass) and finished with the
//! reader's file facts; [`CapInfo::render`] is `wiresift info`'s text and [`Session::info`]
//! the UI's JSON of the same numbers.

use std::fmt::Write as _;

use serde::Serialize;
use wiresift_capfile::{CaptureReader, FileFormat, Frame, Interface, InterfaceStats};
use wiresift_dissect::fmt::{TimeFormat, push_time};

use crate::Session;

/// Counts of a capture and the reader's facts about the file.
#[derive(Clone, Debug)]
pub struct CapInfo {
    pub frames: u64,
    /// Captured bytes (capinfos' "Data size").
    pub data_bytes: u64,
    /// Bytes on the wire.
    pub wire_bytes: u64,
    pub first: i64,
    pub last: i64,
    pub min_len: u32,
    pub max_len: u32,
    /// Timestamps never went backwards.
    pub ordered: bool,
    prev: i64,
    /// Frames per interface.
    pub per_iface: Vec<u64>,
    // From the reader, at the end of the pass:
    pub format: Option<FileFormat>,
    pub gzip: bool,
    pub interfaces: Vec<Interface>,
    pub interface_stats: Vec<InterfaceStats>,
    /// Decryption Secrets Blocks.
    pub secrets: usize,
    /// What stopped the reading before the end of the file.
    pub error: Option<String>,
}

impl Default for CapInfo {
    fn default() -> CapInfo {
        CapInfo {
            frames: 0,
            data_bytes: 0,
            wire_bytes: 0,
            first: i64::MAX,
            last: i64::MIN,
            min_len: u32::MAX,
            max_len: 0,
            ordered: true,
            prev: i64::MIN,
            per_iface: Vec::new(),
            format: None,
            gzip: false,
            interfaces: Vec::new(),
            interface_stats: Vec::new(),
            secrets: 0,
            error: None,
        }
    }
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

impl CapInfo {
    /// Counts one frame.
    pub fn add(&mut self, f: &Frame<'_>) {
        self.frames += 1;
        self.data_bytes += f.data.len() as u64;
        self.wire_bytes += u64::from(f.orig_len);
        self.first = self.first.min(f.ts);
        self.last = self.last.max(f.ts);
        if f.ts < self.prev {
            self.ordered = false;
        }
        self.prev = f.ts;
        self.min_len = self.min_len.min(f.data.len() as u32);
        self.max_len = self.max_len.max(f.data.len() as u32);
        let i = f.iface as usize;
        if self.per_iface.len() <= i {
            self.per_iface.resize(i + 1, 0);
        }
        self.per_iface[i] += 1;
    }

    /// Takes the reader's facts at the end of the pass; `error` is what stopped it.
    pub fn finish(&mut self, r: &CaptureReader, error: Option<String>) {
        self.format = Some(r.format());
        self.gzip = r.is_gzip();
        self.interfaces = r.interfaces().to_vec();
        self.interface_stats = r.interface_stats().to_vec();
        self.secrets = r.secrets().len();
        self.error = error;
    }

    /// Sub-second digits of the timestamps (the finest interface).
    pub fn digits(&self) -> u8 {
        self.interfaces
            .iter()
            .map(|i| i.precision_digits())
            .max()
            .unwrap_or(6)
    }

    /// The file's type as capinfos names it.
    pub fn format_name(&self) -> String {
        let mut t = self
            .format
            .map(|f| f.describe())
            .unwrap_or("unknown")
            .to_string();
        if self.gzip {
            t.push_str(" (gzip compressed)");
        }
        t
    }

    /// `Description (NAME)` of each link type, consecutive repeats removed.
    pub fn encapsulations(&self) -> Vec<String> {
        let mut encaps: Vec<String> = self
            .interfaces
            .iter()
            .map(|i| format!("{} ({})", i.link.description(), i.link))
            .collect();
        encaps.dedup();
        encaps
    }

    /// The first statistics block of interface `i`.
    pub fn iface_stats(&self, i: usize) -> Option<&InterfaceStats> {
        self.interface_stats.iter().find(|s| s.iface as usize == i)
    }

    /// Capture duration in ns (0 without frames).
    pub fn duration_ns(&self) -> i64 {
        if self.frames == 0 {
            0
        } else {
            self.last - self.first
        }
    }

    /// The text `wiresift info` prints for the file (capinfos' layout).
    pub fn render(&self, name: &str, file_size: Option<u64>) -> String {
        let mut o = String::new();
        let n = self.frames;
        let digits = self.digits();
        let _ = writeln!(o, "File name:           {name}");
        let _ = writeln!(o, "File type:           {}", self.format_name());
        let encaps = self.encapsulations();
        if encaps.len() > 1 {
            let _ = writeln!(o, "File encapsulation:  Per packet");
            for e in &encaps {
                let _ = writeln!(o, "                     {e}");
            }
        } else {
            let _ = writeln!(
                o,
                "File encapsulation:  {}",
                encaps.first().map(String::as_str).unwrap_or("none")
            );
        }
        let _ = writeln!(o, "File timestamp precision:  {}", precision_name(digits));
        if let Some(FileFormat::Pcap { major, minor, .. }) = self.format {
            let _ = writeln!(o, "File format version: {major}.{minor}");
        }
        let snaps: Vec<u32> = self.interfaces.iter().map(|i| i.snaplen).collect();
        match (snaps.iter().min(), snaps.iter().max()) {
            (Some(a), Some(b)) if a == b => {
                let _ = writeln!(o, "Packet size limit:   file hdr: {a} bytes");
            }
            (Some(a), Some(b)) => {
                let _ = writeln!(o, "Packet size limit:   file hdr: {a}-{b} bytes");
            }
            _ => {}
        }
        if n > 0 {
            let _ = writeln!(
                o,
                "Packet size limit:   inferred: {} bytes - {} bytes (range)",
                self.min_len, self.max_len
            );
        }
        let _ = writeln!(o, "Number of packets:   {n}");
        if let Some(s) = file_size {
            let _ = writeln!(o, "File size:           {s} bytes");
        }
        let bytes = self.data_bytes;
        let _ = writeln!(o, "Data size:           {bytes} bytes");
        if self.wire_bytes != bytes {
            let _ = writeln!(o, "Data size on wire:   {} bytes", self.wire_bytes);
        }
        if n > 0 {
            let dur = self.last - self.first;
            let secs = dur as f64 / 1e9;
            let mut d = Vec::new();
            wiresift_dissect::fmt::push_secs(&mut d, dur, digits);
            let _ = writeln!(
                o,
                "Capture duration:    {} seconds",
                String::from_utf8_lossy(&d)
            );
            let _ = writeln!(o, "First packet time:   {}", time_str(self.first, digits));
            let _ = writeln!(o, "Last packet time:    {}", time_str(self.last, digits));
            if secs > 0.0 {
                let _ = writeln!(o, "Data byte rate:      {:.0} bytes/s", bytes as f64 / secs);
                let _ = writeln!(
                    o,
                    "Data bit rate:       {:.0} bits/s",
                    bytes as f64 * 8.0 / secs
                );
                let _ = writeln!(o, "Average packet rate: {:.0} packets/s", n as f64 / secs);
            } else {
                let _ = writeln!(o, "Data byte rate:      n/a");
                let _ = writeln!(o, "Data bit rate:       n/a");
                let _ = writeln!(o, "Average packet rate: n/a");
            }
            let _ = writeln!(
                o,
                "Average packet size: {:.2} bytes",
                bytes as f64 / n as f64
            );
            let _ = writeln!(
                o,
                "Strict time order:   {}",
                if self.ordered { "True" } else { "False" }
            );
        }
        if self.secrets > 0 {
            let _ = writeln!(o, "Decryption secrets:  {} block(s)", self.secrets);
        }
        let _ = writeln!(o, "Number of interfaces in file: {}", self.interfaces.len());
        for (i, iface) in self.interfaces.iter().enumerate() {
            let _ = writeln!(o, "Interface #{i} info:");
            if let Some(nm) = &iface.name {
                let _ = writeln!(o, "                     Name = {nm}");
            }
            if let Some(d) = &iface.description {
                let _ = writeln!(o, "                     Description = {d}");
            }
            let _ = writeln!(
                o,
                "                     Encapsulation = {} ({} - {})",
                iface.link.description(),
                iface.link.0,
                iface.link
            );
            let _ = writeln!(o, "                     Capture length = {}", iface.snaplen);
            let _ = writeln!(
                o,
                "                     Time precision = {}",
                precision_name(iface.precision_digits())
            );
            if let Some(f) = &iface.filter {
                let _ = writeln!(o, "                     Capture filter = {f}");
            }
            if let Some(os) = &iface.os {
                let _ = writeln!(o, "                     Operating system = {os}");
            }
            if let Some(st) = self.iface_stats(i) {
                if let Some(v) = st.received {
                    let _ = writeln!(o, "                     Packets received = {v}");
                }
                if let Some(v) = st.dropped {
                    let _ = writeln!(o, "                     Packets dropped = {v}");
                }
            }
            let _ = writeln!(
                o,
                "                     Number of packets = {}",
                self.per_iface.get(i).copied().unwrap_or(0)
            );
        }
        if let Some(e) = &self.error {
            let _ = writeln!(o, "Read error:          {e}");
        }
        o
    }
}

/// One capture interface.
#[derive(Clone, Debug, Serialize)]
pub struct InfoInterface {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Link type name (`EN10MB`, `LINUX_SLL2`, ...).
    pub link: String,
    pub link_type: u16,
    /// The link type as capinfos describes it (`Ethernet`).
    pub encapsulation: &'static str,
    pub snaplen: u32,
    pub filter: Option<String>,
    pub os: Option<String>,
    /// Sub-second digits of its timestamps.
    pub precision: u8,
    /// Interface Statistics Block counters (the first block of the interface).
    pub received: Option<u64>,
    pub dropped: Option<u64>,
    /// Frames of this interface in the file.
    pub packets: u64,
}

/// Capture file properties.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    pub name: String,
    pub format: String,
    pub encapsulations: Vec<String>,
    pub interfaces: Vec<InfoInterface>,
    pub frames: u64,
    /// Captured bytes.
    pub bytes: u64,
    /// Bytes on the wire.
    pub wire_bytes: u64,
    pub file_size: Option<u64>,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub duration_s: f64,
    /// Average captured bytes per frame.
    pub avg_size: Option<f64>,
    /// Frames per second (none for a zero duration).
    pub avg_pps: Option<f64>,
    /// Captured bits per second.
    pub avg_bps: Option<f64>,
    pub min_len: Option<u32>,
    pub max_len: Option<u32>,
    pub strict_order: bool,
    /// Sub-second digits of the timestamps.
    pub precision: u8,
    /// Decryption Secrets Blocks in the file.
    pub secrets: usize,
    /// Why the file could not be read to its end.
    pub damage: Option<String>,
}

impl Info {
    fn from_capinfo(name: &str, c: &CapInfo, file_size: Option<u64>) -> Info {
        let n = c.frames;
        let dur = c.duration_ns();
        let secs = dur as f64 / 1e9;
        let rate = |x: f64| (secs > 0.0).then(|| x / secs);
        Info {
            name: name.to_string(),
            format: c.format_name(),
            encapsulations: c.encapsulations(),
            interfaces: c
                .interfaces
                .iter()
                .enumerate()
                .map(|(i, f)| InfoInterface {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    link: f.link.to_string(),
                    link_type: f.link.0,
                    encapsulation: f.link.description(),
                    snaplen: f.snaplen,
                    filter: f.filter.clone(),
                    os: f.os.clone(),
                    precision: f.precision_digits(),
                    received: c.iface_stats(i).and_then(|s| s.received),
                    dropped: c.iface_stats(i).and_then(|s| s.dropped),
                    packets: c.per_iface.get(i).copied().unwrap_or(0),
                })
                .collect(),
            frames: n,
            bytes: c.data_bytes,
            wire_bytes: c.wire_bytes,
            file_size,
            first_ns: (n > 0).then_some(c.first),
            last_ns: (n > 0).then_some(c.last),
            duration_s: secs,
            avg_size: (n > 0).then(|| c.data_bytes as f64 / n as f64),
            avg_pps: rate(n as f64),
            avg_bps: rate(c.data_bytes as f64 * 8.0),
            min_len: (n > 0).then_some(c.min_len),
            max_len: (n > 0).then_some(c.max_len),
            strict_order: c.ordered,
            precision: c.digits(),
            secrets: c.secrets,
            damage: c.error.clone(),
        }
    }
}

impl Session {
    /// Capture file properties, from the indexing pass (waits for it).
    pub fn info(&self) -> Info {
        let c = self.cap_info();
        let file_size = std::fs::metadata(self.path()).map(|m| m.len()).ok();
        Info::from_capinfo(&self.name, &c, file_size)
    }

    /// The text `wiresift info FILE` prints, with the session's name as the file name (waits
    /// for the index).
    pub fn info_text(&self) -> String {
        let c = self.cap_info();
        let file_size = std::fs::metadata(self.path()).map(|m| m.len()).ok();
        c.render(&self.name, file_size)
    }

    fn cap_info(&self) -> CapInfo {
        self.wait_indexed();
        let ix = self.current();
        let mut c = match ix.stats.lock() {
            Ok(s) => s.cap_info().clone(),
            Err(p) => p.into_inner().cap_info().clone(),
        };
        // The file read is the decompressed copy of a gzip capture.
        if self.spooled.is_some() {
            c.gzip = true;
        }
        c
    }
}
