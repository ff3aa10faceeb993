//! Images built in Rust from Debian's static busybox, since nothing can be pulled here.
//!
//! [`ImageSpec`] describes a one-layer image: `/bin/busybox` plus applet symlinks, a minimal
//! `/etc/passwd`/`/etc/group`, optional extra files (to make distinct layers) and config labels.
//! It is written either as a `docker save` archive ([`ImageSpec::docker_archive`]) or as a plain
//! OCI image-layout archive ([`ImageSpec::oci_archive`]), and its layer alone is a rootfs tar for
//! `docker import` ([`ImageSpec::layer_tar`]).

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Where Debian's busybox-static installs the binary.
const BUSYBOX: &str = "/bin/busybox";

/// Applets linked in `/bin`; the bench needs at least `sh sleep true httpd`.
const APPLETS: &[&str] = &[
    "sh", "ash", "echo", "sleep", "true", "false", "cat", "ls", "id", "env", "pwd", "hostname",
    "top", "ps", "httpd", "ip", "ifconfig", "stty", "tty", "kill", "mkdir", "rm", "touch", "wc",
    "head", "tail", "grep", "seq", "date", "test", "[", "printf", "yes", "uname", "whoami",
    "mount", "cut", "tr", "wget", "nc", "dd", "sync", "tee", "trap", "nproc", "stat",
];

/// Fixed mtime so the same spec always produces the same digests.
const MTIME: u64 = 1_700_000_000;

/// The default `PATH` Docker images carry.
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A one-layer busybox image to build.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Tags recorded in the archive (`name:tag`), e.g. `busybox:latest`.
    pub repo_tags: Vec<String>,
    /// `Config.Labels`.
    pub labels: Vec<(String, String)>,
    /// Extra regular files `(path, content)` added to the layer, to give distinct image IDs.
    pub extra_files: Vec<(String, Vec<u8>)>,
    /// `Config.Cmd`.
    pub cmd: Vec<String>,
    /// `created` timestamp (RFC 3339).
    pub created: String,
    /// `Config.Volumes` (the Dockerfile's `VOLUME`).
    pub volumes: Vec<String>,
}

impl ImageSpec {
    /// The standard test image: `busybox:latest`, `Cmd ["sh"]`.
    pub fn busybox(tag: &str) -> ImageSpec {
        ImageSpec {
            repo_tags: vec![tag.to_string()],
            labels: Vec::new(),
            extra_files: Vec::new(),
            cmd: vec!["sh".into()],
            created: "2024-01-01T00:00:00Z".into(),
            volumes: Vec::new(),
        }
    }

    /// A variant with a marker file and label, so its ID differs from every other variant.
    pub fn variant(tag: &str, marker: &str) -> ImageSpec {
        let mut s = ImageSpec::busybox(tag);
        s.extra_files
            .push(("marker".into(), marker.as_bytes().to_vec()));
        s.labels.push(("shoal.test.marker".into(), marker.into()));
        s
    }

    /// Sets `created` to `2024-01-01` plus `day` days (1..=28), to order images by age.
    pub fn created_day(mut self, day: u32) -> ImageSpec {
        self.created = format!("2024-01-{:02}T00:00:00Z", day.clamp(1, 28));
        self
    }

