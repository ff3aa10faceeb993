//! The embedded DNS server of user-defined networks (dockerd's 127.0.0.11).
//!
//! ```text
//! container netns                      daemon (host netns)
//! resolver -> 127.0.0.11:53/udp+tcp  ==>  server.rs: parse (hickory-proto)
//!                                       ├─ table.rs: container names, aliases, short IDs,
//!                                       │            PTR of their addresses
//!                                       └─ forward.rs: anything else -> host / --dns servers
//! ```
//! The socket is opened inside the container's namespace (`netns.rs`) and
//! served by a task of the daemon, so the forwarder reaches the host's
//! resolvers, loopback ones included, as dockerd's does.

pub mod forward;
pub mod server;
pub mod table;

/// The address containers on user networks send their queries to.
pub const EMBEDDED_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 11);

/// The embedded server's sockets, bound to 127.0.0.11:53 (UDP and TCP).
/// Must be called inside the container's network namespace.
pub fn bind_embedded() -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let udp = std::net::UdpSocket::bind((EMBEDDED_ADDR, 53))?;
    udp.set_nonblocking(true)?;
    let tcp = std::net::TcpListener::bind((EMBEDDED_ADDR, 53))?;
    tcp.set_nonblocking(true)?;
    Ok((udp, tcp))
}
