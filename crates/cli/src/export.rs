//! `wiresift export KIND FILE -o DIR`: one pass over a capture; every extractor of KIND streams
//! its objects into DIR while the engine reassembles the flows; one `manifest.jsonl`; a summary
//! on stderr; exit status 1 if anything was truncated or undecodable.
//!
//! Adding an extractor (e.g. mail): implement `wiresift_export::Extractor` in its crate, add the
//! kinds to [`Kind`], and push it in [`build_extractors`] (see the `MAIL:` comments). Everything
//! else (one pass, the display filter, the manifest, the summary, the exit status) is shared.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::Value;
use wiresift_dissect::FrameMeta;
use wiresift_engine::{Engine, EngineOptions, Fanout, FrameSource};
use wiresift_export::{ExportSummary, Extractor, Manifest, ObjectDir};
use wiresift_field::FieldSource;
use wiresift_filter::Filter;
use wiresift_flow::FlowHandler;
use wiresift_http::{HttpExtractor, HttpOptions};

use crate::Outcome;
use crate::registry::registry;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// HTTP/1.x and clear-text HTTP/2 bodies (requests and responses, multipart parts)
    Http,
    /// E-mail sent over SMTP (DATA and BDAT): one .eml per message, attachments beside it
    Smtp,
    /// E-mail retrieved over POP3 (RETR, TOP)
    Pop3,
    /// E-mail retrieved over IMAP (FETCH BODY[...]/RFC822 literals)
    Imap,
    /// SMTP, POP3 and IMAP together
    Mail,
    /// HTTP objects and mail in one pass, one directory, one manifest
    All,
}

#[derive(Args)]
pub struct ExportArgs {
    /// What to export
    #[arg(value_enum)]
    pub kind: Kind,
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input
    pub file: PathBuf,
    /// Output directory (created if needed; existing files are never overwritten)
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub out: PathBuf,
    /// Export only objects completed on frames that match this display filter (objects that
    /// complete when their flow ends: if any frame of the flow matched)
    #[arg(short = 'Y', long = "display-filter", value_name = "FILTER")]
    pub display_filter: Option<String>,
    /// Also write every HTTP transaction as a HAR 1.2 log
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,
    /// Bodies in the HAR log are cut to this many bytes
    #[arg(long = "har-max-body", value_name = "BYTES", default_value_t = 1 << 20)]
    pub har_max_body: usize,
    /// HAR bodies kept in memory for the transactions in flight, all together; beyond it an
    /// object's file is read back for its HAR entry (slower: it waits for the file writer)
    #[arg(long = "har-memory", value_name = "BYTES", default_value_t = 64 << 20)]
    pub har_memory: usize,
    /// Write bodies as transferred (no content decoding, no multipart split)
    #[arg(long)]
    pub raw: bool,
    /// Show credentials (Authorization, AUTH/PASS/LOGIN passwords) in fields, the HAR log and
    /// the manifest instead of redacting them
    #[arg(long = "show-secrets")]
    pub show_secrets: bool,
    /// Mail: messages larger than this are written but their attachments are not extracted
    #[arg(long = "max-parse-size", value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_parse_size: u64,
    /// Mail: write the .eml files only, no attachment folders
    #[arg(long = "no-attachments")]
    pub no_attachments: bool,
    #[command(flatten)]
    pub tls: crate::tls_opts::TlsArgs,
}

struct Extractors {
    http: Option<HttpExtractor>,
    // MAIL: `mail: Option<wiresift_mail::MailExtractor>,` (or any `Box<dyn Extractor>`).
    others: Vec<Box<dyn Extractor>>,
}

impl Extractors {
    /// Runs `f` with one handler for all extractors: the extractor itself when there is one
    /// (the usual case: no allocation per frame), a fan-out otherwise.
    fn with_handler<R>(&mut self, f: impl FnOnce(&mut dyn FlowHandler) -> R) -> R {
        match (self.http.as_mut(), self.others.as_mut_slice()) {
            (Some(h), []) => f(h),
            (None, [o]) => f(o.as_mut()),
            _ => {
                let hs = self.all_mut();
                let mut fan = Fanout(hs.into_iter().map(|h| h as &mut dyn FlowHandler).collect());
                f(&mut fan)
            }
        }
    }

    /// Calls `f` on every extractor (without collecting them first: this runs per frame).
    fn each_mut(&mut self, mut f: impl FnMut(&mut dyn Extractor)) {
        if let Some(h) = self.http.as_mut() {
            f(h);
        }
        for o in &mut self.others {
            f(o.as_mut());
        }
    }

    fn all_mut(&mut self) -> Vec<&mut dyn Extractor> {
        let mut v: Vec<&mut dyn Extractor> = Vec::new();
        if let Some(h) = self.http.as_mut() {
            v.push(h);
        }
        for o in &mut self.others {
            v.push(o.as_mut());
        }
        v
    }
    fn all(&self) -> Vec<&dyn Extractor> {
        let mut v: Vec<&dyn Extractor> = Vec::new();
        if let Some(h) = self.http.as_ref() {
            v.push(h);
        }
        for o in &self.others {
            v.push(o.as_ref());
        }
        v
    }
}

