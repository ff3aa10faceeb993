//! OCI / Docker image JSON shapes Shoal reads and writes, media types and
//! chain IDs.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runtime::Descriptor;

/// OCI image manifest.
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Uncompressed OCI layer.
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// gzip OCI layer.
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker schema 2 manifest.
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Annotation carrying the full image name (containerd's exporter).
pub const ANN_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Annotation carrying the tag (or full name) in an OCI layout.
pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Prefix of every content GC-reference label (`...m.0` for an index's
/// manifests).
pub const LABEL_REF_CONTENT_PREFIX: &str = "containerd.io/gc.ref.content.";
/// Label on a manifest blob pointing at its config (GC reference).
pub const LABEL_REF_CONFIG: &str = "containerd.io/gc.ref.content.config";
/// Prefix of labels on a manifest blob pointing at its layers.
pub const LABEL_REF_LAYER: &str = "containerd.io/gc.ref.content.l.";
/// Label on the config blob holding the unpacked chain (GC reference).
pub const LABEL_REF_SNAPSHOT: &str = "containerd.io/gc.ref.snapshot.overlayfs";

/// True for manifest media types Shoal can read.
pub fn is_manifest(mt: &str) -> bool {
    mt == MT_OCI_MANIFEST || mt == MT_DOCKER_MANIFEST
}

/// True for index / manifest-list media types.
pub fn is_index(mt: &str) -> bool {
    mt == MT_OCI_INDEX || mt == MT_DOCKER_LIST
}

/// An image manifest (OCI or Docker schema 2; same JSON shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type of the manifest itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// Layer blobs, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// Platform of an index entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An entry of an index: a descriptor plus its platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The manifest.
    #[serde(flatten)]
    pub descriptor: Descriptor,
    /// Its platform, when the index says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// OCI index (`index.json`) or Docker manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Manifests.
    #[serde(default)]
    pub manifests: Vec<IndexEntry>,
}

/// The image config blob (OCI `config.json`), fields Shoal reads; the
/// stored bytes are kept as they came, so unknown fields survive.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfigFile {
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Commit message (docker import / commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Docker version that built it (Docker extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Container defaults (Docker's `Config`, PascalCase keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// Layer diff IDs.
    pub rootfs: RootFs,
    /// Build history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// The image a `docker build` step started from (Docker's v1 `parent`
    /// field); the build cache follows it. Absent in pulled images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The step's container config (Docker's `container_config`); its
    /// `Cmd` is the step's cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<serde_json::Value>,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub typ: String,
    /// Uncompressed layer digests, base first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One history entry of an image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Chain IDs for `diff_ids` (base first): the identity of each layer stack,
/// which names its committed snapshot.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => sha256_digest(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Seconds since the epoch of an RFC 3339 time, 0 when absent or bad.
pub fn unix_seconds(created: Option<&str>) -> i64 {
    created
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = "sha256:aaaa".to_owned();
        let b = "sha256:bbbb".to_owned();
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], sha256_digest(b"sha256:aaaa sha256:bbbb"));
    }

    #[test]
    fn config_roundtrip_keeps_fields() {
        let raw = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},
            "rootfs":{"type":"layers","diff_ids":["sha256:ab"]},
            "history":[{"created_by":"x","empty_layer":true}]}"#;
        let c: ImageConfigFile = serde_json::from_str(raw).unwrap();
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert!(c.history[0].empty_layer);
        assert_eq!(c.config.unwrap()["Cmd"][0], "sh");
    }
}
