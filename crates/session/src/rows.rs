//! Pages of the packet list: the rows of a range of positions in a view, made again from the
//! frames' bytes and the index (the summary line replays the relative-sequence base recorded
//! for each frame, so a row equals the CLI's line for that frame wherever the page starts).

use serde::Serialize;
use wiresift_dissect::fmt::{push_ipv4, push_ipv6, push_mac, push_time};
use wiresift_dissect::{Link, Net, Summarizer, TimeFormat};

use crate::{Session, SessionError, classify, colors};

/// Most rows one page may ask for.
pub const MAX_PAGE: usize = 1000;

/// View > Time Display Format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeDisplay {
    /// Time of day (UTC), as the CLI prints it.
    #[default]
    Absolute,
    Date,
    /// Seconds since the first frame.
    Relative,
    /// Since the previous captured frame.
    Delta,
    /// Since the previous frame of the view.
    DeltaDisplayed,
    Epoch,
}

impl TimeDisplay {
    pub fn parse(s: &str) -> Option<TimeDisplay> {
        Some(match s {
            "absolute" => TimeDisplay::Absolute,
            "date" => TimeDisplay::Date,
            "relative" => TimeDisplay::Relative,
            "delta" => TimeDisplay::Delta,
            "delta_displayed" => TimeDisplay::DeltaDisplayed,
            "epoch" => TimeDisplay::Epoch,
            _ => return None,
        })
    }
}

/// One packet-list row. Every string comes from packet data: the UI shows it as text.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub no: u64,
    pub time: String,
    pub src: String,
    pub dst: String,
    pub proto: &'static str,
    pub len: u32,
    pub info: String,
    pub color: Option<&'static str>,
    pub marked: bool,
    /// The CLI's line for the frame (`wiresift read`, without the time).
    pub line: String,
    /// `tcp.stream`/`udp.stream` and which one, for Follow and "conversation filter".
    pub stream: Option<u64>,
    pub transport: Option<&'static str>,
}

/// A page of rows.
#[derive(Clone, Debug, Serialize)]
pub struct Rows {
    /// Rows in the view (so far, while indexing goes on).
    pub total: u64,
    /// Frames indexed so far.
    pub indexed: u64,
    pub done: bool,
    pub rows: Vec<Row>,
}

/// Names of this machine's interfaces by index, for Linux SLL2 headers (as tcpdump shows them).
pub fn local_ifnames() -> std::collections::HashMap<u32, String> {
    let mut m = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(s) = std::fs::read_to_string(e.path().join("ifindex"))
                && let Ok(i) = s.trim().parse()
            {
                m.insert(i, name);
            }
        }
    }
    m
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Source and destination as Wireshark's columns show them: network addresses, else the
/// link-layer ones.
fn addresses(l: &wiresift_dissect::Layers) -> (String, String) {
    let mut s = Vec::new();
    let mut d = Vec::new();
    match l.net {
        Net::Ipv4(ip) => {
            push_ipv4(&mut s, ip.src);
            push_ipv4(&mut d, ip.dst);
        }
        Net::Ipv6(ip) => {
            push_ipv6(&mut s, ip.src);
            push_ipv6(&mut d, ip.dst);
        }
        _ => match l.link {
            Link::Ethernet { dst, src, .. } => {
                push_mac(&mut s, &src);
                if dst == [0xff; 6] {
                    d.extend_from_slice(b"Broadcast");
                } else {
                    push_mac(&mut d, &dst);
                }
            }
            Link::Sll { addr, addrlen, .. } => {
                push_mac(&mut s, &addr[..usize::from(addrlen.min(8))]);
            }
            Link::Sll2 { addr, addrlen, .. } => {
                push_mac(&mut s, &addr[..usize::from(addrlen.min(8))]);
            }
            _ => {}
        },
    }
    (text(&s), text(&d))
}

/// Info: the summary line without the addresses tcpdump puts first (`IP a.1 > b.2: `), with
/// the ports first as Wireshark's Info column has them (`50153 → 80 ...`).
fn info_of(line: &str, l: &wiresift_dissect::Layers) -> String {
    let rest = match line.find(": ") {
        Some(i) if line[..i].contains(" > ") => &line[i + 2..],
        _ => line,
    };
    match l.transport {
        wiresift_dissect::Transport::Tcp(t) => format!("{} → {} {rest}", t.sport, t.dport),
        wiresift_dissect::Transport::Udp { sport, dport, .. } => {
            format!("{sport} → {dport} {rest}")
        }
        _ => rest.to_string(),
    }
}

