//! `wiresift read`: one pass over a capture; capture filter; summary lines, hex, or a new file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use wiresift_capfile::{OutputFormat, Writer};
use wiresift_capture::CaptureFilter;
use wiresift_dissect::fmt::{push_hexdump, push_time};
use wiresift_dissect::{Summarizer, TimeFormat, decode};
use wiresift_session::pipeline::{Needs, Pipeline, Times, tls_summary_of};

use crate::registry::registry;
use crate::structured::{self, FieldsOptions};

use crate::Outcome;
use crate::output::Out;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TimeArg {
    /// Time of day (UTC), as `TZ=UTC tcpdump` prints it
    Absolute,
    /// Seconds since the first frame
    Relative,
    /// Seconds since the previous frame shown
    Delta,
    /// Seconds since 1970-01-01
    Epoch,
    /// Date and time of day (UTC)
    Date,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Pcap,
    Pcapng,
}

#[derive(Args)]
pub struct ReadArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input
    pub file: PathBuf,
    /// Capture filter (pcap-filter syntax), as tcpdump takes it after its options; the words
    /// are joined with spaces (options may come before or after them)
    #[arg(value_name = "FILTER")]
    pub filter_words: Vec<String>,
    /// Capture filter (pcap-filter syntax, e.g. 'src host 10.0.0.1 and port 80')
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this many frames (counted after filtering)
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Write the selected frames to this file instead of printing them (`-` = stdout)
    #[arg(short = 'w', long = "write", value_name = "OUT")]
    pub write: Option<PathBuf>,
    /// Output file format (default: from the extension, `.pcapng` or else pcap)
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
    /// With -w, print the summary lines as well
    #[arg(long)]
    pub print: bool,
    /// Hex and ASCII dump of each frame after its line
    #[arg(short = 'x')]
    pub hex: bool,
    /// Timestamp format
    #[arg(long = "time", value_enum, default_value = "absolute")]
    pub time: TimeArg,
    /// Print absolute TCP sequence numbers (tcpdump -S)
    #[arg(short = 'S')]
    pub absolute_seq: bool,
    /// Accepted for tcpdump compatibility: addresses and ports are always numeric
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,
    /// Display filter (Wireshark syntax, e.g. 'tcp.port == 25 && ip.addr == 10.0.0.0/8')
    #[arg(short = 'Y', long = "display-filter", value_name = "FILTER")]
    pub display_filter: Option<String>,
    /// Output format: text (summary lines), fields (-e), json (one object per frame)
    #[arg(short = 'T', value_enum, default_value = "text")]
    pub output: OutputArg,
    /// Field to print with -T fields (repeatable), e.g. -e ip.src -e tcp.dstport
    #[arg(short = 'e', value_name = "FIELD")]
    pub fields: Vec<String>,
    /// -T fields option: header=y, separator=,|/t|/s, quote=d|s|n, occurrence=f|l|a|N, aggregator=,
    #[arg(short = 'E', value_name = "KEY=VALUE")]
    pub field_opts: Vec<String>,
    /// Detail tree of every field of each frame
    #[arg(short = 'V')]
    pub verbose: bool,
    /// Show credentials (http.authorization) instead of redacting them
    #[arg(long = "show-secrets")]
    pub show_secrets: bool,
    #[command(flatten)]
    pub tls: crate::tls_opts::TlsArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    Text,
    Fields,
    Json,
}

impl ReadArgs {
    fn filter_expr(&self) -> Option<String> {
        let words = self.filter_words.join(" ");
        match (&self.filter, words.trim().is_empty()) {
            (Some(f), true) => Some(f.clone()),
            (Some(f), false) => Some(format!("({f}) and ({words})")),
            (None, false) => Some(words),
            (None, true) => None,
        }
    }
}

