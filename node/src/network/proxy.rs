//! The daemon's TCP proxy for published ports on the IPv6 loopback.
//!
//! The kernel carries published ports by DNAT, but it will not route a
//! packet whose source is `::1` out of the loopback device (IPv6 has no
//! `route_localnet`), so dockerd runs docker-proxy for `[::1]`. Shoal does
//! the same inside the daemon: the listener it holds on an IPv6 published
//! port (which the firewall does not DNAT for `::1`) accepts those
//! connections and splices them to the container.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
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
}
