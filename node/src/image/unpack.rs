//! Layer unpack: each layer applied onto a snapshot of its parent chain
//! and committed under its chain ID, as containerd's unpacker does.

use std::collections::HashMap;

use super::oci::{self, ImageConfigFile};
use super::store::{ImageEntry, Lease};
use super::{ImageError, ImageService};
use crate::runtime::{Descriptor, RuntimeError};

impl ImageService {
    /// Makes sure `entry`'s chain is unpacked; returns the top chain ID
    /// (None for an image without layers).
    pub(super) async fn ensure_unpacked(
        &self,
        entry: &ImageEntry,
    ) -> Result<Option<String>, ImageError> {
        let Some(top) = entry.chain_ids().last().cloned() else {
            return Ok(None);
        };
        if self
            .runtime()
            .stat_snapshot(&top)
            .await?
            .is_some_and(|s| s.committed)
        {
            return Ok(Some(top));
        }
        let lease = self.lease("unpack").await?;
        let result = self.unpack(&lease, &entry.layers, &entry.config).await;
        if result.is_ok() {
            // Images written before their chain existed lack the label
            // that keeps the chain from garbage collection.
            let mut labels = HashMap::new();
            labels.insert(oci::LABEL_REF_SNAPSHOT.to_owned(), top.clone());
            if let Err(e) = self
                .runtime()
                .update_content_labels(&entry.config_desc.digest, labels)
                .await
            {
                lease.release(true).await;
                return Err(e.into());
            }
        }
        lease.release(result.is_err()).await;
        result
    }

    /// Applies `layers` (base first) into committed snapshots named by the
    /// chain IDs from `config`'s diff IDs, skipping chains that exist.
    pub(super) async fn unpack(
        &self,
        lease: &Lease,
        layers: &[Descriptor],
        config: &ImageConfigFile,
    ) -> Result<Option<String>, ImageError> {
        let diff_ids = &config.rootfs.diff_ids;
        if layers.len() != diff_ids.len() {
            return Err(ImageError::Invalid(format!(
                "image has {} layers but its config lists {} diff IDs",
                layers.len(),
                diff_ids.len()
            )));
        }
        let chains = oci::chain_ids(diff_ids);
        for (i, layer) in layers.iter().enumerate() {
            let parent = i.checked_sub(1).map(|p| chains[p].as_str());
            self.unpack_layer(lease, i, layer, &chains[i], parent, &diff_ids[i])
                .await?;
        }
        Ok(chains.last().cloned())
    }
}

impl ImageService {
    /// Applies layer `i` onto its committed parent chain and commits it as
    /// `chain`, unless that chain exists (then it is only leased). Returns
    /// true when this call unpacked it.
    pub(super) async fn unpack_layer(
        &self,
        lease: &Lease,
        i: usize,
        layer: &Descriptor,
        chain: &str,
        parent: Option<&str>,
        diff_id: &str,
    ) -> Result<bool, ImageError> {
        let rt = self.runtime();
        // Lease the chain before looking, so a concurrent GC cannot take
        // someone else's chain between the look and the hold.
        rt.add_lease_resource(&lease.id, chain, "snapshots/overlayfs")
            .await?;
        if rt.stat_snapshot(chain).await?.is_some_and(|s| s.committed) {
            return Ok(false);
        }
        let key = format!("extract-{:016x}-{chain}", rand::random::<u64>());
        let mounts = rt
            .prepare_snapshot(&lease.id, &key, parent, HashMap::new())
            .await?;
        let applied = match rt.apply_diff(layer, &mounts).await {
            Ok(a) => a,
            Err(e) => {
                let _ = rt.remove_snapshot(&key).await;
                return Err(layer_error(i, e));
            }
        };
        if applied.digest != diff_id {
            let _ = rt.remove_snapshot(&key).await;
            return Err(ImageError::Invalid(format!(
                "layer {} content digest {} does not match diff ID {diff_id} in the image config",
                layer.digest, applied.digest
            )));
        }
        match rt
            .commit_snapshot(&lease.id, chain, &key, HashMap::new())
            .await
        {
            Ok(()) => Ok(true),
            // Unpacked concurrently by another caller: theirs is as good.
            Err(RuntimeError::AlreadyExists(_)) => {
                let _ = rt.remove_snapshot(&key).await;
                Ok(false)
            }
            Err(e) => {
                let _ = rt.remove_snapshot(&key).await;
                Err(e.into())
            }
        }
    }
}

fn layer_error(i: usize, e: RuntimeError) -> ImageError {
    match e {
        RuntimeError::InvalidArgument(m) | RuntimeError::Internal(m) => {
            ImageError::Invalid(format!("failed to unpack layer {i}: {m}"))
        }
        other => other.into(),
    }
}
