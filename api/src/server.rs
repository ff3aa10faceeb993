//! Listeners: unix sockets (mode 0660) and TCP, with graceful shutdown.
//!
//! ```text
//! serve(listeners, router, token)
//!   bind every listener (fail fast) ─> one accept loop per listener
//!     └─ one task per connection: hyper http1 + upgrades ─> router
//! token cancelled ─> accept loops stop ─> connections finish in-flight
//!   requests (graceful) ─> after SHUTDOWN_GRACE the rest (events, logs -f,
//!   attach) are dropped
//! ```

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::stream::upgrade::ShutdownSignal;

/// How long long-lived responses may run on after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// dockerd's default socket (`-H unix://`).
pub const DEFAULT_UNIX_SOCKET: &str = "/var/run/docker.sock";

/// An address to serve on, parsed from dockerd's `-H` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// `unix:///path/to.sock`
    Unix(PathBuf),
    /// `tcp://host:port`; plain HTTP (no TLS).
    Tcp(String),
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listener::Unix(p) => write!(f, "unix://{}", p.display()),
            Listener::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// Parses a `-H` value: `unix:///path` (`unix://` alone is
/// [`DEFAULT_UNIX_SOCKET`]), `tcp://host:port` or `host:port` (a missing
/// host is 127.0.0.1 and a missing port 2375, like dockerd). `fd://`
/// (systemd socket activation) and other schemes are refused.
pub fn parse_host(s: &str) -> Result<Listener, String> {
    let s = s.trim();
    if let Some(path) = s.strip_prefix("unix://") {
        if path.is_empty() {
            return Ok(Listener::Unix(PathBuf::from(DEFAULT_UNIX_SOCKET)));
        }
        if !path.starts_with('/') {
            return Err(format!(
                "invalid unix socket path {path:?}: must be absolute"
            ));
        }
        return Ok(Listener::Unix(PathBuf::from(path)));
    }
    if s.starts_with("fd://") {
        return Err("fd:// (systemd socket activation) is not supported by Shoal".to_owned());
    }
    let addr = match s.split_once("://") {
        Some(("tcp", rest)) => rest,
        Some((scheme, _)) => return Err(format!("invalid bind address protocol: {scheme}")),
        None => s,
    };
    parse_tcp(addr)
}

fn parse_tcp(addr: &str) -> Result<Listener, String> {
    let addr = addr.trim_end_matches('/');
    if addr.contains('/') {
        return Err(format!("invalid bind address {addr:?}: no path allowed"));
    }
    // Split off the port, minding bracketed IPv6 hosts.
    let (host, port) = match addr.rfind(':') {
        Some(i) if !addr[i..].contains(']') => (&addr[..i], &addr[i + 1..]),
        _ => (addr, ""),
    };
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let port = if port.is_empty() { "2375" } else { port };
    port.parse::<u16>()
        .map_err(|_| format!("invalid bind address {addr:?}: bad port {port:?}"))?;
    Ok(Listener::Tcp(format!("{host}:{port}")))
}

/// A bound socket, ready to serve.
#[derive(Debug)]
pub enum BoundListener {
    /// A unix socket and its path (removed when serving ends).
    Unix(UnixListener, PathBuf),
    /// A TCP socket.
    Tcp(TcpListener),
    /// A TCP socket whose connections must complete a TLS handshake first.
    Tls(TcpListener, std::sync::Arc<rustls::ServerConfig>),
}

impl BoundListener {
    /// Where it listens (the bound port for `tcp://host:0`).
    pub fn local_addr(&self) -> String {
        match self {
            BoundListener::Unix(_, p) => format!("unix://{}", p.display()),
            BoundListener::Tcp(l) | BoundListener::Tls(l, _) => match l.local_addr() {
                Ok(a) => format!("tcp://{a}"),
                Err(_) => "tcp://?".to_owned(),
            },
        }
    }

    /// The bound TCP address, if this is a TCP listener.
    pub fn tcp_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            BoundListener::Tcp(l) | BoundListener::Tls(l, _) => l.local_addr().ok(),
            BoundListener::Unix(..) => None,
        }
    }

    /// Serves TLS with `config` on a TCP listener (unix sockets stay as they are).
    pub fn with_tls(self, config: std::sync::Arc<rustls::ServerConfig>) -> BoundListener {
        match self {
            BoundListener::Tcp(l) => BoundListener::Tls(l, config),
            other => other,
        }
    }
}

/// Limits that keep slow or idle clients from holding the daemon's resources.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// How long a client may take to send a request's headers, and how long a
    /// keep-alive connection may sit idle before its next request (hyper starts
    /// this timer whenever it waits for a request head). A TLS handshake gets the
    /// same time.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// Binds a listener. A stale unix socket file is replaced (but never a
