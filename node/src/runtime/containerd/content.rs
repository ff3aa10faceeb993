//! containerd content service calls: blob info, reads, streamed writes and
//! label updates.

use std::collections::HashMap;

use bytes::Bytes;
use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::{
    DeleteContentRequest, Info, InfoRequest, ReadContentRequest, UpdateRequest, WriteAction,
    WriteContentRequest,
};
use futures::{Stream, StreamExt};
use prost_types::FieldMask;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Runtime, status_to_error};
use crate::runtime::{RuntimeError, RuntimeResult};

/// Bytes sent per write message; well under gRPC's 4 MiB message limit.
const WRITE_CHUNK: usize = 1 << 20;

/// A blob in the content store.
#[derive(Debug, Clone)]
pub struct ContentInfo {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: i64,
    /// Labels (GC references, `containerd.io/uncompressed`, ...).
    pub labels: HashMap<String, String>,
}

impl Runtime {
    fn content_client(&self) -> ContentClient<containerd_client::tonic::transport::Channel> {
        ContentClient::new(self.channel())
    }

    /// The blob `digest`, or None when the store does not have it.
    pub async fn content_info(&self, digest: &str) -> RuntimeResult<Option<ContentInfo>> {
        let req = self.request(InfoRequest {
            digest: digest.to_owned(),
        });
        match self.content_client().info(req).await {
            Ok(resp) => Ok(resp.into_inner().info.map(|i| ContentInfo {
                digest: i.digest,
                size: i.size,
                labels: i.labels,
            })),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(None),
            Err(s) => Err(status_to_error("content info", s)),
        }
    }