    /// The rootfs layer as an uncompressed tar.
    pub fn layer_tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (dir, mode) in [
            ("bin", 0o755),
            ("etc", 0o755),
            ("tmp", 0o1777),
            ("root", 0o700),
            ("home", 0o755),
            ("var", 0o755),
            ("var/www", 0o755),
            ("proc", 0o555),
            ("sys", 0o555),
            ("dev", 0o755),
        ] {
            let mut h = header(tar::EntryType::Directory, mode, 0);
            b.append_data(&mut h, format!("{dir}/"), std::io::empty())
                .expect("tar dir");
        }
        let bb = busybox_bytes();
        let mut h = header(tar::EntryType::Regular, 0o755, bb.len() as u64);
        b.append_data(&mut h, "bin/busybox", bb)
            .expect("tar busybox");
        for applet in APPLETS {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            b.append_link(&mut h, format!("bin/{applet}"), "busybox")
                .expect("tar symlink");
        }
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
        let group = "root:x:0:\nnogroup:x:65534:\n";
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("etc/passwd".into(), passwd.into()),
            ("etc/group".into(), group.into()),
        ];
        files.extend(self.extra_files.iter().cloned());
        for (path, data) in files {
            let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
            b.append_data(&mut h, path, data.as_slice())
                .expect("tar file");
        }
        b.into_inner().expect("tar finish")
    }

    /// The image config JSON for a layer with `diff_id`.
    fn config_json(&self, diff_id: &str) -> Vec<u8> {
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let volumes: serde_json::Map<String, serde_json::Value> = self
            .volumes
            .iter()
            .map(|v| (v.clone(), serde_json::json!({})))
            .collect();
        let mut cfg = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": self.created,
            "config": {
                "Cmd": self.cmd,
                "Env": [PATH_ENV],
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [
                {"created": self.created, "created_by": "/bin/sh -c #(nop) ADD busybox-static in /"},
                {"created": self.created, "created_by": format!("/bin/sh -c #(nop)  CMD {:?}", self.cmd), "empty_layer": true},
            ],
        });
        if !volumes.is_empty() {
            cfg["config"]["Volumes"] = serde_json::Value::Object(volumes);
        }
        serde_json::to_vec(&cfg).expect("config json")
    }

    /// A `docker save` archive (`manifest.json`, `<config>.json`, `<layer>/layer.tar`).
    pub fn docker_archive(&self) -> Vec<u8> {
        let layer = self.layer_tar();
        let layer_hex = sha256_hex(&layer);
        let config = self.config_json(&format!("sha256:{layer_hex}"));
        let config_hex = sha256_hex(&config);
        let manifest = serde_json::json!([{
            "Config": format!("{config_hex}.json"),
            "RepoTags": self.repo_tags,
            "Layers": [format!("{layer_hex}/layer.tar")],
        }]);
        let mut b = tar::Builder::new(Vec::new());
        add_file(&mut b, &format!("{layer_hex}/VERSION"), b"1.0");
        add_file(&mut b, &format!("{layer_hex}/layer.tar"), &layer);
        add_file(&mut b, &format!("{config_hex}.json"), &config);
        add_file(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).expect("json"),
        );
        b.into_inner().expect("tar finish")
    }

    /// A plain OCI image-layout archive (`oci-layout`, `index.json`, `blobs/sha256/…`), without
    /// Docker's `manifest.json`, so a loader has to understand OCI itself.
    pub fn oci_archive(&self) -> Vec<u8> {
        let layer = self.layer_tar();
        let layer_hex = sha256_hex(&layer);
        let config = self.config_json(&format!("sha256:{layer_hex}"));
        let config_hex = sha256_hex(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": format!("sha256:{config_hex}"),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{layer_hex}"),
                "size": layer.len(),
            }],
        });
        let manifest = serde_json::to_vec(&manifest).expect("json");
        let manifest_hex = sha256_hex(&manifest);
        let tag = self.repo_tags.first().cloned().unwrap_or_default();
        let (name, short_tag) = match tag.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string()),
            _ => (tag.clone(), "latest".to_string()),
        };
        let full = if name.contains('/') {
            format!("docker.io/{name}:{short_tag}")
        } else {
            format!("docker.io/library/{name}:{short_tag}")
        };
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_hex}"),
                "size": manifest.len(),
                "annotations": {
                    "io.containerd.image.name": full,
                    "org.opencontainers.image.ref.name": short_tag,
                },
            }],
        });
        let mut b = tar::Builder::new(Vec::new());
        add_file(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        add_file(&mut b, &format!("blobs/sha256/{layer_hex}"), &layer);
        add_file(&mut b, &format!("blobs/sha256/{config_hex}"), &config);
        add_file(&mut b, &format!("blobs/sha256/{manifest_hex}"), &manifest);
        add_file(
            &mut b,
            "index.json",
            &serde_json::to_vec(&index).expect("json"),
        );
        b.into_inner().expect("tar finish")
    }

    /// The image ID Docker reports for [`ImageSpec::docker_archive`] (`sha256:` of the config).
    pub fn image_id(&self) -> String {
        let layer = self.layer_tar();
        let config = self.config_json(&format!("sha256:{}", sha256_hex(&layer)));
        format!("sha256:{}", sha256_hex(&config))
    }
}

/// The standard `busybox:latest` archive, built once per test process.
pub fn busybox_archive() -> &'static [u8] {
    static ARCHIVE: OnceLock<Vec<u8>> = OnceLock::new();
    ARCHIVE.get_or_init(|| ImageSpec::busybox("busybox:latest").docker_archive())
}

fn busybox_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        std::fs::read(BUSYBOX).unwrap_or_else(|e| {
            panic!("{BUSYBOX} is needed to build test images (apt-get install busybox-static): {e}")
        })
    })
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn add_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
    b.append_data(&mut h, path, data).expect("tar file");
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_deterministic_and_distinct() {
        let a = ImageSpec::busybox("busybox:latest");
        assert_eq!(a.image_id(), a.image_id());
        let v = ImageSpec::variant("v:1", "one");
        assert_ne!(a.image_id(), v.image_id());
        let mut ar = tar::Archive::new(std::io::Cursor::new(a.docker_archive()));
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    }
}
