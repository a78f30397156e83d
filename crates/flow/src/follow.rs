//! Writers that print a followed stream byte-identically to
//! `tshark -q -z follow,{tcp,udp},{ascii,hex,raw,yaml},N` (Wireshark 4.0, `ui/cli/tap-follow.c`).
//!
//! People diff `wiresift follow` against tshark, so every detail is tshark's: one block per
//! chunk (a TCP segment's new bytes or a UDP datagram — never merged), node 1's lines indented
//! with a tab, per-direction hex offsets, `[addr]:port` for IPv6 nodes, a gap printed as the
//! text `[N bytes missing in capture file]` plus a NUL byte, YAML timestamps printed from a
//! double (`%.9f`) and a gap's timestamp as 0.
//!
//! Output is streamed: the header is written before the first chunk (or by `finish`), each
//! chunk as it comes, the footer by [`FollowWriter::finish`].

use std::io::{self, Write};
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{Direction, FlowError, FlowInfo, Nanos};

const SEPARATOR: &str = "===================================================================\n";

/// Output format of [`FollowWriter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowFormat {
    Ascii,
    Hex,
    Raw,
    Yaml,
}

impl FollowFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowFormat::Ascii => "ascii",
            FollowFormat::Hex => "hex",
            FollowFormat::Raw => "raw",
            FollowFormat::Yaml => "yaml",
        }
    }
}

impl std::str::FromStr for FollowFormat {
    type Err = FlowError;
    fn from_str(s: &str) -> Result<Self, FlowError> {
        match s {
            "ascii" => Ok(FollowFormat::Ascii),
            "hex" => Ok(FollowFormat::Hex),
            "raw" => Ok(FollowFormat::Raw),
            "yaml" => Ok(FollowFormat::Yaml),
            _ => Err(FlowError::UnknownFollowFormat(s.to_string())),
        }
    }
}

/// The protocol named in the header (`Follow: tcp,raw`, `Filter: tcp.stream eq N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowProto {
    Tcp,
    Udp,
    /// Decrypted TLS: `Follow: tls,...` but `Filter: tcp.stream eq N`, as tshark prints it.
    Tls,
}

impl FollowProto {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowProto::Tcp => "tcp",
            FollowProto::Udp => "udp",
            FollowProto::Tls => "tls",
        }
    }

    /// The protocol of the stream number in the `Filter:` line.
    pub fn stream_proto(self) -> &'static str {
        match self {
            FollowProto::Udp => "udp",
            FollowProto::Tcp | FollowProto::Tls => "tcp",
        }
    }
}

/// The text tshark prints in place of bytes missing from the capture (the NUL is part of it).
pub fn missing_marker(missing: u64) -> Vec<u8> {
    // tshark prints the count with "%d" from a 32-bit difference.
    let n = missing as u32 as i32;
    let mut v = format!("[{n} bytes missing in capture file]").into_bytes();
    v.push(0);
    v
}

/// Streams one followed stream in a tshark follow format.
#[derive(Debug)]
pub struct FollowWriter<W: Write> {
    out: W,
    proto: FollowProto,
    format: FollowFormat,
    stream: u64,
    /// Node 0 (the first packet's source) and node 1.
    nodes: Option<[(IpAddr, u16); 2]>,
    node0_is_client: bool,
    header_done: bool,
    pos: [u64; 2],
}

impl<W: Write> FollowWriter<W> {
    pub fn new(out: W, proto: FollowProto, format: FollowFormat, stream: u64) -> Self {
        FollowWriter {
            out,
            proto,
            format,
            stream,
            nodes: None,
            node0_is_client: true,
            header_done: false,
            pos: [0, 0],
        }
    }

    /// Sets the nodes from the flow (node 0 = the first packet's source).
    pub fn set_flow(&mut self, info: &FlowInfo) {
        self.node0_is_client = info.first_from_client;
        self.nodes = Some(if info.first_from_client {
            [info.client, info.server]
        } else {
            [info.server, info.client]
        });
    }

