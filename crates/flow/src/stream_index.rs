//! Conversation keys and stream numbering, as Wireshark 4.0 numbers `tcp.stream`/`udp.stream`.
//!
//! Wireshark finds a conversation by addresses and ports in either direction and numbers
//! conversations in order of creation, one counter per protocol. A TCP SYN (without ACK)
//! whose sequence number differs from the known initial sequence number of that direction
//! creates a new conversation on the same 5-tuple ("port reuse"); a retransmitted SYN with the
//! same ISN does not, even after FIN or RST (checked with tshark 4.0.17). The ISN test itself
//! lives with the TCP state ([`crate::analysis`]); this module holds the key and the counters.

use std::net::IpAddr;

use crate::Proto;

/// A conversation's identity, independent of direction: the smaller (address, port) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConvKey {
    pub proto: Proto,
    pub a: (IpAddr, u16),
    pub b: (IpAddr, u16),
}

impl PartialOrd for Proto {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Proto {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.number().cmp(&other.number())
    }
}

/// Hashed as a few machine words instead of field by field (the derived form hashes each
/// address as a length-prefixed byte slice): the flow table hashes a key for every packet.
impl std::hash::Hash for ConvKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        fn addr(a: IpAddr) -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(v)),
                IpAddr::V6(v) => u128::from(v) ^ (1 << 127),
            }
        }
        let ports =
            u64::from(self.a.1) << 24 | u64::from(self.b.1) << 8 | u64::from(self.proto.number());
        match (self.a.0, self.b.0) {
            (IpAddr::V4(x), IpAddr::V4(y)) => {
                h.write_u64(u64::from(u32::from(x)) << 32 | u64::from(u32::from(y)));
                h.write_u64(ports);
            }
            (x, y) => {
                h.write_u128(addr(x));
                h.write_u128(addr(y));
                h.write_u64(ports | 1 << 63);
            }
        }
    }
}

impl ConvKey {
    pub fn new(proto: Proto, src: (IpAddr, u16), dst: (IpAddr, u16)) -> ConvKey {
        let (a, b) = if src <= dst { (src, dst) } else { (dst, src) };
        ConvKey { proto, a, b }
    }
}

/// The next stream number of each protocol.
#[derive(Clone, Debug, Default)]
pub struct StreamIndex {
    tcp: u64,
    udp: u64,
}

impl StreamIndex {
    /// Allocates the next stream number of `proto`.
    pub fn allocate(&mut self, proto: Proto) -> u64 {
        let c = match proto {
            Proto::Tcp => &mut self.tcp,
            Proto::Udp => &mut self.udp,
        };
        let n = *c;
        *c += 1;
        n
    }
    /// How many streams of `proto` were numbered.
    pub fn count(&self, proto: Proto) -> u64 {
        match proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_direction_free() {
        let x: IpAddr = "10.0.0.1".parse().unwrap();
        let y: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            ConvKey::new(Proto::Tcp, (x, 1), (y, 2)),
            ConvKey::new(Proto::Tcp, (y, 2), (x, 1))
        );
        let mut s = StreamIndex::default();
        assert_eq!(s.allocate(Proto::Tcp), 0);
        assert_eq!(s.allocate(Proto::Udp), 0);
        assert_eq!(s.allocate(Proto::Tcp), 1);
        assert_eq!(s.count(Proto::Tcp), 2);
    }
}
