//! Forwarding of names the table does not know to upstream resolvers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one upstream gets before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends the raw query to each upstream in turn; the first answer wins.
pub async fn forward(query: &[u8], upstreams: &[String]) -> Option<Vec<u8>> {
    for up in upstreams {
        let Ok(ip) = up.parse::<IpAddr>() else {
            continue;
        };
        let addr = SocketAddr::new(ip, 53);
        let bind: SocketAddr = if ip.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let Ok(sock) = UdpSocket::bind(bind).await else {
            continue;
        };
        if sock.send_to(query, addr).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) if from == addr => {
                buf.truncate(n);
                return Some(buf);
            }
            _ => continue,
        }
    }
    None
}

/// The same over TCP (a client that asked over TCP, typically after a
/// truncated UDP answer): 2-byte length prefix both ways.
pub async fn forward_tcp(query: &[u8], upstreams: &[String]) -> Option<Vec<u8>> {
    let len = u16::try_from(query.len()).ok()?;
    for up in upstreams {
        let Ok(ip) = up.parse::<IpAddr>() else {
            continue;
        };
        let ask = async {
            let mut c = TcpStream::connect(SocketAddr::new(ip, 53)).await?;
            let mut out = len.to_be_bytes().to_vec();
            out.extend_from_slice(query);
            c.write_all(&out).await?;
            let mut n = [0u8; 2];
            c.read_exact(&mut n).await?;
            let mut buf = vec![0u8; u16::from_be_bytes(n) as usize];
            c.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        if let Ok(Ok(buf)) = tokio::time::timeout(UPSTREAM_TIMEOUT, ask).await {
            return Some(buf);
        }
    }
    None
}