    /// Sets the nodes directly.
    pub fn set_nodes(&mut self, node0: (IpAddr, u16), node1: (IpAddr, u16)) {
        self.nodes = Some([node0, node1]);
        self.node0_is_client = true;
    }

    fn node_of(&self, dir: Direction) -> usize {
        match (dir, self.node0_is_client) {
            (Direction::ClientToServer, true) | (Direction::ServerToClient, false) => 0,
            _ => 1,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if self.header_done {
            return Ok(());
        }
        self.header_done = true;
        let nodes = self.nodes;
        match self.format {
            FollowFormat::Yaml => {
                writeln!(self.out, "peers:")?;
                for i in 0..2 {
                    let (host, port) = match nodes {
                        Some(n) => (n[i].0.to_string(), n[i].1),
                        None => (String::new(), 0),
                    };
                    write!(
                        self.out,
                        "  - peer: {i}\n    host: {host}\n    port: {port}\n"
                    )?;
                }
                writeln!(self.out, "packets:")
            }
            _ => {
                write!(
                    self.out,
                    "\n{SEPARATOR}Follow: {p},{f}\nFilter: {q}.stream eq {s}\n",
                    p = self.proto.as_str(),
                    q = self.proto.stream_proto(),
                    f = self.format.as_str(),
                    s = self.stream
                )?;
                for i in 0..2 {
                    match nodes {
                        Some(n) => match n[i].0 {
                            IpAddr::V6(a) => writeln!(self.out, "Node {i}: [{a}]:{}", n[i].1)?,
                            IpAddr::V4(a) => writeln!(self.out, "Node {i}: {a}:{}", n[i].1)?,
                        },
                        None => writeln!(self.out, "Node {i}: :0")?,
                    }
                }
                Ok(())
            }
        }
    }

    /// One chunk of `dir`'s data (a TCP segment's new bytes, a UDP datagram).
    pub fn chunk(&mut self, dir: Direction, data: &[u8], frame: u64, ts: Nanos) -> io::Result<()> {
        let node = self.node_of(dir);
        self.chunk_node(node, data, frame, ts)
    }

    /// A gap of `missing` bytes in `dir`, printed as tshark prints it.
    pub fn gap(&mut self, dir: Direction, missing: u64, frame: u64) -> io::Result<()> {
        let node = self.node_of(dir);
        self.chunk_node(node, &missing_marker(missing), frame, 0)
    }

    /// One chunk from node 0 or node 1.
    pub fn chunk_node(
        &mut self,
        node: usize,
        data: &[u8],
        frame: u64,
        ts: Nanos,
    ) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.header()?;
        let server = node != 0;
        let tab = if server { "\t" } else { "" };
        match self.format {
            FollowFormat::Ascii => {
                writeln!(self.out, "{tab}{}", data.len())?;
                let text: Vec<u8> = data
                    .iter()
                    .map(|&b| match b {
                        b'\r' | b'\n' => b,
                        0x20..=0x7e => b,
                        _ => b'.',
                    })
                    .collect();
                self.out.write_all(&text)?;
                self.out.write_all(b"\n")?;
            }
            FollowFormat::Raw => {
                let mut line = String::with_capacity(data.len() * 2 + 2);
                line.push_str(tab);
                for b in data {
                    line.push_str(&format!("{b:02x}"));
                }
                line.push('\n');
                self.out.write_all(line.as_bytes())?;
            }
            FollowFormat::Hex => {
                let mut offset = self.pos[node & 1];
                for row in data.chunks(16) {
                    let mut line = format!("{tab}{:08X}  ", offset as u32);
                    let mut hex = String::with_capacity(50);
                    for (i, b) in row.iter().enumerate() {
                        hex.push_str(&format!("{b:02x} "));
                        if i == 7 || i == 15 {
                            hex.push(' ');
                        }
                    }
                    line.push_str(&format!("{hex:<50}"));
                    for (i, &b) in row.iter().enumerate() {
                        line.push(if (0x20..0x7f).contains(&b) {
                            b as char
                        } else {
                            '.'
                        });
                        if i == 7 {
                            line.push(' ');
                        }
                    }
                    // tshark ends the line one character early when that character is a
                    // blank: the group blank of an 8-byte line, or a space byte at the end
                    // (observed with tshark 4.0.17 over the whole corpus).
                    if line.ends_with(' ') {
                        line.pop();
                    }
                    line.push('\n');
                    self.out.write_all(line.as_bytes())?;
                    offset += 16;
                }
            }
            FollowFormat::Yaml => {
                let secs = ts.div_euclid(1_000_000_000) as f64
                    + ts.rem_euclid(1_000_000_000) as f64 / 1_000_000_000.0;
                write!(
                    self.out,
                    "  - packet: {}\n    peer: {}\n    timestamp: {:.9}\n    data: !!binary |\n",
                    frame as u32 as i32,
                    u8::from(server),
                    secs
                )?;
                for piece in data.chunks(57) {
                    writeln!(self.out, "      {}", STANDARD.encode(piece))?;
                }
            }
        }
        self.pos[node & 1] += data.len() as u64;
        Ok(())
    }

