//! One embedded DNS server per running container on a user network, on
//! UDP and TCP (dockerd serves both; resolvers retry truncated answers
//! over TCP), answering names, aliases and reverse lookups of containers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::forward::{forward, forward_tcp};
use super::table::ptr_address;

/// Where a server looks names up: the network service's live endpoints.
pub trait Names: Send + Sync + std::fmt::Debug + 'static {
    /// Addresses of `name` on the networks of container `container`, or
    /// `None` when the container is gone.
    fn resolve(&self, container: &str, name: &str) -> Vec<IpAddr>;
    /// The `<container>.<network>` name of `ip` on the networks of
    /// container `container`, if a container there has it.
    fn reverse(&self, container: &str, ip: IpAddr) -> Option<String>;
    /// Upstream resolvers for container `container`.
    fn upstreams(&self, container: &str) -> Vec<String>;
}

/// dockerd answers its own names with a 600 s TTL.
const TTL: u32 = 600;

/// A TCP client gets this long to send each query before it is dropped.
const TCP_IDLE: Duration = Duration::from_secs(10);

fn response_to(query: &Message, code: ResponseCode) -> Message {
    let mut resp = Message::new();
    resp.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(code);
    for q in query.queries() {
        resp.add_query(q.clone());
    }
    resp
}

/// Answers `query` from the table, or `None` to forward it.
fn answer(query: &Message, ips: &[IpAddr]) -> Option<Vec<u8>> {
    let q = query.queries().first()?;
    if ips.is_empty() {
        return None;
    }
    let mut resp = response_to(query, ResponseCode::NoError);
    resp.set_authoritative(true);
    // A name of ours gets the addresses of the asked family; a type it has
    // none of (AAAA on a v4-only network, MX...) gets an empty NOERROR
    // answer, so resolvers don't go on to search domains.
    let t = q.query_type();
    for ip in ips {
        let rdata = match ip {
            IpAddr::V4(v4) if matches!(t, RecordType::A | RecordType::ANY) => RData::A(A(*v4)),
            IpAddr::V6(v6) if matches!(t, RecordType::AAAA | RecordType::ANY) => {
                RData::AAAA(AAAA(*v6))
            }
            _ => continue,
        };
        resp.add_answer(Record::from_rdata(q.name().clone(), TTL, rdata));
    }
    resp.to_vec().ok()
}

/// Answers a PTR query with `name` (`<container>.<network>`).
fn answer_ptr(query: &Message, name: &str) -> Option<Vec<u8>> {
    let q = query.queries().first()?;
    let target = Name::from_ascii(format!("{name}.")).ok()?;
    let mut resp = response_to(query, ResponseCode::NoError);
    resp.set_authoritative(true);
    resp.add_answer(Record::from_rdata(
        q.name().clone(),
        TTL,
        RData::PTR(PTR(target)),
    ));
    resp.to_vec().ok()
}

fn servfail(query: &Message) -> Option<Vec<u8>> {
    response_to(query, ResponseCode::ServFail).to_vec().ok()
}

/// What the table answers for `msg` at once, if anything: names and
/// aliases of containers on the asker's networks, and reverse lookups of
/// their addresses.
fn local_answer(msg: &Message, container: &str, names: &dyn Names) -> Option<Vec<u8>> {
    let q = msg.queries().first()?;
    let qname = q.name().to_ascii();
    if q.query_type() == RecordType::PTR {
        let ip = ptr_address(&qname)?;
        let name = names.reverse(container, ip)?;
        return answer_ptr(msg, &name);
    }
    answer(msg, &names.resolve(container, &qname))
}

/// The reply to the raw query `raw`: from the table, else from the
/// upstreams (over TCP when `tcp`), else SERVFAIL. `None` for garbage.
async fn reply(raw: Vec<u8>, container: &str, names: &dyn Names, tcp: bool) -> Option<Vec<u8>> {
    let msg = Message::from_vec(&raw).ok()?;
    if let Some(r) = local_answer(&msg, container, names) {
        return Some(r);
    }
    let ups = names.upstreams(container);
    let fwd = if tcp {
        forward_tcp(&raw, &ups).await
    } else {
        forward(&raw, &ups).await
    };
    fwd.or_else(|| servfail(&msg))
}

/// Serves the embedded DNS of container `container` on `udp` and `tcp`
/// (both bound to 127.0.0.11:53 in its namespace) until `stop`.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    container: String,
    names: Arc<dyn Names>,
    stop: CancellationToken,
) {
    let tracker = TaskTracker::new();
    tracker.spawn(serve_tcp(
        tcp,
        container.clone(),
        names.clone(),
        stop.clone(),
        tracker.clone(),
    ));
    serve_udp(udp, container, names, stop, &tracker).await;
    tracker.close();
    tracker.wait().await;
}

async fn serve_udp(
    sock: UdpSocket,
    container: String,
    names: Arc<dyn Names>,
    stop: CancellationToken,
    tracker: &TaskTracker,
) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(container.id = %container, error = %e, "dns socket closed");
                    return;
                }
            },
        };
        let raw = buf[..n].to_vec();
        let Ok(msg) = Message::from_vec(&raw) else {
            continue;
        };
        if let Some(r) = local_answer(&msg, &container, names.as_ref()) {
            let _ = sock.send_to(&r, peer).await;
            continue;
        }
        let (sock, names, container, stop) =
            (sock.clone(), names.clone(), container.clone(), stop.clone());
        // Forwarding waits on the network: do it off the receive loop.
        tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                r = reply(raw, &container, names.as_ref(), false) => if let Some(r) = r {
                    let _ = sock.send_to(&r, peer).await;
                },
            }
        });
    }
}

