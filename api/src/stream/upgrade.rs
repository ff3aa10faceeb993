//! The attach/exec hijack: HTTP upgrade to a raw bidirectional byte stream.
//!
//! The Docker CLI sends `Connection: Upgrade` / `Upgrade: tcp`; dockerd
//! answers `101 UPGRADED` and from then on the connection carries container
//! output one way (stdcopy-framed unless TTY) and client input the other.
//! When the client half-closes its write side, the process's stdin is closed
//! (so it sees EOF); when the output ends, the connection is closed. The
//! detach keys in client input end the session and close the connection,
//! leaving the process running.
//! Without the `Upgrade` header (very old clients), output goes in a plain
//! 200 streaming body and the request body, if any, feeds stdin.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::detach::{DetachScanner, Scanned};
use super::output::{encode_chunk, encode_output, output_content_type};
use super::{AttachIo, StdinSink};
use crate::version::ApiVersion;

/// Server shutdown as seen by long-lived hijacked sessions: the server puts
/// it in every request's extensions; a session outlives `token` by at most
/// `grace`.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    /// Cancelled when the server stops accepting.
    pub token: CancellationToken,
    /// How long streams may go on after that.
    pub grace: Duration,
}

impl ShutdownSignal {
    async fn expired(&self) {
        self.token.cancelled().await;
        tokio::time::sleep(self.grace).await;
    }
}

/// Answers an attach or exec-start request by hijacking the connection.
///
/// Call only after the backend accepted the request, so that errors (404,
/// 409) still go out as normal JSON responses.
pub fn hijack(mut req: Request, io: AttachIo, version: ApiVersion) -> Response {
    let content_type = output_content_type(io.tty, version);
    let shutdown = req.extensions().get::<ShutdownSignal>().cloned();
    let wants_upgrade = req.headers().contains_key(UPGRADE);
    if !wants_upgrade {
        return plain_stream(req, io, content_type, shutdown);
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let session = run_upgraded(upgraded, io);
                match shutdown {
                    Some(s) => {
                        tokio::select! {
                            _ = session => {}
                            _ = s.expired() => tracing::debug!("hijacked session dropped at shutdown"),
                        }
                    }
                    None => session.await,
                }
            }
            Err(e) => tracing::debug!(error = %e, "connection upgrade failed"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

/// Runs a session on an upgraded connection. On a unix socket the output
/// waits until the client has read the `101` head (see [`super::peer`]).
async fn run_upgraded(upgraded: hyper::upgrade::Upgraded, io: AttachIo) {
    match upgraded.downcast::<TokioIo<tokio::net::UnixStream>>() {
        Ok(parts) => {
            let stream = parts.io.into_inner();
            super::peer::wait_until_read(&stream).await;
            let (rd, wr) = stream.into_split();
            // Bytes the client sent right behind the request (stdin) that
            // hyper had already read.
            let rd = std::io::Cursor::new(parts.read_buf).chain(rd);
            pump_halves(rd, wr, io).await;
        }
        Err(upgraded) => pump(TokioIo::new(upgraded), io).await,
    }
}

/// How the input side of a session ended.
enum InputEnd {
    /// The client half-closed or went away; stdin was closed.
    Eof,
    /// The client typed the detach keys.
    Detached,
}

/// Copies both directions until the output ends or the client detaches.
pub(crate) async fn pump<C>(conn: C, io: AttachIo)
where
    C: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (rd, wr) = tokio::io::split(conn);
    pump_halves(rd, wr, io).await;
}

async fn pump_halves<R, W>(mut rd: R, mut wr: W, io: AttachIo)
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin,
{
    let AttachIo {
        tty,
        mut output,
        stdin,
        detach_keys,
        on_detach,
    } = io;
    let input = async move {
        let Some(mut sink) = stdin else {
            // Nothing reads client bytes, like dockerd without stdin=1.
            return std::future::pending::<InputEnd>().await;
        };
        let mut scanner = DetachScanner::new(detach_keys);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "attach input ended");
                    break;
                }
            };
            let (data, detached) = match scanner.feed(&buf[..n]) {
                Scanned::Forward(d) => (d, false),
                Scanned::Detach(d) => (d, true),
            };
            if !data.is_empty() && sink.write_all(&data).await.is_err() {
                break;
            }
            if detached {
                // Like dockerd, detaching leaves stdin as it is; dropping
                // the sink is all the backend sees.
                let _ = sink.flush().await;
                return InputEnd::Detached;
            }
        }
        // The client half-closed (or went away): the process gets EOF.
        if let Err(e) = sink.shutdown().await {
            tracing::debug!(error = %e, "closing container stdin");
        }
        InputEnd::Eof
    };
    let out = async move {
        while let Some(chunk) = output.next().await {
            let bytes = encode_chunk(&chunk, tty, false);
            if bytes.is_empty() {
                continue;
            }
            if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
                tracing::debug!("attach client went away");
                return;
            }
        }
        let _ = wr.shutdown().await;
    };
    tokio::pin!(input, out);
    let mut input_done = false;
    loop {
        tokio::select! {
            _ = &mut out => break,
            end = &mut input, if !input_done => match end {
                InputEnd::Eof => input_done = true,
                InputEnd::Detached => {
                    tracing::debug!("client detached with the detach keys");
                    if let Some(f) = on_detach {
                        f();
                    }
                    break;
                }
            },
        }
    }
}