/// regular file) and the new socket gets mode 0660, as dockerd does.
pub async fn bind(listener: &Listener) -> io::Result<BoundListener> {
    bind_with_group(listener, None).await
}

/// [`bind`], giving unix sockets the group `gid` (`--group`). The socket
/// is bound under a temporary name, given its mode and owner, and only then
/// renamed into place, so no client can connect before its permissions hold.
pub async fn bind_with_group(listener: &Listener, gid: Option<u32>) -> io::Result<BoundListener> {
    match listener {
        Listener::Unix(path) => bind_unix(path, gid).map(|l| BoundListener::Unix(l, path.clone())),
        Listener::Tcp(addr) => {
            let l = TcpListener::bind(addr.as_str())
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("listen on tcp://{addr}: {e}")))?;
            Ok(BoundListener::Tcp(l))
        }
    }
}

fn bind_unix(path: &Path, gid: Option<u32>) -> io::Result<UnixListener> {
    let ctx = |e: io::Error, what: &str| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ctx(e, "creating directory for"))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| ctx(e, "removing stale socket"))?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ctx(e, "checking")),
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(|e| ctx(e, "listen on"))?;
    let placed = (|| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| ctx(e, "chmod"))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&tmp, Some(0), Some(gid)).map_err(|e| ctx(e, "chown"))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| ctx(e, "placing"))
    })();
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(listener)
}

/// Binds every listener, then serves `router` on all of them until
/// `shutdown` is cancelled (see the module docs for the shutdown steps).
/// Bind errors return before anything is served.
pub async fn serve(
    listeners: Vec<Listener>,
    router: axum::Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut bound = Vec::with_capacity(listeners.len());
    for l in &listeners {
        bound.push(bind(l).await?);
    }
    serve_bound(bound, router, shutdown).await;
    Ok(())
}

/// Serves on already bound listeners; returns once shutdown is complete.
pub async fn serve_bound(
    listeners: Vec<BoundListener>,
    router: axum::Router,
    shutdown: CancellationToken,
) {
    serve_bound_limited(listeners, router, shutdown, ServerLimits::default()).await;
}

/// [`serve_bound`] with explicit [`ServerLimits`].
pub async fn serve_bound_limited(
    listeners: Vec<BoundListener>,
    router: axum::Router,
    shutdown: CancellationToken,
    limits: ServerLimits,
) {
    let connections = TaskTracker::new();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut loops = Vec::with_capacity(listeners.len());
    for listener in listeners {
        tracing::info!(addr = %listener.local_addr(), "API listening");
        let ctx = ConnContext {
            router: router.clone(),
            shutdown: shutdown.clone(),
            connections: connections.clone(),
            permits: permits.clone(),
            limits,
        };
        loops.push(tokio::spawn(accept_loop(listener, ctx)));
    }
    for l in loops {
        if let Err(e) = l.await {
            tracing::error!(error = %e, "accept loop failed");
        }
    }
    connections.close();
    connections.wait().await;
}

#[derive(Clone)]
struct ConnContext {
    router: axum::Router,
    shutdown: CancellationToken,
    connections: TaskTracker,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    limits: ServerLimits,
}

type Permit = tokio::sync::OwnedSemaphorePermit;

/// Waits for a connection slot (or shutdown).
async fn permit(ctx: &ConnContext) -> Option<Permit> {
    tokio::select! {
        _ = ctx.shutdown.cancelled() => None,
        p = ctx.permits.clone().acquire_owned() => p.ok(),
    }
}

async fn accept_loop(listener: BoundListener, ctx: ConnContext) {
    match listener {
        BoundListener::Unix(l, path) => {
            while let Some(slot) = permit(&ctx).await {
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => break,
                    res = l.accept() => match res {
                        Ok((stream, _)) => spawn_connection(stream, &ctx, slot),
                        Err(e) => accept_failed(e).await,
                    },
                }
            }
            drop(l);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::debug!(error = %e, path = %path.display(), "removing API socket");
            }
        }
        BoundListener::Tcp(l) => {
            while let Some(slot) = permit(&ctx).await {
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => break,
                    res = l.accept() => match res {
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            spawn_connection(stream, &ctx, slot);
                        }
                        Err(e) => accept_failed(e).await,
                    },
                }
            }
        }
        BoundListener::Tls(l, config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            while let Some(slot) = permit(&ctx).await {
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => break,
                    res = l.accept() => match res {
                        Ok((stream, peer)) => {
                            let _ = stream.set_nodelay(true);
                            let (acceptor, ctx2) = (acceptor.clone(), ctx.clone());
                            // The handshake runs on its own task so a slow client cannot
                            // hold up the accept loop, and gets the header-read time.
                            ctx.connections.spawn(async move {
                                let hs = tokio::time::timeout(
                                    ctx2.limits.header_read_timeout,
                                    acceptor.accept(stream),
                                );
                                match hs.await {
                                    Ok(Ok(tls)) => spawn_connection(tls, &ctx2, slot),
                                    Ok(Err(e)) => {
                                        tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                                    }
                                    Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                                }
                            });
                        }
                        Err(e) => accept_failed(e).await,
                    },
                }
            }
        }
    }
}