fn build_extractors(
    a: &ExportArgs,
    filter: Option<&Filter>,
    out_dir: &ObjectDir,
) -> Result<Extractors, String> {
    let uses = |lo: u32, hi: u32| {
        filter.is_some_and(|f| f.fields().iter().any(|&id| (lo..hi).contains(&id)))
    };
    let mut ex = Extractors {
        http: None,
        others: Vec::new(),
    };
    if matches!(a.kind, Kind::Http | Kind::All) {
        let opts = HttpOptions {
            fields: uses(wiresift_http::BASE, wiresift_http::BASE + 1000),
            file_data: if filter
                .is_some_and(|f| f.fields().contains(&wiresift_http::fields::HTTP_FILE_DATA))
            {
                64 * 1024
            } else {
                0
            },
            show_secrets: a.show_secrets,
            raw: a.raw,
            har_max_body: a.har_max_body,
            har_memory: a.har_memory,
            ..HttpOptions::default()
        };
        // The same directory (and writer thread) as the manifest: records are written after
        // the files they name.
        let mut h = HttpExtractor::new(opts, Some(out_dir.clone()));
        if let Some(p) = &a.har {
            let f = File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            h.with_har(Box::new(BufWriter::with_capacity(1 << 16, f)))
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        ex.http = Some(h);
    }
    if !matches!(a.kind, Kind::Http) {
        let any = matches!(a.kind, Kind::Mail | Kind::All);
        let opts = wiresift_mail::MailOptions {
            smtp: any || a.kind == Kind::Smtp,
            pop3: any || a.kind == Kind::Pop3,
            imap: any || a.kind == Kind::Imap,
            show_secrets: a.show_secrets,
            attachments: !a.no_attachments,
            max_parse_size: a.max_parse_size,
            fields: uses(wiresift_mail::BASE, wiresift_mail::BASE + 1000),
            ..wiresift_mail::MailOptions::default()
        };
        // Attachments through the manifest's writer thread, like HTTP objects.
        let m = wiresift_mail::MailExtractor::with_dir(opts, out_dir.clone());
        ex.others.push(Box::new(m));
    }
    Ok(ex)
}

/// The TCP facts of a processed frame that the HTTP extractor wants (FIN, retransmission).
pub(crate) fn tcp_segment_info(
    p: &wiresift_engine::Processed<'_>,
    data: &[u8],
) -> Option<wiresift_http::TcpSegmentInfo> {
    let Some(wiresift_flow::PacketFlow::Tcp(t)) = p.flow else {
        return None;
    };
    let (_, l) = p.transport(data)?;
    let wiresift_dissect::decode::Transport::Tcp(tcp) = l.transport else {
        return None;
    };
    Some(wiresift_http::TcpSegmentInfo {
        stream: t.stream,
        dir: t.dir,
        rel_seq: t.rel_seq,
        len: t.seg_len,
        fin: tcp.flags & wiresift_dissect::decode::TH_FIN != 0,
        retransmission: t.analysis.matches_retransmission(),
    })
}

fn record_is(rec: &Value, what: &str) -> bool {
    rec["anomalies"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x.get(what).is_some()))
}