fn plain_stream(
    req: Request,
    io: AttachIo,
    content_type: &'static str,
    shutdown: Option<ShutdownSignal>,
) -> Response {
    let AttachIo {
        tty, output, stdin, ..
    } = io;
    // With no request body there is no input yet, and closing stdin would
    // end programs like `cat`: keep the sink open for as long as the output.
    let mut keep_open = None;
    if let Some(sink) = stdin {
        let body = req.into_body();
        if body.is_end_stream() {
            keep_open = Some(sink);
        } else {
            tokio::spawn(async move {
                let feed = feed_stdin(body, sink);
                match shutdown {
                    Some(s) => {
                        tokio::select! {
                            _ = feed => {}
                            _ = s.expired() => {}
                        }
                    }
                    None => feed.await,
                }
            });
        }
    }
    let body = encode_output(output, tty, false).map(move |b| {
        let _keep = &keep_open;
        Ok::<_, Infallible>(b)
    });
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

async fn feed_stdin(body: Body, mut sink: StdinSink) {
    let mut data = body.into_data_stream();
    while let Some(Ok(chunk)) = data.next().await {
        if sink.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = sink.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{OutputChunk, StdStream, stdcopy};
    use bytes::Bytes;
    use tokio::io::AsyncReadExt;

    /// Output is framed, input reaches stdin, and a client half-close
    /// closes stdin while output keeps flowing until it ends.
    #[tokio::test]
    async fn pump_copies_both_ways() {
        let (client, server) = tokio::io::duplex(4096);
        let (stdin_w, mut stdin_r) = tokio::io::duplex(4096);
        let (out_tx, out_rx) = tokio::sync::mpsc::channel::<OutputChunk>(4);
        let io = AttachIo {
            tty: false,
            output: tokio_stream::wrappers::ReceiverStream::new(out_rx).boxed(),
            stdin: Some(Box::new(stdin_w)),
            detach_keys: vec![0x10, 0x11],
            on_detach: None,
        };
        let session = tokio::spawn(pump(server, io));
        let (mut crd, mut cwr) = tokio::io::split(client);
        cwr.write_all(b"input").await.unwrap();
        cwr.shutdown().await.unwrap();
        let mut got = Vec::new();
        stdin_r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"input");

        out_tx
            .send(OutputChunk {
                stream: StdStream::Stderr,
                data: Bytes::from_static(b"late"),
                timestamp: None,
            })
            .await
            .unwrap();
        drop(out_tx);
        let mut wire = Vec::new();
        crd.read_to_end(&mut wire).await.unwrap();
        assert_eq!(wire, stdcopy::encode(StdStream::Stderr, b"late"));
        session.await.unwrap();
    }

    /// The detach keys end the session: the bytes before them reach stdin,
    /// stdin is not shut down, the connection closes and the hook runs.
    #[tokio::test]
    async fn detach_keys_end_the_session() {
        let (client, server) = tokio::io::duplex(4096);
        let (stdin_w, mut stdin_r) = tokio::io::duplex(4096);
        let (_out_tx, out_rx) = tokio::sync::mpsc::channel::<OutputChunk>(4);
        let (hook_tx, hook_rx) = tokio::sync::oneshot::channel();
        let io = AttachIo {
            tty: true,
            output: tokio_stream::wrappers::ReceiverStream::new(out_rx).boxed(),
            stdin: Some(Box::new(stdin_w)),
            detach_keys: vec![0x18, b'y'],
            on_detach: Some(Box::new(move || {
                let _ = hook_tx.send(());
            })),
        };
        let session = tokio::spawn(pump(server, io));
        let (mut crd, mut cwr) = tokio::io::split(client);
        cwr.write_all(b"ab\x18c\x18").await.unwrap();
        cwr.write_all(b"yafter").await.unwrap();
        session.await.unwrap();
        hook_rx.await.expect("detach hook called");
        let mut got = Vec::new();
        stdin_r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ab\x18c");
        let mut wire = Vec::new();
        crd.read_to_end(&mut wire).await.unwrap();
        assert!(wire.is_empty());
    }
}
