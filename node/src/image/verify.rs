//! A reader that checks a blob's size and digest as it streams by.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use super::progress::Meter;
use crate::runtime::Descriptor;

/// Counts, hashes and meters a blob on its way to containerd; at the end
/// of the stream a wrong size or digest turns into a read error (so the
/// write is abandoned), with the reason kept in `failure`.
pub(super) struct Verifying<R> {
    inner: R,
    hasher: Sha256,
    seen: u64,
    size: u64,
    digest: String,
    meter: Meter,
    failure: Arc<Mutex<Option<String>>>,
}

impl<R> Verifying<R> {
    /// Wraps `inner`, the bytes of blob `desc`; the reason for a failed
    /// check is left in `failure`.
    pub(super) fn new(
        inner: R,
        desc: &Descriptor,
        meter: Meter,
        failure: Arc<Mutex<Option<String>>>,
    ) -> Self {
        Verifying {
            inner,
            hasher: Sha256::new(),
            seen: 0,
            size: u64::try_from(desc.size).unwrap_or(0),
            digest: desc.digest.clone(),
            meter,
            failure,
        }
    }

    fn fail(&self, why: String) -> std::io::Error {
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(why.clone());
        }
        std::io::Error::new(std::io::ErrorKind::InvalidData, why)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Verifying<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let new = &buf.filled()[before..];
        if new.is_empty() {
            let got = format!("sha256:{}", hex::encode(this.hasher.clone().finalize()));
            if this.seen != this.size {
                let why = format!(
                    "filesystem layer verification failed for digest {}: got {} bytes, expected {}",
                    this.digest, this.seen, this.size
                );
                return Poll::Ready(Err(this.fail(why)));
            }
            if got != this.digest {
                let why = format!(
                    "filesystem layer verification failed for digest {}: the content has digest {got}",
                    this.digest
                );
                return Poll::Ready(Err(this.fail(why)));
            }
            return Poll::Ready(Ok(()));
        }
        this.hasher.update(new);
        this.seen += new.len() as u64;
        if this.seen > this.size {
            // An error must not hand out bytes (AsyncRead's contract).
            buf.set_filled(before);
            let why = format!(
                "filesystem layer verification failed for digest {}: more than the {} bytes announced",
                this.digest, this.size
            );
            return Poll::Ready(Err(this.fail(why)));
        }
        this.meter.update(this.seen);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn desc(data: &[u8], size: i64) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: crate::image::oci::sha256_digest(data),
            size,
            annotations: Default::default(),
        }
    }

    async fn read_all(
        data: &'static [u8],
        d: &Descriptor,
    ) -> (std::io::Result<Vec<u8>>, Option<String>) {
        let failure = Arc::new(Mutex::new(None));
        let meter = super::super::progress::Progress::none().meter("x", "Downloading", d.size);
        let mut r = Verifying::new(data, d, meter, failure.clone());
        let mut out = Vec::new();
        let res = r.read_to_end(&mut out).await.map(|_| out);
        let why = failure.lock().unwrap().take();
        (res, why)
    }

    #[tokio::test]
    async fn good_blobs_pass_and_bad_ones_say_why() {
        let d = desc(b"hello", 5);
        let (res, why) = read_all(b"hello", &d).await;
        assert_eq!(res.unwrap(), b"hello");
        assert!(why.is_none());
        let (res, why) = read_all(b"hellO", &d).await;
        assert!(res.is_err());
        assert!(why.unwrap().contains("verification failed"));
        let (res, why) = read_all(b"hello!", &d).await;
        assert!(res.is_err());
        assert!(why.unwrap().contains("more than the 5 bytes"));
        let (res, why) = read_all(b"hell", &d).await;
        assert!(res.is_err());
        assert!(why.unwrap().contains("got 4 bytes, expected 5"));
    }
}