pub fn run(a: ExportArgs) -> Result<Outcome> {
    // Mail alone touches little but packet headers outside its own flows: a reading thread
    // (whose copy leaves those headers in the shared cache) beats mapping the file there.
    let map = matches!(a.kind, Kind::Http | Kind::All);
    let mut reader = match crate::output::open_capture_with(&a.file, map) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wiresift: {}: {e}", a.file.display());
            return Ok(Outcome::Failed);
        }
    };
    let _reg = registry();
    let Ok(filter) = crate::registry::compile_display_filter(a.display_filter.as_deref()) else {
        return Ok(Outcome::Failed);
    };
    let out_dir = match ObjectDir::create(&a.out) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("wiresift: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let mut manifest = match Manifest::open(&out_dir) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("wiresift: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let mut ex = match build_extractors(&a, filter.as_ref(), &out_dir) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("wiresift: {msg}");
            return Ok(Outcome::Failed);
        }
    };
    let mut engine = Engine::new(EngineOptions::default());
    // TLS in front of the extractors: decrypted data reaches them, ciphertext never does.
    let mut tls = wiresift_tls::TlsLayer::new(a.tls.key_store()?);
    tls.collect_fields(filter.is_some());
    let mut dsb = crate::tls_opts::DsbSync::default();
    let mut records: Vec<Value> = Vec::new();
    // With -Y: streams that had a matching frame, and the counts of what was kept.
    let mut matched_streams: HashSet<u64> = HashSet::new();
    let mut kept = ExportSummary::default();
    let mut first_ts = None;
    let mut prev_ts = 0i64;
    let mut damage = None;
    loop {
        match reader.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                damage = Some(e);
                break;
            }
        }
        let Some(frame) = reader.current() else { break };
        dsb.sync(&reader, &mut tls);
        let processed = ex.with_handler(|h| engine.process(&frame, &mut tls.wrap(h)));
        if let (Some(h), Some(seg)) = (ex.http.as_mut(), tcp_segment_info(&processed, frame.data)) {
            h.tcp_segment(seg, frame.number, frame.ts);
        }
        let mut keep = true;
        if let Some(f) = &filter {
            let start = *first_ts.get_or_insert(frame.ts);
            let ifaces = reader.interfaces();
            let meta = FrameMeta {
                number: frame.number,
                ts: frame.ts,
                first_ts: start,
                prev_ts,
                prev_displayed_ts: prev_ts,
                orig_len: frame.orig_len,
                iface: frame.iface,
                iface_name: ifaces
                    .get(frame.iface as usize)
                    .and_then(|i| i.name.as_deref()),
                link: frame.link,
            };
            let all = ex.all();
            let mut src = FrameSource::new(meta, frame.data, &processed);
            src.extra = all
                .iter()
                .map(|e| e.frame_fields() as &dyn FieldSource)
                .collect();
            let tls_fields = tls.frame_fields(frame.number);
            src.extra.push(&tls_fields);
            keep = f.matches(&src);
            if keep && let Some(fl) = processed.flow {
                matched_streams.insert(fl.stream());
            }
        }
        prev_ts = frame.ts;
        ex.each_mut(|e| {
            e.drain_records(&mut records);
            e.end_frame();
        });
        if !records.is_empty() {
            emit(
                &mut records,
                keep,
                filter.is_some(),
                &mut manifest,
                &mut kept,
            );
        }
    }
    ex.with_handler(|h| engine.finish(&mut tls.wrap(h)));
    // TLS sessions that stayed encrypted: why, in the manifest and on stderr.
    let keys_given = !a.tls.tls_keylog.is_empty() || !a.tls.tls_key.is_empty() || dsb.blocks > 0;
    for r in tls.reports() {
        if matches!(
            r.status,
            wiresift_tls::SessionStatus::NoKey | wiresift_tls::SessionStatus::Failed
        ) && (filter.is_none() || matched_streams.contains(&r.flow.stream))
        {
            manifest.append(&crate::tls_opts::report_json(r));
        }
    }
    crate::tls_opts::print_reports(&tls, false, keys_given);
    for e in ex.all_mut() {
        e.drain_records(&mut records);
        e.end_frame();
    }
    // Objects completed when their flow ended: kept if any frame of the flow matched.
    let mut rest = std::mem::take(&mut records);
    for r in rest.drain(..) {
        let k = filter.is_none()
            || r["stream"]
                .as_u64()
                .is_some_and(|s| matched_streams.contains(&s));
        let mut one = vec![r];
        emit(&mut one, k, filter.is_some(), &mut manifest, &mut kept);
    }
    let mut failed = false;
    if let Some(h) = ex.http.as_mut() {
        match h.finish_har() {
            Ok(n) => {
                if let Some(p) = &a.har {
                    eprintln!("har: {n} entries written to {}", p.display());
                }
            }
            Err(e) => {
                eprintln!("wiresift: HAR: {e}");
                failed = true;
            }
        }
    }
    // Every object file and manifest line is written once the writer thread is done.
    let records = manifest.records;
    let report = manifest.finish();
    if let Some(e) = &report.first_error {
        eprintln!(
            "wiresift: {} files could not be written completely; first: {e}",
            report.write_errors
        );
        failed = true;
    }
    let mut damaged = false;
    for e in ex.all() {
        let mut s = e.summary();
        if filter.is_some() {
            // The extractor counted every object; report the ones kept.
            let notes = std::mem::take(&mut s.notes);
            s = ExportSummary {
                kind: s.kind,
                notes,
                ..kept.clone()
            };
        }
        eprintln!(
            "{}: {} objects, {} bytes, {} truncated, {} undecodable",
            s.kind, s.objects, s.bytes, s.truncated, s.undecodable
        );
        for n in &s.notes {
            eprintln!("  {n}");
        }
        damaged |= s.truncated > 0 || s.undecodable > 0;
    }
    eprintln!(
        "manifest: {} records in {}",
        records,
        out_dir.root().join("manifest.jsonl").display()
    );
    let fs = engine.flow_stats();
    let _ = fs;
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
    if failed {
        return Ok(Outcome::Failed);
    }
    Ok(if damaged {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}

/// Writes kept records to the manifest; removes the files of records the filter rejected.
fn emit(
    records: &mut Vec<Value>,
    keep: bool,
    filtering: bool,
    manifest: &mut Manifest,
    kept: &mut ExportSummary,
) {
    for r in records.drain(..) {
        if keep {
            manifest.append(&r);
            if filtering {
                kept.objects += 1;
                kept.bytes += r["size"].as_u64().unwrap_or(0);
                kept.truncated += u64::from(record_is(&r, "truncated"));
                kept.undecodable += u64::from(record_is(&r, "undecodable"));
            }
        } else {
            manifest.discard(r);
        }
    }
}
