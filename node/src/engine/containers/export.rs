//! `docker export`: the container's filesystem as a tar stream.

use bytes::Bytes;
use shoal_api::stream::ByteStream;
use tokio::sync::mpsc;

use super::super::{Engine, EngineResult};

/// Sends what the tar builder writes to the HTTP body in 64 KiB chunks.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Engine {
    /// `GET /containers/{id}/export`.
    pub async fn export(&self, key: &str) -> EngineResult<ByteStream> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        let mounts = self.runtime().snapshot_mounts(&rec.id).await?;
        let base = self.cfg().exec_root.join("mnt");
        let (tx, rx) = mpsc::channel(16);
        let handle = tokio::runtime::Handle::current();
        self.emit(&rec, "export", &[]);
        tokio::task::spawn_blocking(move || {
            let err_tx = tx.clone();
            let res = handle.block_on(crate::runtime::mount::with_mounted(
                &base,
                &mounts,
                move |root| {
                    let w = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter { tx });
                    let mut b = tar::Builder::new(w);
                    b.follow_symlinks(false);
                    b.append_dir_all(".", root)?;
                    b.into_inner()?.into_inner().map_err(|e| e.into_error())?;
                    Ok::<(), std::io::Error>(())
                },
            ));
            let err = match res {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(e) => Some(std::io::Error::other(e.to_string())),
            };
            if let Some(e) = err {
                let _ = err_tx.blocking_send(Err(e));
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}
