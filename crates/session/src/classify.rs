//! The packet list's Protocol column: the highest protocol of a frame, by the names Wireshark
//! shows (`TCP`, `HTTP`, `TLSv1.2`, `DNS`, ...). Decided from the decoded layers and the first
//! bytes of the payload, in the indexing pass, and stored as one byte per frame.

use wiresift_dissect::decode::{Layers, Link, Net, Transport};

/// Column texts; a frame stores its index into this table.
pub const PROTOCOLS: &[&str] = &[
    "Ethernet", // 0: nothing above the link layer we know
    "ARP",
    "IPv4",
    "IPv6",
    "TCP",
    "UDP",
    "ICMP",
    "ICMPv6",
    "HTTP",
    "DNS",
    "MDNS",
    "TLSv1.0",
    "TLSv1.1",
    "TLSv1.2",
    "TLSv1.3",
    "SSL",
    "SMTP",
    "POP",
    "IMAP",
    "FTP",
    "DHCP",
    "NTP",
    "SSDP",
    "LLMNR",
    "NBNS",
    "SNMP",
    "Syslog",
    "QUIC",
    "HTTP2",
    "IGMP",
    "GRE",
    "ESP",
    "SCTP",
    "OSPF",
    "VRRP",
    "IPv6 fragment",
    "IPv4 fragment",
    "RTSP",
    "SSH",
    "Telnet",
    "LDAP",
    "Kerberos",
    "DHCPv6",
    "STUN",
    "SIP",
    "BGP",
    "RDP",
    "SMB",
    "NetBIOS",
    "LLC",
    "Raw",
    "Unknown link",
];

/// The stored code of a protocol name (0 when unknown).
pub fn code(name: &str) -> u8 {
    PROTOCOLS.iter().position(|p| *p == name).unwrap_or(0) as u8
}

/// The protocol name of a stored code.
pub fn name(code: u8) -> &'static str {
    PROTOCOLS.get(usize::from(code)).copied().unwrap_or("?")
}

fn tls_version(payload: &[u8]) -> Option<&'static str> {
    // A TLS record: content type 20..=23, version 3.x, a plausible length.
    let [ct, 3, minor, ..] = *payload else {
        return None;
    };
    if !(20..=23).contains(&ct) || minor > 4 || payload.len() < 5 {
        return None;
    }
    // The record version of a 1.3 session is 1.2; a ClientHello often says 1.0.
    Some(match minor {
        0 => "SSL",
        1 => "TLSv1.0",
        2 => "TLSv1.1",
        _ => "TLSv1.2",
    })
}

fn by_port(sport: u16, dport: u16, tcp: bool) -> Option<&'static str> {
    let either = |p: u16| sport == p || dport == p;
    let name = match () {
        _ if either(53) => "DNS",
        _ if either(5353) => "MDNS",
        _ if either(5355) => "LLMNR",
        _ if !tcp && (either(67) || either(68)) => "DHCP",
        _ if !tcp && (either(546) || either(547)) => "DHCPv6",
        _ if !tcp && either(123) => "NTP",
        _ if !tcp && either(1900) => "SSDP",
        _ if !tcp && either(137) => "NBNS",
        _ if !tcp && (either(161) || either(162)) => "SNMP",
        _ if !tcp && either(514) => "Syslog",
        _ if !tcp && either(3478) => "STUN",
        _ if either(5060) => "SIP",
        _ if tcp && (either(25) || either(587)) => "SMTP",
        _ if tcp && either(110) => "POP",
        _ if tcp && either(143) => "IMAP",
        _ if tcp && either(21) => "FTP",
        _ if tcp && either(22) => "SSH",
        _ if tcp && either(23) => "Telnet",
        _ if tcp && either(179) => "BGP",
        _ if tcp && either(389) => "LDAP",
        _ if either(88) => "Kerberos",
        _ if tcp && either(445) => "SMB",
        _ if tcp && either(139) => "NetBIOS",
        _ if tcp && either(3389) => "RDP",
        _ => return None,
    };
    Some(name)
}

/// The protocol code of a decoded frame. `upper` is the reassembled datagram's layers and
/// bytes when IP defragmentation completed on this frame; `pending_fragment` a fragment whose
/// datagram is not complete (Wireshark shows the network layer only).
pub fn classify(
    l: &Layers,
    data: &[u8],
    upper: Option<(&Layers, &[u8])>,
    pending_fragment: bool,
) -> u8 {
    let (tl, tdata) = upper.unwrap_or((l, data));
    let net = match l.net {
        Net::Arp { .. } => return code("ARP"),
        Net::Ipv4(_) => "IPv4",
        Net::Ipv6(_) => "IPv6",
        Net::Other { .. } | Net::None => {
            return match l.link {
                Link::Unknown(_) => code("Unknown link"),
                _ => code("Ethernet"),
            };
        }
    };
    if pending_fragment {
        return code(net);
    }
    let payload = tl.payload(tdata);
    let name = match tl.transport {
        Transport::Tcp(t) => {
            if payload.is_empty() {
                "TCP"
            } else if let Some(v) = tls_version(payload) {
                v
            } else if payload.starts_with(b"PRI * HTTP/2.0") {
                "HTTP2"
            } else if wiresift_dissect::looks_like_request_or_response(payload) {
                if payload.starts_with(b"RTSP") || payload.windows(4).take(64).any(|w| w == b"RTSP")
                {
                    "RTSP"
                } else {
                    "HTTP"
                }
            } else {
                by_port(t.sport, t.dport, true).unwrap_or("TCP")
            }
        }
        Transport::Udp { sport, dport, .. } => {
            if (sport == 443 || dport == 443) && payload.first().is_some_and(|b| b & 0x40 != 0) {
                "QUIC"
            } else {
                by_port(sport, dport, false).unwrap_or("UDP")
            }
        }
        Transport::Icmp { .. } => "ICMP",
        Transport::Icmpv6 { .. } => "ICMPv6",
        Transport::Fragment { .. } => {
            if net == "IPv6" {
                "IPv6 fragment"
            } else {
                "IPv4 fragment"
            }
        }
        Transport::Other { proto, .. } => match proto {
            2 => "IGMP",
            47 => "GRE",
            50 => "ESP",
            89 => "OSPF",
            112 => "VRRP",
            132 => "SCTP",
            _ => net,
        },
        _ => net,
    };
    code(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_fits_a_byte_and_names_round_trip() {
        assert!(PROTOCOLS.len() < 256);
        for (i, p) in PROTOCOLS.iter().enumerate() {
            assert_eq!(usize::from(code(p)), i, "{p} listed twice");
        }
    }

    #[test]
    fn tls_records_are_recognised() {
        assert_eq!(tls_version(&[22, 3, 1, 0, 5]), Some("TLSv1.0"));
        assert_eq!(tls_version(&[23, 3, 3, 0, 5]), Some("TLSv1.2"));
        assert_eq!(tls_version(b"GET / HTTP/1.1"), None);
        assert_eq!(tls_version(&[22, 3]), None);
    }
}
