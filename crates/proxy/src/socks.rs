//! SOCKS5 (RFC 1928) server side: no authentication, CONNECT only.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Runs the SOCKS5 greeting and request; returns the target (host, port) after replying
/// success, or an error after replying a failure code when the request is unsupported.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<(String, u16)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await?;
    if h[0] != 5 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not SOCKS5 (version byte {})", h[0]),
        ));
    }
    let mut methods = vec![0u8; h[1] as usize];
    s.read_exact(&mut methods).await?;
    if !methods.contains(&0) {
        s.write_all(&[5, 0xff]).await?;
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "SOCKS5 client offers no 'no authentication' method",
        ));
    }
    s.write_all(&[5, 0]).await?;
    let mut r = [0u8; 4];
    s.read_exact(&mut r).await?;
    if r[0] != 5 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad SOCKS5 request",
        ));
    }
    let host = match r[3] {
        1 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).await?;
            let mut d = vec![0u8; n[0] as usize];
            s.read_exact(&mut d).await?;
            String::from_utf8(d).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "SOCKS5 domain is not UTF-8")
            })?
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            format!("[{}]", std::net::Ipv6Addr::from(a))
        }
        _ => {
            s.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "SOCKS5 address type not supported",
            ));
        }
    };
    let mut p = [0u8; 2];
    s.read_exact(&mut p).await?;
    let port = u16::from_be_bytes(p);
    if r[1] != 1 {
        s.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "only SOCKS5 CONNECT is supported",
        ));
    }
    s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn domain_connect() {
        let (mut c, mut s) = tokio::io::duplex(256);
        let client = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            c.write_all(&[5, 1, 0]).await.unwrap();
            let mut b = [0u8; 2];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(b, [5, 0]);
            let mut req = vec![5, 1, 0, 3, 11];
            req.extend_from_slice(b"example.com");
            req.extend_from_slice(&443u16.to_be_bytes());
            c.write_all(&req).await.unwrap();
            let mut rep = [0u8; 10];
            c.read_exact(&mut rep).await.unwrap();
            assert_eq!(rep[1], 0);
        };
        let (_, r) = tokio::join!(client, super::handshake(&mut s));
        assert_eq!(r.unwrap(), ("example.com".to_string(), 443));
    }
}
