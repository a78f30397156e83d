//! Wireshark's default colouring rules (its `colorfilters` file), as display filters in our
//! language. A frame's colour is the first rule that matches. Only the first rule (Bad TCP)
//! needs flow state: the indexing pass stores its answer as one bit, and a page evaluates the
//! others on the frames it shows (evaluating every rule on every frame at open was a quarter
//! of the indexing time).
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
    /// Wireshark's filter text (shown to the user).
    pub filter: &'static str,
    /// What the indexing pass evaluates, when it differs: application protocols are taken
    /// from the Protocol column's classification instead of running their parsers over every
    /// frame at open (`protocols`).
    #[serde(skip)]
    pub expr: Option<&'static str>,
    #[serde(skip)]
    pub protocols: &'static [&'static str],
    pub fg: &'static str,
    pub bg: &'static str,
}

/// The rules, in Wireshark's order (colours from Wireshark 4's defaults, 16-bit → 8-bit).
pub const RULES: &[ColorRule] = &[
    ColorRule {
        name: "Bad TCP",
        filter: "tcp.analysis.flags && !tcp.analysis.window_update && !tcp.analysis.keep_alive && !tcp.analysis.keep_alive_ack",
        expr: None,
        protocols: &[],
        fg: "#f78787",
        bg: "#12272e",
    },
    ColorRule {
        name: "ICMP errors",
        filter: "icmp.type == 3 || icmp.type == 4 || icmp.type == 5 || icmp.type == 11 || icmpv6.type == 1 || icmpv6.type == 2 || icmpv6.type == 3 || icmpv6.type == 4",
        expr: None,
        protocols: &[],
        fg: "#b7f774",
        bg: "#12272e",
    },
    ColorRule {
        name: "ARP",
        filter: "arp",
        expr: None,
        protocols: &[],
        fg: "#12272e",
        bg: "#faf0d7",
    },
    ColorRule {
        name: "ICMP",
        filter: "icmp || icmpv6",
        expr: None,
        protocols: &[],
        fg: "#12272e",
        bg: "#fce0ff",
    },
    ColorRule {
        name: "TCP RST",
        filter: "tcp.flags.reset == 1",
        expr: None,
        protocols: &[],
        fg: "#fffc9c",
        bg: "#a40000",
    },
    ColorRule {
        name: "TTL low or unexpected",
        filter: "(!(ip.dst == 224.0.0.0/4) && ip.ttl < 5) || (ip.dst == 224.0.0.0/24 && ip.dst != 224.0.0.251 && ip.ttl != 1)",
        expr: None,
        protocols: &[],
        fg: "#ecf0eb",
        bg: "#a40000",
    },
    ColorRule {
        name: "HTTP",
        filter: "http || tcp.port == 80 || http2",
        expr: Some("tcp.port == 80"),
        protocols: &["HTTP", "HTTP2"],
        fg: "#12272e",
        bg: "#e4ffc7",
    },
    ColorRule {
        name: "TCP SYN/FIN",
        filter: "tcp.flags.syn == 1 || tcp.flags.fin == 1",
        expr: None,
        protocols: &[],
        fg: "#12272e",
        bg: "#a0a0a0",
    },
    ColorRule {
        name: "TCP",
        filter: "tcp",
        expr: None,
        protocols: &[],
        fg: "#12272e",
        bg: "#e7e6ff",
    },
    ColorRule {
        name: "UDP",
        filter: "udp",
        expr: None,
        protocols: &[],
        fg: "#12272e",
        bg: "#daeeff",
    },
    ColorRule {
        name: "Broadcast",
        filter: "eth[0] & 1",
        expr: None,
        protocols: &[],
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
            .map(|r| Filter::compile(r.expr.unwrap_or(r.filter), reg).ok())
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

    /// Whether the first rule (Bad TCP, the one that needs flow state) matches: evaluated in
    /// the indexing pass on frames with analysis flags, and stored as one bit.
    pub fn bad_tcp(&self, src: &dyn wiresift_field::FieldSource) -> bool {
        self.filters[0].as_ref().is_some_and(|f| f.matches(src))
    }

    /// The colour code of a frame whose Protocol column says `proto`, given the stored Bad
    /// TCP bit; the other rules need only the frame's own fields, so a page evaluates them.
    pub fn color(&self, src: &dyn wiresift_field::FieldSource, proto: &str, bad_tcp: bool) -> u8 {
        if bad_tcp {
            return 1;
        }
        for (i, (f, r)) in self.filters.iter().zip(RULES).enumerate().skip(1) {
            if r.protocols.contains(&proto) || f.as_ref().is_some_and(|f| f.matches(src)) {
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
            for f in [Some(r.filter), r.expr].into_iter().flatten() {
                if let Err(e) = wiresift_filter::Filter::compile(f, reg) {
                    panic!("{}: {}", r.name, e.render(f));
                }
            }
        }
        assert_eq!(super::RULES[0].name, "Bad TCP", "the rule stored as a bit");
    }
}
