//! File > Save As / Export Specified Packets: the selected frames, read again from the file,
//! written by the capture writer `wiresift read -w` uses, so the bytes are the same as
//! `wiresift read FILE -Y FILTER -w OUT --format F` writes.

use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;

use serde::Serialize;
use wiresift_capfile::{CaptureReader, LinkType, OutputFormat, Writer};

use crate::{Session, SessionError};

/// Which frames to save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Which {
    All,
    /// The frames of a display filter (all frames for an empty one).
    Displayed(String),
    Marked,
    /// Frame numbers and ranges: `1-10,20,30-` (`-5` is 1-5, `30-` is 30 to the last).
    Range(String),
}

impl Which {
    /// From the query parameters `which=all|displayed|marked|range`, `filter=`, `range=`.
    pub fn parse(
        which: &str,
        filter: Option<&str>,
        range: Option<&str>,
    ) -> Result<Which, SessionError> {
        Ok(match which {
            "all" | "" => Which::All,
            "displayed" => Which::Displayed(filter.unwrap_or("").to_string()),
            "marked" => Which::Marked,
            "range" => {
                let r = range.unwrap_or("").trim();
                if r.is_empty() {
                    return Err(SessionError::Invalid("which=range needs a range".into()));
                }
                // Checked now, so that a bad range is the caller's error before any output.
                parse_range(r, u64::MAX)?;
                Which::Range(r.to_string())
            }
            other => {
                return Err(SessionError::Invalid(format!(
                    "which={other:?}: expected all, displayed, marked or range"
                )));
            }
        })
    }
}

/// The file format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    Pcap,
    Pcapng,
}

impl SaveFormat {
    pub fn parse(s: &str) -> Option<SaveFormat> {
        match s {
            "pcap" => Some(SaveFormat::Pcap),
            "pcapng" => Some(SaveFormat::Pcapng),
            _ => None,
        }
    }
    /// The file name extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            SaveFormat::Pcap => "pcap",
            SaveFormat::Pcapng => "pcapng",
        }
    }
    /// The media type to serve the file as.
    pub fn content_type(self) -> &'static str {
        match self {
            SaveFormat::Pcap => "application/vnd.tcpdump.pcap",
            SaveFormat::Pcapng => "application/x-pcapng",
        }
    }
    fn output(self) -> OutputFormat {
        match self {
            SaveFormat::Pcap => OutputFormat::Pcap,
            SaveFormat::Pcapng => OutputFormat::PcapNg,
        }
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Saved {
    pub frames: u64,
    /// Captured bytes of the frames written.
    pub bytes: u64,
}

/// Parses a frame range (`1-10,20,30-`, spaces allowed) into sorted, merged, inclusive ranges
/// clipped to `1..=last`.
pub fn parse_range(s: &str, last: u64) -> Result<Vec<(u64, u64)>, SessionError> {
    let bad = |why: String| SessionError::Invalid(format!("frame range {s:?}: {why}"));
    let num = |t: &str| -> Result<u64, SessionError> {
        let t = t.trim();
        match t.parse::<u64>() {
            Ok(0) => Err(bad("frames are numbered from 1".into())),
            Ok(n) => Ok(n),
            Err(_) => Err(bad(format!("{t:?} is not a frame number"))),
        }
    };
    let mut out: Vec<(u64, u64)> = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (a, b) = match part.split_once('-') {
            None => {
                let n = num(part)?;
                (n, n)
            }
            Some((a, b)) => {
                let a = if a.trim().is_empty() { 1 } else { num(a)? };
                let b = if b.trim().is_empty() {
                    u64::MAX
                } else {
                    num(b)?
                };
                if a > b {
                    return Err(bad(format!("{part:?} runs backwards")));
                }
                (a, b)
            }
        };
        let b = b.min(last);
        if a <= b {
            out.push((a, b));
        }
    }
    if out.is_empty() && last == u64::MAX {
        return Err(bad("no frame numbers".into()));
    }
    out.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some(m) if a <= m.1.saturating_add(1) => m.1 = m.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(merged)
}

/// The selected frame numbers, without materialising "all" or a range.
enum Selection {
    Ranges(Vec<(u64, u64)>),
    View(crate::view::View),
    List(Vec<u64>),
}

impl Selection {
    fn for_each(
        &self,
        mut f: impl FnMut(u64) -> Result<(), SessionError>,
    ) -> Result<(), SessionError> {
        match self {
            Selection::Ranges(r) => {
                for &(a, b) in r {
                    for n in a..=b {
                        f(n)?;
                    }
                }
            }
            Selection::View(v) => {
                for &n in v.frames().unwrap_or_default() {
                    f(u64::from(n))?;
                }
            }
            Selection::List(v) => {
                for &n in v {
                    f(n)?;
                }
            }
        }
        Ok(())
    }
}

