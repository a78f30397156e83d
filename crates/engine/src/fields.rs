//! Fields the flow engine provides (stream index, relative sequence numbers, TCP analysis, IP
//! reassembly), named as Wireshark names them, at id base [`BASE`].

use wiresift_field::{Base, FieldId, FieldKind};

pub const BASE: FieldId = 1000;

const P: FieldKind = FieldKind::Protocol;
const U32: FieldKind = FieldKind::UInt {
    bits: 32,
    base: Base::Dec,
};
const REL: FieldKind = FieldKind::RelTime;

wiresift_field::field_table! {
    TCP_STREAM = "tcp.stream", U32, "Stream index";
    UDP_STREAM = "udp.stream", U32, "Stream index";
    TCP_SEQ = "tcp.seq", U32, "Sequence Number (relative)";
    TCP_ACK = "tcp.ack", U32, "Acknowledgment Number (relative)";
    TCP_NXTSEQ = "tcp.nxtseq", U32, "Next Sequence Number (relative)";
    TCP_WINDOW_SIZE = "tcp.window_size", U32, "Calculated window size";
    TCP_WINDOW_SIZE_SCALEFACTOR = "tcp.window_size_scalefactor", FieldKind::Int, "Window size scaling factor (-1 unknown, -2 no scaling)";
    TCP_TIME_RELATIVE = "tcp.time_relative", REL, "Time since first frame in this TCP stream";
    TCP_TIME_DELTA = "tcp.time_delta", REL, "Time since previous frame in this TCP stream";
    TCP_ANALYSIS_FLAGS = "tcp.analysis.flags", P, "TCP Analysis Flags";
    TCP_ANALYSIS_RETRANSMISSION = "tcp.analysis.retransmission", P, "This frame is a (suspected) retransmission";
    TCP_ANALYSIS_FAST_RETRANSMISSION = "tcp.analysis.fast_retransmission", P, "This frame is a (suspected) fast retransmission";
    TCP_ANALYSIS_SPURIOUS_RETRANSMISSION = "tcp.analysis.spurious_retransmission", P, "This frame is a (suspected) spurious retransmission";
    TCP_ANALYSIS_OUT_OF_ORDER = "tcp.analysis.out_of_order", P, "This frame is a (suspected) out-of-order segment";
    TCP_ANALYSIS_LOST_SEGMENT = "tcp.analysis.lost_segment", P, "Previous segment(s) not captured";
    TCP_ANALYSIS_ACK_LOST_SEGMENT = "tcp.analysis.ack_lost_segment", P, "ACKed segment that wasn't captured";
    TCP_ANALYSIS_WINDOW_UPDATE = "tcp.analysis.window_update", P, "Window update";
    TCP_ANALYSIS_WINDOW_FULL = "tcp.analysis.window_full", P, "Window full";
    TCP_ANALYSIS_KEEP_ALIVE = "tcp.analysis.keep_alive", P, "Keep-alive";
    TCP_ANALYSIS_KEEP_ALIVE_ACK = "tcp.analysis.keep_alive_ack", P, "Keep-alive ACK";
    TCP_ANALYSIS_DUPLICATE_ACK = "tcp.analysis.duplicate_ack", P, "Duplicate ACK";
    TCP_ANALYSIS_DUPLICATE_ACK_NUM = "tcp.analysis.duplicate_ack_num", U32, "Duplicate ACK #";
    TCP_ANALYSIS_ZERO_WINDOW = "tcp.analysis.zero_window", P, "Zero window";
    TCP_ANALYSIS_ZERO_WINDOW_PROBE = "tcp.analysis.zero_window_probe", P, "Zero window probe";
    TCP_ANALYSIS_ZERO_WINDOW_PROBE_ACK = "tcp.analysis.zero_window_probe_ack", P, "Zero window probe ACK";
    TCP_ANALYSIS_REUSED_PORTS = "tcp.analysis.reused_ports", P, "TCP port numbers reused";
    IP_FRAGMENTS = "ip.fragments", P, "IPv4 Fragments";
    IP_FRAGMENT = "ip.fragment", FieldKind::FrameNum, "IPv4 Fragment";
    IP_FRAGMENT_COUNT = "ip.fragment.count", U32, "Fragment count";
    IP_REASSEMBLED_LENGTH = "ip.reassembled.length", U32, "Reassembled IPv4 length";
    IPV6_FRAGMENTS = "ipv6.fragments", P, "IPv6 Fragments";
    IPV6_FRAGMENT = "ipv6.fragment", FieldKind::FrameNum, "IPv6 Fragment";
    IPV6_FRAGMENT_COUNT = "ipv6.fragment.count", U32, "Fragment count";
    IPV6_REASSEMBLED_LENGTH = "ipv6.reassembled.length", U32, "Reassembled IPv6 length";
}