    /// Writes the header if nothing was written, and the footer; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.header()?;
        if self.format != FollowFormat::Yaml {
            self.out.write_all(SEPARATOR.as_bytes())?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(f: FollowFormat) -> FollowWriter<Vec<u8>> {
        let mut w = FollowWriter::new(Vec::new(), FollowProto::Tcp, f, 4);
        w.set_nodes(
            ("10.180.156.1".parse().unwrap(), 40005),
            ("10.180.156.2".parse().unwrap(), 80),
        );
        w
    }

    /// tshark 4.0.17, `-z follow,tcp,hex,4` on arkime-tcp-reassembly-synthetic.pcap.
    #[test]
    fn hex_matches_tshark() {
        let mut w = writer(FollowFormat::Hex);
        w.chunk_node(0, b"GET /tcp-gap HTTP/1.0\r\nHost: test\r\n\r\n", 49, 0)
            .unwrap();
        w.chunk_node(1, b"01234567", 51, 0).unwrap();
        w.gap(Direction::ServerToClient, 8, 53).unwrap();
        w.chunk_node(1, b"0123456789abcdef", 52, 0).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        let want = "
===================================================================
Follow: tcp,hex
Filter: tcp.stream eq 4
Node 0: 10.180.156.1:40005
Node 1: 10.180.156.2:80
00000000  47 45 54 20 2f 74 63 70  2d 67 61 70 20 48 54 54  GET /tcp -gap HTT
00000010  50 2f 31 2e 30 0d 0a 48  6f 73 74 3a 20 74 65 73  P/1.0..H ost: tes
00000020  74 0d 0a 0d 0a                                    t....
\t00000000  30 31 32 33 34 35 36 37                           01234567
\t00000008  5b 38 20 62 79 74 65 73  20 6d 69 73 73 69 6e 67  [8 bytes  missing
\t00000018  20 69 6e 20 63 61 70 74  75 72 65 20 66 69 6c 65   in capt ure file
\t00000028  5d 00                                             ].
\t0000002A  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  01234567 89abcdef
===================================================================
";
        assert_eq!(out, want);
    }

    #[test]
    fn yaml_and_ascii_shapes() {
        let mut w = writer(FollowFormat::Yaml);
        w.chunk_node(1, b"01234567", 51, 1_700_000_040_019_999_981)
            .unwrap();
        w.gap(Direction::ServerToClient, 8, 53).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(out.contains(
            "    timestamp: 1700000040.019999981\n    data: !!binary |\n      MDEyMzQ1Njc=\n"
        ));
        assert!(out.contains("  - packet: 53\n    peer: 1\n    timestamp: 0.000000000\n"));
        let mut w = writer(FollowFormat::Ascii);
        w.chunk_node(1, b"a\tb\0", 1, 0).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(out.ends_with(
            "\t4\na.b.\n===================================================================\n"
        ));
    }
}