/// Accept errors (EMFILE, ECONNABORTED) are transient; back off briefly
/// instead of spinning.
async fn accept_failed(e: io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

fn spawn_connection<S>(stream: S, ctx: &ConnContext, slot: Permit)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let router = ctx.router.clone();
    let token = ctx.shutdown.clone();
    let signal = ShutdownSignal {
        token: token.clone(),
        grace: SHUTDOWN_GRACE,
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(signal.clone());
        let router = router.clone();
        async move { router.oneshot(req.map(axum::body::Body::new)).await }
    });
    let header_timeout = ctx.limits.header_read_timeout;
    ctx.connections.spawn(async move {
        let _slot = slot;
        let conn = hyper::server::conn::http1::Builder::new()
            // Go canonicalises header names; some clients compare them raw.
            .title_case_headers(true)
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            res = conn.as_mut() => log_conn_end(res),
            _ = token.cancelled() => {
                conn.as_mut().graceful_shutdown();
                tokio::select! {
                    res = conn.as_mut() => log_conn_end(res),
                    _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
                        tracing::debug!("dropping API connection still busy at shutdown");
                    }
                }
            }
        }
    });
}

fn log_conn_end(res: Result<(), hyper::Error>) {
    if let Err(e) = res {
        tracing::debug!(error = %e, "API connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        assert_eq!(
            parse_host("unix:///run/shoal.sock"),
            Ok(Listener::Unix("/run/shoal.sock".into()))
        );
        assert_eq!(
            parse_host("unix://"),
            Ok(Listener::Unix(DEFAULT_UNIX_SOCKET.into()))
        );
        assert_eq!(
            parse_host("tcp://0.0.0.0:2375"),
            Ok(Listener::Tcp("0.0.0.0:2375".into()))
        );
        assert_eq!(
            parse_host("tcp://:4243"),
            Ok(Listener::Tcp("127.0.0.1:4243".into()))
        );
        assert_eq!(
            parse_host("tcp://"),
            Ok(Listener::Tcp("127.0.0.1:2375".into()))
        );
        assert_eq!(
            parse_host("localhost:99"),
            Ok(Listener::Tcp("localhost:99".into()))
        );
        assert_eq!(
            parse_host("tcp://[::1]:2375"),
            Ok(Listener::Tcp("[::1]:2375".into()))
        );
        assert_eq!(
            parse_host("tcp://[::1]"),
            Ok(Listener::Tcp("[::1]:2375".into()))
        );
        assert!(parse_host("fd://").unwrap_err().contains("not supported"));
        assert!(parse_host("ssh://host").is_err());
        assert!(parse_host("unix://relative.sock").is_err());
        assert!(parse_host("tcp://h:port").is_err());
    }

    #[tokio::test]
    async fn tcp_listener_serves_and_stops() {
        let l = bind(&parse_host("tcp://127.0.0.1:0").unwrap())
            .await
            .unwrap();
        let addr = l.local_addr().trim_start_matches("tcp://").to_owned();
        let router = axum::Router::new().route("/_ping", axum::routing::get(|| async { "OK" }));
        let token = CancellationToken::new();
        let server = tokio::spawn(serve_bound(vec![l], router, token.clone()));
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::get("/_ping")
            .header("host", "docker")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        drop(sender);
        token.cancel();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("idle server stops promptly")
            .unwrap();
    }

    #[tokio::test]
    async fn unix_socket_mode_and_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        // A stale socket from a crashed daemon is replaced.
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale);
        let l = bind(&Listener::Unix(path.clone())).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        drop(l);
        // A regular file is never deleted.
        let file = dir.path().join("file");
        std::fs::write(&file, b"keep").unwrap();
        assert!(bind(&Listener::Unix(file.clone())).await.is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    /// A client that connects and sends nothing is disconnected after the header-read time.
    #[tokio::test]
    async fn silent_clients_are_dropped() {
        use tokio::io::AsyncReadExt;
        let l = bind(&parse_host("tcp://127.0.0.1:0").unwrap())
            .await
            .unwrap();
        let addr = l.local_addr().trim_start_matches("tcp://").to_owned();
        let router = axum::Router::new().route("/_ping", axum::routing::get(|| async { "OK" }));
        let token = CancellationToken::new();
        let limits = ServerLimits {
            header_read_timeout: Duration::from_millis(200),
            max_connections: 8,
        };
        let server = tokio::spawn(serve_bound_limited(vec![l], router, token.clone(), limits));
        let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), idle.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server closes a silent connection");
        token.cancel();
        server.await.unwrap();
    }
}
