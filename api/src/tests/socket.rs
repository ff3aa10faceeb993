//! The real server on a temp unix socket, driven by hyper's client.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::fakes::Fake;
use crate::server::{Listener, SHUTDOWN_GRACE, serve};
use crate::stream::{StdStream, stdcopy};

/// Connects once the server has bound, polling with a deadline.
async fn connect(sock: &Path) -> UnixStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(sock).await {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("server never listened on {}: {e}", sock.display()),
        }
    }
}

async fn client(sock: &Path) -> hyper::client::conn::http1::SendRequest<Body> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(connect(sock).await))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    sender
}

/// Sends an upgrade request, checks the 101, and returns the raw stream.
async fn hijack(
    sock: &Path,
    uri: &str,
    body: &'static str,
) -> (String, TokioIo<hyper::upgrade::Upgraded>) {
    let mut sender = client(sock).await;
    let req = Request::post(uri)
        .header("host", "docker")
        .header("connection", "Upgrade")
        .header("upgrade", "tcp")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["upgrade"], "tcp");
    let reason = resp.extensions().get::<hyper::ext::ReasonPhrase>().unwrap();
    assert_eq!(reason.as_bytes(), b"UPGRADED");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let upgraded = hyper::upgrade::on(resp).await.unwrap();
    (ct, TokioIo::new(upgraded))
}

#[tokio::test]
async fn unix_socket_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("api.sock");
    let (fake, backends) = Fake::backends();
    let token = CancellationToken::new();
    let server = tokio::spawn(serve(
        vec![Listener::Unix(sock.clone())],
        crate::router(backends),
        token.clone(),
    ));

    // Raw bytes, to see the header spelling Go clients see.
    let mut raw = connect(&sock).await;
    raw.write_all(b"GET /v1.43/_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nApi-Version: 1.50\r\n"), "{text}");
    assert!(text.contains("\r\nOstype: linux\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nOK"), "{text}");

    // Wait: headers come before the container exits, the body after.
    let mut sender = client(&sock).await;
    let req = Request::post("/containers/abc/wait?condition=next-exit")
        .header("host", "docker")
        .body(Body::empty())
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .expect("wait headers are sent before the exit")
        .unwrap();
    assert_eq!(resp.status(), 200);
    fake.exit.notify_one();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        body,
        Bytes::from_static(b"{\"StatusCode\":7,\"Error\":null}\n")
    );

    // Attach without TTY: stdin reaches the process, output comes back
    // framed, and a half-close ends the session.
    let (ct, mut io) = hijack(
        &sock,
        "/v1.50/containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1",
        "",
    )
    .await;
    assert_eq!(ct, "application/vnd.docker.multiplexed-stream");
    io.write_all(b"hello").await.unwrap();
    io.shutdown().await.unwrap();
    let mut wire = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), io.read_to_end(&mut wire))
        .await
        .expect("server closes after output ends")
        .unwrap();
    let mut d = stdcopy::Decoder::new();
    d.push(&wire);
    let mut out = Vec::new();
    while let Some((s, data)) = d.next_frame().unwrap() {
        assert_eq!(s, StdStream::Stdout);
        out.extend_from_slice(&data);
    }
    assert_eq!(out, b"hello");

    // Exec start with a TTY: raw bytes both ways.
    let (ct, mut io) = hijack(&sock, "/exec/e1/start", r#"{"Detach":false,"Tty":true}"#).await;
    assert_eq!(ct, "application/vnd.docker.raw-stream");
    io.write_all(b"tty!").await.unwrap();
    io.shutdown().await.unwrap();
    let mut wire = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), io.read_to_end(&mut wire))
        .await
        .expect("exec session ends")
        .unwrap();
    assert_eq!(wire, b"tty!");

    // Shutdown with a request still streaming (a wait nobody ends): the
    // server stops within the grace period and removes its socket.
    let mut sender = client(&sock).await;
    let req = Request::post("/containers/abc/wait")
        .header("host", "docker")
        .body(Body::empty())
        .unwrap();
    let pending = sender.send_request(req).await.unwrap();
    let started = Instant::now();
    token.cancel();
    tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(5), server)
        .await
        .expect("server stops after the grace period")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= SHUTDOWN_GRACE - Duration::from_millis(100));
    assert!(pending.into_body().collect().await.is_err());
    assert!(!sock.exists());
    assert!(
        fake.calls()
            .iter()
            .any(|c| c == "exec-start e1 detach=false tty=Some(true)")
    );
}