    /// Reads a whole blob into memory; only for small blobs (manifests,
    /// configs). `limit` guards against a corrupt descriptor.
    pub async fn read_blob(&self, digest: &str, limit: usize) -> RuntimeResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = self.read_stream(digest).await?;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() > limit {
                return Err(RuntimeError::InvalidArgument(format!(
                    "blob {digest} is larger than {limit} bytes"
                )));
            }
        }
        Ok(out)
    }

    /// Streams a blob's bytes in the chunks containerd sends.
    pub async fn read_stream(
        &self,
        digest: &str,
    ) -> RuntimeResult<impl Stream<Item = RuntimeResult<Bytes>> + Send + 'static + use<>> {
        let req = self.request(ReadContentRequest {
            digest: digest.to_owned(),
            offset: 0,
            size: 0,
        });
        let resp = self
            .content_client()
            .read(req)
            .await
            .map_err(|s| status_to_error("content read", s))?;
        Ok(resp.into_inner().map(|r| {
            r.map(|m| Bytes::from(m.data))
                .map_err(|s| status_to_error("content read", s))
        }))
    }

    /// Writes a blob of `size` bytes from `reader` under `lease`, checking it
    /// against `digest`, and commits it with `labels`. A blob the store
    /// already has is not rewritten; it is added to the lease instead, so it
    /// cannot be collected before something references it.
    pub async fn write_blob<R>(
        &self,
        lease: &str,
        digest: &str,
        size: i64,
        labels: HashMap<String, String>,
        reader: R,
    ) -> RuntimeResult<()>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        // Lease first, then look: a blob seen before it is leased can be
        // collected by a concurrent GC (an `rmi` elsewhere) in between.
        self.add_lease_resource(lease, digest, "content").await?;
        if self.content_info(digest).await?.is_some() {
            if !labels.is_empty() {
                self.update_content_labels(digest, labels).await?;
            }
            return Ok(());
        }
        // A unique ref: a crashed earlier write of the same blob may still
        // hold its ref locked.
        let write_ref = format!("shoal-{}-{}", digest, rand::random::<u64>());
        let expected = digest.to_owned();
        struct State<R> {
            reader: R,
            offset: i64,
            done: bool,
            write_ref: String,
            expected: String,
            size: i64,
            labels: Option<HashMap<String, String>>,
        }
        let state = State {
            reader,
            offset: 0,
            done: false,
            write_ref,
            expected,
            size,
            labels: Some(labels),
        };
        // Read errors end the request stream early; the commit then fails
        // on size/digest, so they surface as a failed write.
        let requests = futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            let mut buf = vec![0u8; WRITE_CHUNK];
            let mut filled = 0;
            while filled < buf.len() {
                match st.reader.read(&mut buf[filled..]).await {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => {
                        tracing::debug!(error = %e, "blob source failed");
                        st.done = true;
                        return Some((abort_message(&st.write_ref), st));
                    }
                }
            }
            if filled == 0 {
                st.done = true;
                let msg = WriteContentRequest {
                    action: WriteAction::Commit as i32,
                    r#ref: st.write_ref.clone(),
                    total: st.size,
                    expected: st.expected.clone(),
                    offset: st.offset,
                    data: Vec::new(),
                    labels: st.labels.take().unwrap_or_default(),
                };
                return Some((msg, st));
            }
            buf.truncate(filled);
            let msg = WriteContentRequest {
                action: WriteAction::Write as i32,
                r#ref: st.write_ref.clone(),
                total: st.size,
                expected: st.expected.clone(),
                offset: st.offset,
                data: buf,
                labels: HashMap::new(),
            };
            st.offset += filled as i64;
            Some((msg, st))
        });
        let req = self.request_leased(requests, lease);
        let mut responses = self
            .content_client()
            .write(req)
            .await
            .map_err(|s| status_to_error("content write", s))?
            .into_inner();
        let mut committed = false;
        while let Some(resp) = responses.next().await {
            match resp {
                Ok(r) if r.action == WriteAction::Commit as i32 => committed = true,
                Ok(_) => {}
                Err(s) => return Err(status_to_error("content write", s)),
            }
        }
        if !committed {
            return Err(RuntimeError::InvalidArgument(format!(
                "content write of {digest} ended before commit"
            )));
        }
        Ok(())
    }

    /// Merges `labels` into a blob's labels (only the named keys change).
    pub async fn update_content_labels(
        &self,
        digest: &str,
        labels: HashMap<String, String>,
    ) -> RuntimeResult<()> {
        let paths = labels.keys().map(|k| format!("labels.{k}")).collect();
        let req = self.request(UpdateRequest {
            info: Some(Info {
                digest: digest.to_owned(),
                size: 0,
                created_at: None,
                updated_at: None,
                labels,
            }),
            update_mask: Some(FieldMask { paths }),
        });
        self.content_client()
            .update(req)
            .await
            .map_err(|s| status_to_error("content update", s))?;
        Ok(())
    }

    /// Deletes a blob; missing blobs are not an error.
    pub async fn delete_content(&self, digest: &str) -> RuntimeResult<()> {
        let req = self.request(DeleteContentRequest {
            digest: digest.to_owned(),
        });
        match self.content_client().delete(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(()),
            Err(s) => Err(status_to_error("content delete", s)),
        }
    }

    /// Every blob digest in the store (tests use it to check for leftovers).
    pub async fn list_content(&self) -> RuntimeResult<Vec<ContentInfo>> {
        let req = self.request(containerd_client::services::v1::ListContentRequest {
            filters: Vec::new(),
        });
        let mut stream = self
            .content_client()
            .list(req)
            .await
            .map_err(|s| status_to_error("content list", s))?
            .into_inner();
        let mut out = Vec::new();
        while let Some(resp) = stream.next().await {
            let resp = resp.map_err(|s| status_to_error("content list", s))?;
            out.extend(resp.info.into_iter().map(|i| ContentInfo {
                digest: i.digest,
                size: i.size,
                labels: i.labels,
            }));
        }
        Ok(out)
    }
}

/// A write message that sends no data and no commit: the server sees the
/// stream end without a commit and the ingest is abandoned.
fn abort_message(write_ref: &str) -> WriteContentRequest {
    WriteContentRequest {
        action: WriteAction::Stat as i32,
        r#ref: write_ref.to_owned(),
        total: 0,
        expected: String::new(),
        offset: 0,
        data: Vec::new(),
        labels: HashMap::new(),
    }
}