async fn serve_tcp(
    listener: TcpListener,
    container: String,
    names: Arc<dyn Names>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let conn = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok((c, _)) => c,
                Err(e) => {
                    tracing::debug!(container.id = %container, error = %e, "dns tcp accept");
                    continue;
                }
            },
        };
        let (names, container, stop) = (names.clone(), container.clone(), stop.clone());
        tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve_tcp_conn(conn, &container, names.as_ref()) => {}
            }
        });
    }
}

/// One TCP client: 2-byte length-prefixed queries (RFC 1035 4.2.2),
/// answered in order until it closes or idles.
async fn serve_tcp_conn(mut conn: TcpStream, container: &str, names: &dyn Names) {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, conn.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut raw = vec![0u8; u16::from_be_bytes(len) as usize];
        if !matches!(
            tokio::time::timeout(TCP_IDLE, conn.read_exact(&mut raw)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let Some(r) = reply(raw, container, names, true).await else {
            return;
        };
        let Ok(n) = u16::try_from(r.len()) else {
            return;
        };
        let mut out = n.to_be_bytes().to_vec();
        out.extend_from_slice(&r);
        if conn.write_all(&out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;
    use std::str::FromStr;

    #[test]
    fn answers_a_records_from_the_table() {
        let mut q = Message::new();
        q.set_id(7)
            .add_query(Query::query(Name::from_str("web.").unwrap(), RecordType::A));
        let ips: Vec<IpAddr> = vec!["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        let bytes = answer(&q, &ips).unwrap();
        let r = Message::from_vec(&bytes).unwrap();
        assert_eq!(r.id(), 7);
        assert_eq!(r.message_type(), MessageType::Response);
        assert_eq!(r.answers().len(), 1);
        assert_eq!(
            r.answers()[0].data(),
            Some(&RData::A(A("10.0.0.2".parse().unwrap())))
        );
        let mut q6 = Message::new();
        q6.set_id(8).add_query(Query::query(
            Name::from_str("web.").unwrap(),
            RecordType::AAAA,
        ));
        let r6 = Message::from_vec(&answer(&q6, &ips).unwrap()).unwrap();
        assert_eq!(r6.answers().len(), 1);
        assert_eq!(
            r6.answers()[0].data(),
            Some(&RData::AAAA(AAAA("fd00::2".parse().unwrap())))
        );
        // A v4-only name answers AAAA with an empty NOERROR.
        let r0 = Message::from_vec(&answer(&q6, &ips[..1]).unwrap()).unwrap();
        assert!(r0.answers().is_empty());
        assert_eq!(r0.response_code(), ResponseCode::NoError);
        // Unknown names are forwarded, not answered.
        assert!(answer(&q, &[]).is_none());
        let f = Message::from_vec(&servfail(&q).unwrap()).unwrap();
        assert_eq!(f.response_code(), ResponseCode::ServFail);
    }

    #[derive(Debug)]
    struct One;
    impl Names for One {
        fn resolve(&self, _: &str, name: &str) -> Vec<IpAddr> {
            match name.trim_end_matches('.') {
                "web" => vec!["10.0.0.2".parse().unwrap()],
                _ => Vec::new(),
            }
        }
        fn reverse(&self, _: &str, ip: IpAddr) -> Option<String> {
            (ip == "10.0.0.2".parse::<IpAddr>().unwrap()).then(|| "web.net1".into())
        }
        fn upstreams(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
    }

    #[tokio::test]
    async fn answers_reverse_lookups_and_tcp_queries() {
        let mut q = Message::new();
        q.set_id(9).add_query(Query::query(
            Name::from_str("2.0.0.10.in-addr.arpa.").unwrap(),
            RecordType::PTR,
        ));
        let r = Message::from_vec(&local_answer(&q, "c", &One).unwrap()).unwrap();
        assert_eq!(
            r.answers()[0].data(),
            Some(&RData::PTR(PTR(Name::from_str("web.net1.").unwrap())))
        );
        // Another address is not ours: forwarded (no upstream here: SERVFAIL).
        let mut q2 = Message::new();
        q2.set_id(10).add_query(Query::query(
            Name::from_str("9.0.0.10.in-addr.arpa.").unwrap(),
            RecordType::PTR,
        ));
        assert!(local_answer(&q2, "c", &One).is_none());

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(
            udp,
            listener,
            "c".into(),
            Arc::new(One),
            stop.clone(),
        ));
        let mut c = TcpStream::connect(addr).await.unwrap();
        for (query, code) in [(&q, ResponseCode::NoError), (&q2, ResponseCode::ServFail)] {
            let raw = query.to_vec().unwrap();
            let mut out = (raw.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(&raw);
            c.write_all(&out).await.unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).await.unwrap();
            let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
            c.read_exact(&mut body).await.unwrap();
            let r = Message::from_vec(&body).unwrap();
            assert_eq!((r.id(), r.response_code()), (query.id(), code));
        }
        stop.cancel();
        server.await.unwrap();
    }
}
