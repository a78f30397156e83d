#!/usr/bin/env python3
"""Writes hostile-html.pcap: one HTTP/1.1 exchange whose URL, headers, file name and body are
HTML and script, for the UI's "packet data is text, never markup" tests.

python3 tests/data/make_hostile_html.py tests/data/hostile-html.pcap
"""
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp


def main(out):
    c, s = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    cp, sp = 40000, 80
    req = (b"GET /<script>window.__pwned=1</script>?q=<img%20src=x%20onerror=window.__pwned=2> HTTP/1.1\r\n"
           b"Host: <b>evil</b>.example\r\n"
           b"User-Agent: <script>window.__pwned=3</script>\r\n\r\n")
    body = b"<html><script>window.__pwned=4</script><img src=x onerror=\"window.__pwned=5\"></html>\n"
    resp = (b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: text/html\r\n"
            b"Content-Disposition: attachment; filename=\"<img src=x onerror=window.__pwned=6>.html\"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    ci, si = 1000, 5000
    pkts = [
        packet(c, s, cp, sp, ci, 0, 0x02),
        packet(s, c, sp, cp, si, ci + 1, 0x12),
        packet(c, s, cp, sp, ci + 1, si + 1, 0x10),
        packet(c, s, cp, sp, ci + 1, si + 1, 0x18, req),
        packet(s, c, sp, cp, si + 1, ci + 1 + len(req), 0x18, resp),
        packet(c, s, cp, sp, ci + 1 + len(req), si + 1 + len(resp), 0x11),
        packet(s, c, sp, cp, si + 1 + len(resp), ci + 2 + len(req), 0x11),
        packet(c, s, cp, sp, ci + 2 + len(req), si + 2 + len(resp), 0x10),
    ]
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", 1765000000 + i, 1000 * i, len(p), len(p)) + p)


if __name__ == "__main__":
    main(sys.argv[1])
