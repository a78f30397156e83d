//! The whole per-frame pipeline with every field provider: decode → engine (defragmentation,
//! flows, TCP analysis) → TLS (decryption) → HTTP and mail parsers, giving one
//! [`FrameSource`] per frame. `read -Y`, the session's filters, its detail tree and its
//! follow all go through here, so a field has one meaning everywhere.

use wiresift_capfile::{Frame, Interface};
use wiresift_dissect::FrameMeta;
use wiresift_dissect::decode;
use wiresift_engine::{Engine, EngineOptions, Fanout, FrameSource, Processed};
use wiresift_export::{ExportError, Extractor};
use wiresift_flow::{FlowHandler, NullHandler, PacketFlow};
use wiresift_http::{HttpExtractor, HttpOptions};
use wiresift_mail::{MailExtractor, MailOptions};
use wiresift_tls::{KeyStore, SECRETS_TYPE_TLS, TlsLayer};

/// Which providers a pass needs. Each costs time; a filter asks only for what it references.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    /// Stream numbers, relative sequence numbers, analysis, reassembly.
    pub flows: bool,
    pub http: bool,
    /// `http.file_data` (bodies kept up to 64 KiB).
    pub http_file_data: bool,
    pub mail: bool,
    pub tls: bool,
    pub show_secrets: bool,
}

impl Needs {
    /// What a set of referenced field ids needs.
    pub fn for_fields(ids: &[u32]) -> Needs {
        let in_block = |lo: u32, hi: u32| ids.iter().any(|id| (lo..hi).contains(id));
        let http = in_block(wiresift_http::BASE, wiresift_http::BASE + 1000);
        let mail = in_block(wiresift_mail::BASE, wiresift_mail::BASE + 1000);
        let tls_base = wiresift_tls::fields::BASE;
        let tls = in_block(tls_base, tls_base + 1000);
        Needs {
            flows: ids.iter().any(|&id| id >= wiresift_engine::fields::BASE),
            http,
            http_file_data: ids.contains(&wiresift_http::fields::HTTP_FILE_DATA),
            mail,
            tls,
            show_secrets: false,
        }
    }

    /// Every provider (the detail tree).
    pub fn all() -> Needs {
        Needs {
            flows: true,
            http: true,
            http_file_data: false,
            mail: true,
            tls: true,
            show_secrets: false,
        }
    }
}

/// Per-frame timing context the caller keeps (first frame, previous captured and displayed).
#[derive(Clone, Copy, Debug, Default)]
pub struct Times {
    pub first: Option<i64>,
    pub prev_captured: Option<i64>,
    pub prev_displayed: Option<i64>,
}

/// The stateful pipeline of one pass.
pub struct Pipeline {
    engine: Engine,
    tls: Option<TlsLayer>,
    http: Option<HttpExtractor>,
    mail: Option<MailExtractor>,
    dsb_seen: usize,
    dsb_blocks: usize,
    /// The stream number to show on the next frames instead of the engine's: a pass over one
    /// stream's frames numbers it 0, the full pass gave it its real number.
    pub stream_override: Option<u64>,
}

impl Pipeline {
    /// A pipeline with the providers `needs` asks for. `keys` are used when TLS runs (TLS runs
    /// whenever keys are given and flows are on, or when TLS/HTTP/mail fields are asked for,
    /// so that those parsers see plaintext).
    pub fn new(needs: Needs, keys: Option<KeyStore>) -> Result<Pipeline, ExportError> {
        let keys_given = keys.as_ref().is_some_and(|k| !k.is_empty());
        let flows = needs.flows || keys_given || needs.http || needs.mail || needs.tls;
        let mail = needs
            .mail
            .then(|| {
                MailExtractor::new(
                    MailOptions {
                        fields: true,
                        show_secrets: needs.show_secrets,
                        ..MailOptions::default()
                    },
                    None,
                )
            })
            .transpose()?;
        let http = needs.http.then(|| {
            HttpExtractor::new(
                HttpOptions {
                    fields: true,
                    file_data: if needs.http_file_data { 64 * 1024 } else { 0 },
                    show_secrets: needs.show_secrets,
                    ..HttpOptions::default()
                },
                None,
            )
        });
        let tls = (flows && (keys_given || needs.tls || needs.http || needs.mail)).then(|| {
            let mut t = TlsLayer::new(keys.unwrap_or_default());
            t.collect_fields(true);
            t
        });
        Ok(Pipeline {
            engine: Engine::new(EngineOptions {
                skip_flows: !flows,
                ..EngineOptions::default()
            }),
            tls,
            http,
            mail,
            dsb_seen: 0,
            dsb_blocks: 0,
            stream_override: None,
        })
    }

