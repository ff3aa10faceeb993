//! Waiting until a unix-socket client has read what was sent to it.
//!
//! docker-py takes the raw socket from under http.client's buffered reader
//! after reading the `101 UPGRADED` head; whatever output arrived together
//! with the head sits in that buffer and is lost to it. dockerd avoids this
//! by starting the process only after the head was written (in practice the
//! process start outlasts the client's read). Shoal makes it certain: the
//! first output byte is written only once the client has consumed the head,
//! which for a unix stream socket is when the send queue (`SIOCOUTQ`: bytes
//! the peer has not read yet) is empty.

use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::net::UnixStream;

/// Longest wait for the client to read the response head; a client that
/// does not read by then gets its output anyway.
const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Kernel memory held by data written to `stream` that its peer has not
/// read yet (zero once it read everything), or `None` if the kernel cannot
/// tell.
fn unread(stream: &UnixStream) -> Option<libc::c_int> {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) on a socket fd writes one c_int through
    // the pointer, which points at a live local; the fd stays open for the
    // call because `stream` is borrowed.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    (rc == 0).then_some(n)
}

/// Returns once the peer of `stream` has read everything written to it so
/// far (or after [`HEAD_READ_TIMEOUT`]).
pub async fn wait_until_read(stream: &UnixStream) {
    let deadline = tokio::time::Instant::now() + HEAD_READ_TIMEOUT;
    let mut polls = 0u32;
    while unread(stream).is_some_and(|n| n > 0) {
        if tokio::time::Instant::now() >= deadline {
            tracing::debug!("client did not read the response head; sending output anyway");
            return;
        }
        // A client that is reading takes microseconds: spin on the scheduler
        // first, then back off to the timer.
        polls += 1;
        if polls < 64 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn waits_for_the_peer_to_read() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"head").await.unwrap();
        // The kernel counts buffer memory, not payload bytes.
        assert!(unread(&a).is_some_and(|n| n >= 4));
        let waiter = tokio::spawn(async move {
            wait_until_read(&a).await;
            a
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        let a = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("wait ends once the peer read")
            .unwrap();
        assert_eq!(unread(&a), Some(0));
    }
}
