//! Wireshark's default colouring rules (its `colorfilters` file), as display filters in our
//! language. A frame's colour is the first rule that matches; it is found in the indexing pass
//! and stored in 5 bits per frame.
//!
//! Rules that name protocols we do not decode (HSRP, STP, OSPF, SCTP, SMB, DCERPC, ...) are
//! kept in the list in Wireshark's order but never match until those decoders exist: their
//! filters are written only with fields of our registry.

use serde::Serialize;
use wiresift_field::Registry;
use wiresift_filter::Filter;

/// One rule: name, filter, colours (`#rrggbb`).
#[derive(Clone, Debug, Serialize)]
pub struct ColorRule {
    pub name: &'static str,
    pub filter: &'static str,
    pub fg: &'static str,
    pub bg: &'static str,
}

/// The rules, in Wireshark's order (colours from Wireshark 4's defaults, 16-bit → 8-bit).
pub const RULES: &[ColorRule] = &[
    ColorRule {
        name: "Bad TCP",
        filter: "tcp.analysis.flags && !tcp.analysis.window_update && !tcp.analysis.keep_alive && !tcp.analysis.keep_alive_ack",
        fg: "#f78787",
        bg: "#12272e",
    },
    ColorRule {
        name: "ICMP errors",
        filter: "icmp.type == 3 || icmp.type == 4 || icmp.type == 5 || icmp.type == 11 || icmpv6.type == 1 || icmpv6.type == 2 || icmpv6.type == 3 || icmpv6.type == 4",
        fg: "#b7f774",
        bg: "#12272e",
    },
    ColorRule {
        name: "ARP",
        filter: "arp",
        fg: "#12272e",
        bg: "#faf0d7",
    },
    ColorRule {
        name: "ICMP",
        filter: "icmp || icmpv6",
        fg: "#12272e",
        bg: "#fce0ff",
    },
    ColorRule {
        name: "TCP RST",
        filter: "tcp.flags.reset == 1",
        fg: "#fffc9c",
        bg: "#a40000",
    },
    ColorRule {
        name: "TTL low or unexpected",
        filter: "(!(ip.dst == 224.0.0.0/4) && ip.ttl < 5) || (ip.dst == 224.0.0.0/24 && ip.dst != 224.0.0.251 && ip.ttl != 1)",
        fg: "#ecf0eb",
        bg: "#a40000",
    },
    ColorRule {
        name: "HTTP",
        filter: "http || tcp.port == 80 || http2",
        fg: "#12272e",
        bg: "#e4ffc7",
    },
    ColorRule {
        name: "TCP SYN/FIN",
        filter: "tcp.flags.syn == 1 || tcp.flags.fin == 1",
        fg: "#12272e",
        bg: "#a0a0a0",
    },
    ColorRule {
        name: "TCP",
        filter: "tcp",
        fg: "#12272e",
        bg: "#e7e6ff",
    },
    ColorRule {
        name: "UDP",
        filter: "udp",
        fg: "#12272e",
        bg: "#daeeff",
    },
    ColorRule {
        name: "Broadcast",
        filter: "eth[0] & 1",
        fg: "#babdb6",
        bg: "#ffffff",
    },
];

/// The rules compiled against a registry; rule `i` is stored as `i + 1` (0 = no colour).
pub struct Colorizer {
    filters: Vec<Option<Filter>>,
    fields: Vec<u32>,
}

impl Colorizer {
    pub fn new(reg: &Registry) -> Colorizer {
        let filters: Vec<Option<Filter>> = RULES
            .iter()
            .map(|r| Filter::compile(r.filter, reg).ok())
            .collect();
        let mut fields: Vec<u32> = filters
            .iter()
            .flatten()
            .flat_map(|f| f.fields().iter().copied())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        Colorizer { filters, fields }
    }

    /// Field ids the rules reference (so the pass knows which providers to run).
    pub fn fields(&self) -> &[u32] {
        &self.fields
    }

    /// The stored colour code of a frame.
    pub fn color(&self, src: &dyn wiresift_field::FieldSource) -> u8 {
        for (i, f) in self.filters.iter().enumerate() {
            if let Some(f) = f
                && f.matches(src)
            {
                return i as u8 + 1;
            }
        }
        0
    }
}

/// The rule name of a stored colour code.
pub fn rule_name(code: u8) -> Option<&'static str> {
    RULES.get(usize::from(code).checked_sub(1)?).map(|r| r.name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_compiles() {
        let reg = crate::registry();
        for r in super::RULES {
            if let Err(e) = wiresift_filter::Filter::compile(r.filter, reg) {
                panic!("{}: {}", r.name, e.render(r.filter));
            }
        }
        assert!(super::RULES.len() < 32, "5 bits per frame");
    }
}
