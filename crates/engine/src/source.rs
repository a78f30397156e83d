//! One [`FieldSource`] over everything known about a frame: the decoder's fields (with the
//! transport Wireshark would show) and the flow engine's.

use std::ops::ControlFlow;

use wiresift_dissect::decode::Transport;
use wiresift_dissect::{FrameMeta, FrameView, Layers};
use wiresift_field::{FieldId, FieldSource, Value};
use wiresift_flow::{Analysis, PacketFlow, Proto};

use crate::Processed;
use crate::fields::*;

/// All fields of one processed frame.
pub struct FrameSource<'a> {
    pub view: FrameView<'a>,
    pub flow: Option<PacketFlow>,
    pub embedded: Option<(Proto, u64)>,
    pub fragments: &'a [u64],
    pub v6_fragments: bool,
    pub reassembled_len: usize,
    /// Application-layer providers (HTTP, SMTP, TLS, ...) for this frame: each answers the
    /// ids of its own block (ids at or above [`crate::APP_BASE`]).
    pub extra: Vec<&'a dyn FieldSource>,
}

impl<'a> FrameSource<'a> {
    pub fn new(meta: FrameMeta<'a>, data: &'a [u8], p: &'a Processed<'a>) -> FrameSource<'a> {
        let mut view = FrameView::new(meta, data, &p.layers);
        if p.hide_transport {
            view.transport = Some(None);
        } else if let Some(u) = &p.upper {
            view.transport = Some(Some((p.upper_data, u)));
        }
        FrameSource {
            view,
            flow: p.flow,
            embedded: p.embedded,
            fragments: p.fragments,
            v6_fragments: p.v6_fragments,
            reassembled_len: p.upper_data.len(),
            extra: Vec::new(),
        }
    }

    /// The TCP header quoted in an ICMP error, if any.
    fn quoted_tcp(&self) -> Option<wiresift_dissect::decode::Tcp> {
        let (_, l): &(&[u8], Layers) = self.view.inner.as_ref()?;
        match l.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }
}

fn analysis_flag(id: FieldId) -> Option<Analysis> {
    Some(match id {
        TCP_ANALYSIS_RETRANSMISSION => Analysis::RETRANSMISSION,
        TCP_ANALYSIS_FAST_RETRANSMISSION => Analysis::FAST_RETRANSMISSION,
        TCP_ANALYSIS_SPURIOUS_RETRANSMISSION => Analysis::SPURIOUS_RETRANSMISSION,
        TCP_ANALYSIS_OUT_OF_ORDER => Analysis::OUT_OF_ORDER,
        TCP_ANALYSIS_LOST_SEGMENT => Analysis::LOST_SEGMENT,
        TCP_ANALYSIS_ACK_LOST_SEGMENT => Analysis::ACK_LOST_SEGMENT,
        TCP_ANALYSIS_WINDOW_UPDATE => Analysis::WINDOW_UPDATE,
        TCP_ANALYSIS_WINDOW_FULL => Analysis::WINDOW_FULL,
        TCP_ANALYSIS_KEEP_ALIVE => Analysis::KEEP_ALIVE,
        TCP_ANALYSIS_KEEP_ALIVE_ACK => Analysis::KEEP_ALIVE_ACK,
        TCP_ANALYSIS_DUPLICATE_ACK => Analysis::DUPLICATE_ACK,
        TCP_ANALYSIS_ZERO_WINDOW => Analysis::ZERO_WINDOW,
        TCP_ANALYSIS_ZERO_WINDOW_PROBE => Analysis::ZERO_WINDOW_PROBE,
        TCP_ANALYSIS_ZERO_WINDOW_PROBE_ACK => Analysis::ZERO_WINDOW_PROBE_ACK,
        TCP_ANALYSIS_REUSED_PORTS => Analysis::REUSED_PORTS,
        _ => return None,
    })
}