impl Session {
    /// Rows `start..start+count` of the view of `filter` (all frames when None).
    pub fn rows(
        &self,
        filter: Option<&str>,
        start: u64,
        count: usize,
        time: TimeDisplay,
    ) -> Result<Rows, SessionError> {
        let count = count.min(MAX_PAGE);
        let view = self.view(filter)?;
        let ix = self.current();
        let d = ix
            .data
            .read()
            .map_err(|_| SessionError::Invalid("index poisoned".into()))?;
        let indexed = d.len() as u64;
        let done = ix.progress.done.load(std::sync::atomic::Ordering::Acquire);
        let total = view.visible(indexed);
        let end = start.saturating_add(count as u64).min(total);
        let frames: Vec<u64> = (start..end).filter_map(|p| view.frame_at(p)).collect();
        // The previous frame of the view, for "since previous displayed".
        let prev_shown = start.checked_sub(1).and_then(|p| view.frame_at(p));
        let first_ts = d.get(1).map(|e| e.ts).unwrap_or(0);
        let mut prev_disp_ts = prev_shown.and_then(|n| d.get(n)).map(|e| e.ts);
        let digits: Vec<u8> = d.interfaces.iter().map(|i| i.precision_digits()).collect();
        let plan: Vec<_> = frames
            .iter()
            .filter_map(|&n| {
                let e = *d.get(n)?;
                let prev_ts = n
                    .checked_sub(1)
                    .and_then(|p| d.get(p))
                    .map(|p| p.ts)
                    .unwrap_or(e.ts);
                let extra = d.extra(n).map(str::to_string);
                Some((n, e, prev_ts, d.seq_base(&e), extra))
            })
            .collect();
        drop(d);
        let mut summ = Summarizer::new();
        summ.ifnames = self.ifnames.clone();
        let mut rows = Vec::with_capacity(plan.len());
        let mut buf = Vec::with_capacity(256);
        for (n, e, prev_ts, base, extra) in plan {
            let (_, link, data) = self.read_frame(n)?;
            let layers = wiresift_dissect::decode(link, &data);
            buf.clear();
            summ.seq_override = Some(base);
            summ.write(&mut buf, &data, &layers, e.orig_len);
            if let Some(x) = &extra {
                buf.extend_from_slice(b", TLS: ");
                buf.extend_from_slice(x.as_bytes());
            }
            let line = text(&buf);
            let dg = digits.get(e.iface() as usize).copied().unwrap_or(6);
            let mut t = Vec::with_capacity(32);
            let (fmt, prev) = match time {
                TimeDisplay::Absolute => (TimeFormat::Absolute, 0),
                TimeDisplay::Date => (TimeFormat::Date, 0),
                TimeDisplay::Relative => (TimeFormat::Relative, 0),
                TimeDisplay::Delta => (TimeFormat::Delta, prev_ts),
                TimeDisplay::DeltaDisplayed => (TimeFormat::Delta, prev_disp_ts.unwrap_or(e.ts)),
                TimeDisplay::Epoch => (TimeFormat::Epoch, 0),
            };
            push_time(&mut t, fmt, e.ts, first_ts, prev, dg);
            prev_disp_ts = Some(e.ts);
            let (src, dst) = addresses(&layers);
            let proto = classify::name(e.proto());
            let color = {
                let meta = wiresift_dissect::FrameMeta {
                    number: n,
                    ts: e.ts,
                    first_ts,
                    prev_ts,
                    prev_displayed_ts: prev_ts,
                    orig_len: e.orig_len,
                    iface: e.iface(),
                    iface_name: None,
                    link,
                };
                let view = wiresift_dissect::FrameView::new(meta, &data, &layers);
                self.colorizer
                    .color(&view, proto, e.flags() & crate::index::F_BAD_TCP != 0)
            };
            let stream = e.stream_of();
            rows.push(Row {
                no: n,
                time: text(&t),
                src,
                dst,
                proto,
                len: e.orig_len,
                info: info_of(&line, &layers),
                color: colors::rule_name(color),
                marked: self.is_marked(n),
                line,
                stream: stream.map(|(_, s)| s),
                transport: stream.map(|(udp, _)| if udp { "udp" } else { "tcp" }),
            });
        }
        Ok(Rows {
            total,
            indexed,
            done,
            rows,
        })
    }

    /// Where frame `n` sits in the view of `filter`: its position, and the position of the
    /// first frame at or after it (Go to packet on a frame the filter hides).
    pub fn position(
        &self,
        filter: Option<&str>,
        n: u64,
    ) -> Result<(Option<u64>, u64), SessionError> {
        let view = self.view(filter)?;
        Ok(view.position(n))
    }
}