pub fn run(a: ReadArgs) -> Result<Outcome> {
    let mut reader = match crate::output::open_capture(&a.file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wiresift: {}: {e}", a.file.display());
            return Ok(Outcome::Failed);
        }
    };
    let first_link = reader
        .interfaces()
        .first()
        .map(|i| i.link)
        .unwrap_or(wiresift_capfile::LinkType::ETHERNET);
    let mut filter = match a.filter_expr() {
        Some(expr) => match CaptureFilter::new(&expr, first_link, reader.big_endian()) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("wiresift: {}", e.message);
                eprintln!("  in capture filter: {}", e.expr);
                return Ok(Outcome::Failed);
            }
        },
        None => None,
    };
    let reg = registry();
    let Ok(display) = crate::registry::compile_display_filter(a.display_filter.as_deref()) else {
        return Ok(Outcome::Failed);
    };
    let mut field_ids = Vec::new();
    for name in &a.fields {
        match reg.lookup(name) {
            Some(id) => field_ids.push(id),
            None => {
                let s = reg.suggest(name, 3);
                eprintln!(
                    "wiresift: -e {name}: no such field{}",
                    if s.is_empty() {
                        String::new()
                    } else {
                        format!(" (did you mean: {}?)", s.join(", "))
                    }
                );
                return Ok(Outcome::Failed);
            }
        }
    }
    if a.output == OutputArg::Fields && field_ids.is_empty() {
        eprintln!("wiresift: -T fields needs at least one -e FIELD");
        return Ok(Outcome::Failed);
    }
    let mut fopts = FieldsOptions::default();
    for kv in &a.field_opts {
        fopts.set(kv)?;
    }
    let mut writer: Option<Writer<Box<dyn Write>>> = match &a.write {
        Some(p) => {
            let format = match a.format {
                Some(FormatArg::Pcap) => OutputFormat::Pcap,
                Some(FormatArg::Pcapng) => OutputFormat::PcapNg,
                None => OutputFormat::from_path(p),
            };
            let w: Box<dyn Write> = if p.as_os_str() == "-" {
                Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
            } else {
                Box::new(BufWriter::with_capacity(
                    1 << 20,
                    File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
                ))
            };
            let nanos = reader.interfaces().iter().any(|i| i.precision_digits() > 6);
            Some(Writer::new(format, w, nanos).context("cannot write the output header")?)
        }
        None => None,
    };
    let print = writer.is_none() || a.print;
    let time = match a.time {
        TimeArg::Absolute => TimeFormat::Absolute,
        TimeArg::Relative => TimeFormat::Relative,
        TimeArg::Delta => TimeFormat::Delta,
        TimeArg::Epoch => TimeFormat::Epoch,
        TimeArg::Date => TimeFormat::Date,
    };
    let mut summ = Summarizer::new();
    summ.absolute_seq = a.absolute_seq;
    if print {
        summ.ifnames = wiresift_session::rows::local_ifnames();
    }
    let mut out = Out::stdout();
    if print && a.output == OutputArg::Fields && fopts.header {
        structured::fields_header(&mut out.buf, &a.fields, &fopts);
    }
    let tls_keys_given = !a.tls.tls_keylog.is_empty() || !a.tls.tls_key.is_empty();
    let needs_view =
        display.is_some() || a.output != OutputArg::Text || a.verbose || tls_keys_given;
    let (mut first, mut prev) = (None::<i64>, 0i64);
    // Flow state (stream numbers, relative sequence numbers, reassembly) is needed only by
    // fields; plain summary lines skip it.
    let flow_base = wiresift_engine::fields::BASE;
    let needs_flows = a.output == OutputArg::Json
        || a.verbose
        || tls_keys_given
        || field_ids.iter().any(|&id| id >= flow_base)
        || display
            .as_ref()
            .is_some_and(|d| d.fields().iter().any(|&id| id >= flow_base));
    // Application parsers run only when their fields are asked for (the shared pipeline of
    // `wiresift-session`, which the UI's filters and detail tree use too).
    let uses_block = |lo: u32, hi: u32| {
        a.output == OutputArg::Json
            || a.verbose
            || field_ids.iter().any(|id| (lo..hi).contains(id))
            || display
                .as_ref()
                .is_some_and(|d| d.fields().iter().any(|id| (lo..hi).contains(id)))
    };
    let http_ids = |ids: &[u32]| {
        ids.iter()
            .any(|id| (wiresift_http::BASE..wiresift_http::BASE + 1000).contains(id))
    };
    let fd = wiresift_http::fields::HTTP_FILE_DATA;
    let tls_base = wiresift_tls::fields::BASE;
    let needs = Needs {
        flows: needs_flows,
        http: needs_view
            && (http_ids(&field_ids) || display.as_ref().is_some_and(|d| http_ids(d.fields()))),
        http_file_data: field_ids.contains(&fd)
            || display.as_ref().is_some_and(|d| d.fields().contains(&fd)),
        mail: needs_view && uses_block(wiresift_mail::BASE, wiresift_mail::BASE + 1000),
        tls: needs_flows && uses_block(tls_base, tls_base + 1000),
        show_secrets: a.show_secrets,
    };
    let mut pipe = match needs_view {
        true => Some(Pipeline::new(needs, Some(a.tls.key_store()?))?),
        false => None,
    };
    let mut times = Times::default();
    let mut shown = 0u64;
    let limit = a.count.unwrap_or(u64::MAX);
    let mut damage = None;
    while shown < limit {
        match reader.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                damage = Some(e);
                break;
            }
        }
        let Some(frame) = reader.current() else { break };
        if let Some(f) = filter.as_mut()
            && !f.matches(frame.link, frame.data, frame.orig_len)
        {
            continue;
        }
        let ifaces = reader.interfaces();
        let start = *first.get_or_insert(frame.ts);
        let Some(p) = pipe.as_mut() else {
            // Plain summary lines: decode and print, no flow state.
            shown += 1;
            if let Some(w) = writer.as_mut() {
                w.write_frame(&frame, ifaces)
                    .with_context(|| format!("writing frame {}", frame.number))?;
            }
            if print {
                let layers = decode(frame.link, frame.data);
                let digits = ifaces
                    .get(frame.iface as usize)
                    .map(|i| i.precision_digits())
                    .unwrap_or(6);
                push_time(&mut out.buf, time, frame.ts, start, prev, digits);
                out.buf.push(b' ');
                summ.write(&mut out.buf, frame.data, &layers, frame.orig_len);
                out.buf.push(b'\n');
                if a.hex {
                    push_layers_and_hex(&mut out.buf, &layers, frame.data);
                }
                out.maybe_flush()?;
            }
            prev = frame.ts;
            continue;
        };
        p.sync_secrets(reader.secrets());
        let shown_before = shown;
        let r: Result<()> = p.process(&frame, ifaces, &mut times, None, |v, processed, tls| {
            if let Some(d) = &display
                && !d.matches(v)
            {
                return Ok(());
            }
            shown += 1;
            if let Some(w) = writer.as_mut() {
                w.write_frame(&frame, ifaces)
                    .with_context(|| format!("writing frame {}", frame.number))?;
            }
            if print {
                match a.output {
                    OutputArg::Fields => {
                        structured::fields_line(&mut out.buf, v, reg, &field_ids, &fopts)
                    }
                    OutputArg::Json => structured::json_line(&mut out.buf, frame.number, v, reg),
                    OutputArg::Text => {
                        let digits = ifaces
                            .get(frame.iface as usize)
                            .map(|i| i.precision_digits())
                            .unwrap_or(6);
                        push_time(&mut out.buf, time, frame.ts, start, prev, digits);
                        out.buf.push(b' ');
                        summ.write(&mut out.buf, frame.data, &processed.layers, frame.orig_len);
                        if let Some(info) = tls_summary_of(tls, frame.number) {
                            out.buf.extend_from_slice(b", TLS: ");
                            out.buf.extend_from_slice(info.as_bytes());
                        }
                        out.buf.push(b'\n');
                        if a.verbose {
                            structured::detail_tree(&mut out.buf, v, reg);
                        }
                        if a.hex {
                            push_layers_and_hex(&mut out.buf, &processed.layers, frame.data);
                        }
                    }
                }
                out.maybe_flush()?;
            }
            Ok(())
        });
        r?;
        if shown > shown_before {
            times.prev_displayed = Some(frame.ts);
            prev = frame.ts;
        }
    }
    out.flush()?;
    if let Some(p) = pipe.as_mut() {
        p.finish();
        if let Some(t) = p.tls() {
            crate::tls_opts::print_reports(t, a.verbose, tls_keys_given);
        }
    }
    if let Some(w) = writer.as_mut() {
        w.finish(reader.interfaces())
            .context("finishing the output file")?;
    }
    if let Some(f) = &filter {
        for e in &f.failed {
            eprintln!(
                "wiresift: warning: frames of link type {} never match: {}",
                e.link, e.message
            );
        }
    }
    if let Some(e) = damage {
        eprintln!(
            "wiresift: {}: damaged after frame {}: {e}",
            a.file.display(),
            reader.frames_read()
        );
        return Ok(if reader.frames_read() == 0 {
            Outcome::Failed
        } else {
            Outcome::Partial
        });
    }
    Ok(Outcome::Ok)
}

/// `-x`: where each layer sits, then the hex and ASCII dump of the whole frame.
fn push_layers_and_hex(out: &mut Vec<u8>, layers: &wiresift_dissect::Layers, data: &[u8]) {
    use std::io::Write as _;
    out.extend_from_slice(b"\tlayers:");
    for (name, r) in layers.ranges(data.len()) {
        let _ = write!(out, " {name} 0x{:04x}-0x{:04x}", r.start, r.end - 1);
    }
    out.push(b'\n');
    push_hexdump(out, data);
}
