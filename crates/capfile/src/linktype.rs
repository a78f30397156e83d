//! Link-layer header types (LINKTYPE_* values from the tcpdump.org registry).

use std::fmt;

/// A LINKTYPE_* value as stored in pcap and pcapng files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    pub const RAW: LinkType = LinkType(101);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The short name tcpdump/capinfos use (`EN10MB`, `LINUX_SLL2`, ...), if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NULL",
            1 => "EN10MB",
            9 => "PPP",
            101 => "RAW",
            105 => "IEEE802_11",
            108 => "LOOP",
            113 => "LINUX_SLL",
            127 => "IEEE802_11_RADIO",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => return None,
        })
    }

    /// A human description, as capinfos prints encapsulations.
    pub fn description(self) -> &'static str {
        match self.0 {
            0 => "BSD loopback",
            1 => "Ethernet",
            9 => "PPP",
            101 | 228 | 229 => "Raw IP",
            105 => "IEEE 802.11 Wireless LAN",
            108 => "OpenBSD loopback",
            113 => "Linux cooked-mode capture v1",
            127 => "IEEE 802.11 plus radiotap radio header",
            276 => "Linux cooked-mode capture v2",
            _ => "Unknown",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "LINKTYPE_{}", self.0),
        }
    }
}