impl Session {
    fn selection(&self, which: &Which) -> Result<Selection, SessionError> {
        self.wait_indexed();
        let last = self.current().progress.frames.load(Ordering::Acquire);
        Ok(match which {
            Which::All => Selection::Ranges(if last > 0 { vec![(1, last)] } else { vec![] }),
            Which::Displayed(f) => {
                let v = self.view(Some(f))?;
                match v.frames() {
                    None => Selection::Ranges(if last > 0 { vec![(1, last)] } else { vec![] }),
                    Some(_) => Selection::View(v),
                }
            }
            Which::Marked => Selection::List(self.marked_frames()),
            Which::Range(r) => Selection::Ranges(parse_range(r, last)?),
        })
    }

    /// How many frames `which` selects (for a dialog's counts).
    pub fn selected_count(&self, which: &Which) -> Result<u64, SessionError> {
        let mut n = 0u64;
        self.selection(which)?.for_each(|_| {
            n += 1;
            Ok(())
        })?;
        Ok(n)
    }

    /// Writes the frames `which` selects to `out` as `format`. Waits for the index. Classic
    /// pcap holds one link type: a selection with several is refused before anything is
    /// written.
    pub fn save(
        &self,
        which: &Which,
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<Saved, SessionError> {
        let sel = self.selection(which)?;
        let ix = self.current();
        let ifaces = {
            let d = ix
                .data
                .read()
                .map_err(|_| SessionError::Invalid("index poisoned".into()))?;
            let link = |n: u64| {
                d.get(n).map(|e| {
                    d.interfaces
                        .get(e.iface() as usize)
                        .map(|i| i.link)
                        .unwrap_or(LinkType::ETHERNET)
                })
            };
            let mut first: Option<LinkType> = None;
            if format == SaveFormat::Pcap {
                sel.for_each(|n| {
                    let Some(l) = link(n) else { return Ok(()) };
                    match first {
                        None => first = Some(l),
                        Some(f) if f != l => {
                            return Err(SessionError::Invalid(format!(
                                "frame {n} has link type {l} but frame(s) before it {f}; classic pcap holds one link type: save as pcapng instead"
                            )));
                        }
                        Some(_) => {}
                    }
                    Ok(())
                })?;
            }
            d.interfaces.clone()
        };
        // As `read -w`: nanosecond pcap when an interface known before the first frame has
        // more than microsecond resolution.
        let nanos = CaptureReader::open(self.path())
            .map(|r| r.interfaces().iter().any(|i| i.precision_digits() > 6))
            .map_err(|e| SessionError::Capture(format!("{}: {e}", self.name)))?;
        let io = |e: std::io::Error| SessionError::io("writing the saved capture", e);
        let mut w = Writer::new(
            format.output(),
            BufWriter::with_capacity(1 << 20, out),
            nanos,
        )
        .map_err(io)?;
        let mut saved = Saved::default();
        sel.for_each(|n| {
            let written = self.with_frame(n, |frame, _| {
                w.write_frame(frame, &ifaces)
                    .map(|()| frame.data.len() as u64)
                    .map_err(|err| {
                        if err.kind() == std::io::ErrorKind::InvalidData {
                            SessionError::Invalid(err.to_string())
                        } else {
                            io(err)
                        }
                    })
            });
            let len = match written {
                Ok(r) => r?,
                Err(SessionError::NoSuchFrame(_)) => return Ok(()),
                Err(err) => return Err(err),
            };
            saved.frames += 1;
            saved.bytes += len;
            Ok(())
        })?;
        w.finish(&ifaces).map_err(io)?;
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_merge_and_clip() {
        assert_eq!(
            parse_range("1-10,20", 100).unwrap(),
            vec![(1, 10), (20, 20)]
        );
        assert_eq!(
            parse_range(" 20 , 5-8, 7-12, 13", 100).unwrap(),
            vec![(5, 13), (20, 20)]
        );
        assert_eq!(parse_range("-3,95-", 100).unwrap(), vec![(1, 3), (95, 100)]);
        assert_eq!(parse_range("150-", 100).unwrap(), vec![]);
        assert!(parse_range("0-3", 100).is_err());
        assert!(parse_range("5-3", 100).is_err());
        assert!(parse_range("a", 100).is_err());
        assert!(Which::parse("range", None, Some("x-")).is_err());
        assert!(Which::parse("range", None, Some("")).is_err());
        assert!(Which::parse("some", None, None).is_err());
        assert_eq!(
            Which::parse("displayed", Some("tcp"), None).unwrap(),
            Which::Displayed("tcp".into())
        );
    }
}