impl FieldSource for FrameSource<'_> {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        if id < BASE {
            self.view.visit(id, f);
            return;
        }
        if id >= crate::APP_BASE {
            let mut stop = false;
            for e in &self.extra {
                e.visit(id, &mut |v| {
                    let r = f(v);
                    stop = r.is_break();
                    r
                });
                if stop {
                    return;
                }
            }
            return;
        }
        let _ = self.flow_field(id, f);
    }
}

impl FrameSource<'_> {
    fn flow_field(
        &self,
        id: FieldId,
        f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let tcp = match self.flow {
            Some(PacketFlow::Tcp(t)) => Some(t),
            _ => None,
        };
        let u = |v: u64| Value::UInt(v);
        match id {
            TCP_STREAM => {
                if let Some(t) = tcp {
                    f(u(t.stream))?;
                }
                if let Some((Proto::Tcp, s)) = self.embedded {
                    f(u(s))?;
                }
            }
            UDP_STREAM => {
                if let Some(PacketFlow::Udp { stream, .. }) = self.flow {
                    f(u(stream))?;
                }
                if let Some((Proto::Udp, s)) = self.embedded {
                    f(u(s))?;
                }
            }
            TCP_SEQ | TCP_ACK => {
                if let Some(t) = tcp {
                    f(u(u64::from(if id == TCP_SEQ {
                        t.rel_seq
                    } else {
                        t.rel_ack
                    })))?;
                }
                // Wireshark shows the raw numbers of a header quoted in an ICMP error.
                if let Some(q) = self.quoted_tcp() {
                    f(u(u64::from(if id == TCP_SEQ { q.seq } else { q.ack })))?;
                }
            }
            TCP_NXTSEQ => {
                if let Some(t) = tcp {
                    f(u(u64::from(t.next_seq)))?;
                }
            }
            TCP_WINDOW_SIZE => {
                if let Some(t) = tcp {
                    f(u(u64::from(t.window_size)))?;
                }
            }
            TCP_WINDOW_SIZE_SCALEFACTOR => {
                if let Some(s) = tcp.and_then(|t| t.window_scale_factor) {
                    f(Value::Int(i64::from(s)))?;
                }
            }
            TCP_TIME_RELATIVE | TCP_TIME_DELTA => {
                if let Some(t) = tcp {
                    f(Value::RelTime(if id == TCP_TIME_RELATIVE {
                        t.time_relative
                    } else {
                        t.time_delta
                    }))?;
                }
            }
            TCP_ANALYSIS_FLAGS => {
                if tcp.is_some_and(|t| t.analysis.matches_field("tcp.analysis.flags")) {
                    f(Value::Protocol(&[]))?;
                }
            }
            TCP_ANALYSIS_DUPLICATE_ACK_NUM => {
                if let Some(n) = tcp.and_then(|t| t.dup_ack_num) {
                    f(u(u64::from(n)))?;
                }
            }
            IP_FRAGMENTS..=IPV6_REASSEMBLED_LENGTH => {
                let v6 = id >= IPV6_FRAGMENTS;
                if self.fragments.is_empty() || v6 != self.v6_fragments {
                    return ControlFlow::Continue(());
                }
                let base = if v6 { IPV6_FRAGMENTS } else { IP_FRAGMENTS };
                match id - base {
                    0 => f(Value::Protocol(&[]))?,
                    1 => {
                        for &n in self.fragments {
                            f(u(n))?;
                        }
                    }
                    2 => f(u(self.fragments.len() as u64))?,
                    _ => f(u(self.reassembled_len as u64))?,
                }
            }
            other => {
                // Wireshark's implied flags (a fast retransmission is also a retransmission).
                let name = FIELDS.get((other - BASE) as usize).map(|d| d.name);
                if let (Some(name), Some(t)) = (name, tcp)
                    && analysis_flag(other).is_some()
                    && t.analysis.matches_field(name)
                {
                    f(Value::Protocol(&[]))?;
                }
            }
        }
        ControlFlow::Continue(())
    }
}
