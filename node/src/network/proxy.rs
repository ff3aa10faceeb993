//! The daemon's proxy for published ports on IPv6 addresses, TCP and UDP.
//!
//! The kernel carries published ports by DNAT, but it will not route a
//! packet whose source is `::1` out of the loopback device (IPv6 has no
//! `route_localnet`), and it cannot NAT IPv6 to a container that has IPv4
//! only, so dockerd runs docker-proxy there. Shoal does the same inside the
//! daemon: the socket it holds on an IPv6 published port (which the firewall
//! does not DNAT for `::1`) takes those connections and datagrams and
//! forwards them to the container.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// How long a connection to the container may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until the returned guard is dropped or `parent` is
/// cancelled, forwarding each connection to `to`.
pub fn spawn(
    listener: std::net::TcpListener,
    to: SocketAddr,
    tracker: &TaskTracker,
    parent: &CancellationToken,
) -> std::io::Result<DropGuard> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let stop = parent.child_token();
    let guard = stop.clone().drop_guard();
    let conns = tracker.clone();
    tracker.spawn(async move {
        loop {
            let (client, peer) = tokio::select! {
                _ = stop.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!(error = %e, "proxy accept");
                        continue;
                    }
                },
            };
            let stop = stop.clone();
            conns.spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    r = splice(client, to) => if let Err(e) = r {
                        tracing::debug!(%peer, %to, error = %e, "proxied connection");
                    },
                }
            });
        }
    });
    Ok(guard)
}

async fn splice(mut client: TcpStream, to: SocketAddr) -> std::io::Result<()> {
    let mut upstream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// A UDP flow with no datagram either way for this long is dropped
/// (docker-proxy's `UDPConnTrackTimeout`).
const UDP_IDLE: Duration = Duration::from_secs(90);
/// Flows tracked at once; a datagram from a new client beyond this is
/// dropped (a flood of source addresses must not exhaust the daemon's
/// sockets).
const UDP_MAX_FLOWS: usize = 4096;
/// The largest UDP payload.
const UDP_BUF: usize = 65_535;

/// Serves the UDP `socket` until the returned guard is dropped or `parent`
/// is cancelled: each client address gets its own socket to `to`, so that
/// replies find their way back, as docker-proxy's UDP proxy does.
pub fn spawn_udp(
    socket: std::net::UdpSocket,
    to: SocketAddr,
    tracker: &TaskTracker,
    parent: &CancellationToken,
) -> std::io::Result<DropGuard> {
    socket.set_nonblocking(true)?;
    let front = Arc::new(UdpSocket::from_std(socket)?);
    let stop = parent.child_token();
    let guard = stop.clone().drop_guard();
    let flows_tracker = tracker.clone();
    tracker.spawn(async move {
        let mut flows: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<SocketAddr>();
        let mut buf = vec![0u8; UDP_BUF];
        loop {
            let (n, client) = tokio::select! {
                _ = stop.cancelled() => return,
                Some(gone) = ended_rx.recv() => {
                    flows.remove(&gone);
                    continue;
                }
                r = front.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!(error = %e, "udp proxy receive");
                        continue;
                    }
                },
            };
            let upstream = match flows.get(&client) {
                Some(u) => u.clone(),
                None => {
                    if flows.len() >= UDP_MAX_FLOWS {
                        tracing::debug!(%client, "udp proxy: too many flows, datagram dropped");
                        continue;
                    }
                    let u = match open_upstream(to).await {
                        Ok(u) => Arc::new(u),
                        Err(e) => {
                            tracing::debug!(%client, %to, error = %e, "udp proxy upstream");
                            continue;
                        }
                    };
                    flows.insert(client, u.clone());
                    flows_tracker.spawn(replies(
                        u.clone(),
                        front.clone(),
                        client,
                        stop.clone(),
                        ended_tx.clone(),
                    ));
                    u
                }
            };
            if let Err(e) = upstream.send(&buf[..n]).await {
                tracing::debug!(%client, %to, error = %e, "udp proxy send");
            }
        }
    });
    Ok(guard)
}

async fn open_upstream(to: SocketAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = if to.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let u = UdpSocket::bind(local).await?;
    u.connect(to).await?;
    Ok(u)
}

/// Carries the container's replies on one flow back to `client` until the
/// flow has been idle for [`UDP_IDLE`]; then reports it ended.
async fn replies(
    upstream: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    stop: CancellationToken,
    ended: tokio::sync::mpsc::UnboundedSender<SocketAddr>,
) {
    let mut buf = vec![0u8; UDP_BUF];
    loop {
        let r = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)) => r,
        };
        match r {
            Ok(Ok(n)) => {
                if let Err(e) = front.send_to(&buf[..n], client).await {
                    tracing::debug!(%client, error = %e, "udp proxy reply");
                }
            }
            // A refused port (ICMP) is not the end of the flow: the server may start.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Ok(Err(e)) => {
                tracing::debug!(%client, error = %e, "udp proxy flow");
                break;
            }
            // Idle: requests alone do not keep it (they go the other way), as with a
            // conntrack entry that saw no reply.
            Err(_) => break,
        }
    }
    let _ = ended.send(client);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn forwards_both_ways_and_stops_with_its_guard() {
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = backend.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = backend.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(b"pong").await.unwrap();
        });
        let front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = front.local_addr().unwrap();
        let tracker = TaskTracker::new();
        let guard = spawn(front, to, &tracker, &CancellationToken::new()).unwrap();
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        drop(c);
        drop(guard);
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("proxy stopped with its guard");
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    }

    #[tokio::test]
    async fn udp_replies_reach_each_client_and_the_proxy_stops_with_its_guard() {
        let backend = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = backend.local_addr().unwrap();
        // An echo server that prefixes what it got.
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                let (n, from) = backend.recv_from(&mut buf).await.unwrap();
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                backend.send_to(&reply, from).await.unwrap();
            }
        });
        let front = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = front.local_addr().unwrap();
        let tracker = TaskTracker::new();
        let guard = spawn_udp(front, to, &tracker, &CancellationToken::new()).unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"a1", addr).await.unwrap();
        b.send_to(b"b1", addr).await.unwrap();
        let mut buf = [0u8; 64];
        for (c, want) in [(&a, &b"echo:a1"[..]), (&b, &b"echo:b1"[..])] {
            let (n, from) = tokio::time::timeout(Duration::from_secs(5), c.recv_from(&mut buf))
                .await
                .expect("a reply")
                .unwrap();
            assert_eq!(&buf[..n], want);
            assert_eq!(from, addr, "the reply comes from the published port");
        }
        drop(guard);
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("udp proxy stopped with its guard");
    }
}