    /// Takes the pcapng Decryption Secrets Blocks read so far into the TLS key log.
    pub fn sync_secrets(&mut self, secrets: &[wiresift_capfile::DecryptionSecrets]) {
        if let Some(t) = self.tls.as_mut() {
            while self.dsb_seen < secrets.len() {
                if secrets[self.dsb_seen].secrets_type == SECRETS_TYPE_TLS {
                    t.keys_mut().keylog.add_text(&secrets[self.dsb_seen].data);
                    self.dsb_blocks += 1;
                }
                self.dsb_seen += 1;
            }
        }
    }

    /// TLS Decryption Secrets Blocks taken from the capture.
    pub fn dsb_blocks(&self) -> usize {
        self.dsb_blocks
    }

    pub fn tls(&self) -> Option<&TlsLayer> {
        self.tls.as_ref()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs one frame through every stage and gives `f` the frame's fields. `times` is
    /// updated as a captured frame (the caller sets `prev_displayed` when it shows one).
    /// `extra` is a flow handler that sees the (decrypted) stream data after the parsers. `f`
    /// also gets the TLS layer, for [`tls_summary_of`] of this frame.
    pub fn process<R>(
        &mut self,
        frame: &Frame<'_>,
        ifaces: &[Interface],
        times: &mut Times,
        extra: Option<&mut dyn FlowHandler>,
        f: impl FnOnce(&FrameSource<'_>, &Processed<'_>, Option<&TlsLayer>) -> R,
    ) -> R {
        if let Some(m) = self.mail.as_mut() {
            m.end_frame();
        }
        if let Some(h) = self.http.as_mut() {
            h.end_frame();
        }
        let start = *times.first.get_or_insert(frame.ts);
        let prev_cap = times.prev_captured.replace(frame.ts).unwrap_or(frame.ts);
        let mut handlers: Vec<&mut dyn FlowHandler> = Vec::with_capacity(3);
        if let Some(m) = self.mail.as_mut() {
            handlers.push(m);
        }
        if let Some(h) = self.http.as_mut() {
            handlers.push(h);
        }
        if let Some(e) = extra {
            handlers.push(e);
        }
        let mut null = NullHandler;
        let mut no_data = NoData;
        let mut fan;
        let inner: &mut dyn FlowHandler = match handlers.len() {
            // Nothing looks at stream bytes (and no TLS layer decrypts them): the table keeps
            // numbering and analysing streams but does not reassemble them.
            0 if self.tls.is_none() => &mut no_data,
            0 => &mut null,
            1 => handlers.pop().unwrap_or(&mut null),
            _ => {
                fan = Fanout(handlers);
                &mut fan
            }
        };
        let mut processed = match self.tls.as_mut() {
            Some(t) => self.engine.process(frame, &mut t.wrap(inner)),
            None => self.engine.process(frame, inner),
        };
        if let (Some(s), Some(f)) = (self.stream_override, processed.flow.as_mut()) {
            match f {
                PacketFlow::Tcp(t) => t.stream = s,
                PacketFlow::Udp { stream, .. } => *stream = s,
            }
        }
        if let (Some(h), Some(seg)) = (self.http.as_mut(), tcp_segment_info(&processed, frame.data))
        {
            h.tcp_segment(seg, frame.number, frame.ts);
        }
        if let Some(m) = self.mail.as_mut() {
            let retrans = matches!(processed.flow,
                Some(PacketFlow::Tcp(t)) if t.analysis.matches_retransmission());
            let quote = match (processed.embedded, processed.layers.transport) {
                (
                    Some((wiresift_flow::Proto::Tcp, s)),
                    decode::Transport::Icmp { offset, .. }
                    | decode::Transport::Icmpv6 { offset, .. },
                ) => Some((s, frame.data.get(offset + 8..).unwrap_or_default())),
                _ => None,
            };
            m.frame_context(retrans, quote);
        }
        let meta = FrameMeta {
            number: frame.number,
            ts: frame.ts,
            first_ts: start,
            prev_ts: prev_cap,
            prev_displayed_ts: times.prev_displayed.unwrap_or(frame.ts),
            orig_len: frame.orig_len,
            iface: frame.iface,
            iface_name: ifaces
                .get(frame.iface as usize)
                .and_then(|i| i.name.as_deref()),
            link: frame.link,
        };
        let mut src = FrameSource::new(meta, frame.data, &processed);
        let mail_fields = self.mail.as_ref().map(|m| m.frame_fields());
        if let Some(m) = &mail_fields {
            src.extra.push(*m);
        }
        let http_fields = self.http.as_ref().map(|h| h.frame_fields());
        if let Some(h) = &http_fields {
            src.extra.push(*h);
        }
        let tls_fields = self.tls.as_ref().map(|t| t.frame_fields(frame.number));
        if let Some(t) = &tls_fields {
            src.extra.push(t);
        }
        f(&src, &processed, self.tls.as_ref())
    }

    /// The `TLS: ...` text the CLI appends to a frame's summary line (when TLS runs: keys
    /// given, or TLS/HTTP/mail fields asked for), once the frame has been processed.
    pub fn tls_summary(&self, frame: u64) -> Option<String> {
        tls_summary_of(self.tls.as_ref(), frame)
    }

    /// Ends the pass (flushes open flows into the parsers).
    pub fn finish(&mut self) {
        let mut null = NullHandler;
        self.finish_with(&mut null);
    }

    /// Ends the pass, flushing open flows into the parsers and `extra`.
    pub fn finish_with(&mut self, extra: &mut dyn FlowHandler) {
        let mut handlers: Vec<&mut dyn FlowHandler> = Vec::with_capacity(3);
        if let Some(m) = self.mail.as_mut() {
            handlers.push(m);
        }
        if let Some(h) = self.http.as_mut() {
            handlers.push(h);
        }
        handlers.push(extra);
        let mut fan = Fanout(handlers);
        match self.tls.as_mut() {
            Some(t) => self.engine.finish(&mut t.wrap(&mut fan)),
            None => self.engine.finish(&mut fan),
        }
    }

    pub fn tls_mut(&mut self) -> Option<&mut TlsLayer> {
        self.tls.as_mut()
    }
}

/// The `TLS: ...` text of a processed frame, from the layer [`Pipeline::process`] hands over.
pub fn tls_summary_of(tls: Option<&TlsLayer>, frame: u64) -> Option<String> {
    tls?.frame_fields(frame).summary()
}

/// A handler that wants no stream bytes.
struct NoData;

impl FlowHandler for NoData {
    fn wants_data(&mut self, _id: wiresift_flow::FlowId, _info: &wiresift_flow::FlowInfo) -> bool {
        false
    }
}

/// What the HTTP parser needs to know of a TCP segment (retransmissions, FIN) besides its data.
pub fn tcp_segment_info(p: &Processed<'_>, data: &[u8]) -> Option<wiresift_http::TcpSegmentInfo> {
    let Some(PacketFlow::Tcp(t)) = p.flow else {
        return None;
    };
    let (_, l) = p.transport(data)?;
    let decode::Transport::Tcp(tcp) = l.transport else {
        return None;
    };
    Some(wiresift_http::TcpSegmentInfo {
        stream: t.stream,
        dir: t.dir,
        rel_seq: t.rel_seq,
        len: t.seg_len,
        fin: tcp.flags & decode::TH_FIN != 0,
        retransmission: t.analysis.matches_retransmission(),
    })
}
