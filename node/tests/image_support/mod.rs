//! Shared helpers for the image integration tests: a private containerd
//! per test and hand-built busybox archives.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use shoal_api::stream::ByteStream;
use shoal_node::events::EventsBus;
use shoal_node::image::ImageService;
use shoal_node::runtime::Runtime;

/// A containerd child with its own root, state and socket; killed on drop.
pub struct Containerd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub runtime: Runtime,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // containerd may leave overlay mounts of active snapshots; none are
        // mounted by these tests, so the tree is removable.
    }
}

impl Containerd {
    pub async fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("shoal-img")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{sock}\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("c.sock").display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("containerd must be installed to run image tests");
        let runtime = Runtime::connect(&d.join("c.sock"), "shoal-test", Duration::from_secs(30))
            .await
            .expect("containerd did not come up");
        Containerd {
            child,
            dir,
            runtime,
        }
    }

    pub fn service(&self) -> ImageService {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        ImageService::new(
            self.runtime.clone(),
            Arc::new(EventsBus::new()),
            data,
            shoal_node::registry::Registries::new(Default::default()),
        )
    }
}

/// A body stream cut into small chunks, as HTTP delivers it.
pub fn body(data: Vec<u8>) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(chunks).boxed()
}

pub async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, path, data).unwrap();
}

/// A rootfs layer: bin/busybox (the host's static busybox) and applet
/// symlinks, plus a marker file so two images can differ.
pub fn busybox_layer(marker: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_cksum();
    b.append_data(&mut dir.clone(), "bin/", std::io::empty())
        .unwrap();
    b.append_data(&mut dir, "etc/", std::io::empty()).unwrap();
    let bb = std::fs::read("/bin/busybox").expect("busybox-static is needed at /bin/busybox");
    let mut h = tar::Header::new_gnu();
    h.set_size(bb.len() as u64);
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, "bin/busybox", bb.as_slice()).unwrap();
    for applet in ["sh", "echo", "ls", "cat", "true"] {
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        l.set_mode(0o777);
        b.append_link(&mut l, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    append(&mut b, "etc/marker", marker.as_bytes());
    b.into_inner().unwrap()
}

/// An image config for `layer` with Cmd ["sh"].
pub fn config_for(layer: &[u8], labels: HashMap<String, String>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": match std::env::consts::ARCH { "aarch64" => "arm64", _ => "amd64" },
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
        "history": [
            {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop) ADD file:busybox in / "},
            {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}
        ]
    }))
    .unwrap()
}

/// A docker-save archive in the old layout (`<id>/layer.tar`,
/// `<config>.json`, manifest.json, repositories).
pub fn docker_save_tar(layer: &[u8], config: &[u8], tags: &[&str]) -> Vec<u8> {
    let layer_id = sha256(layer)[7..].to_owned();
    let config_hex = sha256(config)[7..].to_owned();
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, &format!("{layer_id}/VERSION"), b"1.0");
    append(&mut b, &format!("{layer_id}/json"), b"{}");
    append(&mut b, &format!("{layer_id}/layer.tar"), layer);
    append(&mut b, &format!("{config_hex}.json"), config);
    let manifest = json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { json!(tags) },
        "Layers": [format!("{layer_id}/layer.tar")],
    }]);
    append(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.into_inner().unwrap()
}

/// A plain OCI layout archive with a gzip layer, named by annotation.
pub fn oci_tar(layer: &[u8], config: &[u8], name: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, layer).unwrap();
    let gz = gz.finish().unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&gz), "size": gz.len()}],
    }))
    .unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha256(&manifest),
            "size": manifest.len(),
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1"},
        }],
    }))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    append(&mut b, &format!("blobs/sha256/{}", &sha256(&gz)[7..]), &gz);
    append(
        &mut b,
        &format!("blobs/sha256/{}", &sha256(config)[7..]),
        config,
    );
    append(
        &mut b,
        &format!("blobs/sha256/{}", &sha256(&manifest)[7..]),
        &manifest,
    );
    append(&mut b, "index.json", &index);
    b.into_inner().unwrap()
}

/// Names of the files in a tar.
pub fn tar_names(data: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(data);
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

/// Mounts `mounts` (one overlay or bind mount) at `target`, runs `check`,
/// and unmounts.
pub fn with_mounted<T>(
    mounts: &[shoal_node::runtime::Mount],
    target: &Path,
    check: impl FnOnce(&Path) -> T,
) -> T {
    assert_eq!(mounts.len(), 1, "expected one rootfs mount: {mounts:?}");
    let m = &mounts[0];
    std::fs::create_dir_all(target).unwrap();
    let opts: Vec<&str> = m.options.iter().map(String::as_str).collect();
    let status = Command::new("mount")
        .arg("-t")
        .arg(&m.kind)
        .arg("-o")
        .arg(opts.join(","))
        .arg(&m.source)
        .arg(target)
        .status()
        .unwrap();
    assert!(status.success(), "mount {m:?} failed");
    let out = check(target);
    let status = Command::new("umount").arg(target).status().unwrap();
    assert!(status.success());
    out
}

pub fn path_buf(p: &Path, rel: &str) -> PathBuf {
    p.join(rel)
}
