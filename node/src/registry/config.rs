//! Registry settings from daemon.json and flags, as dockerd names them.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The certs.d directories dockerd reads, then Shoal's own.
pub const DEFAULT_CERTS_DIRS: &[&str] = &["/etc/docker/certs.d", "/etc/shoal/certs.d"];
/// dockerd's default `max-concurrent-downloads`.
pub const DEFAULT_DOWNLOADS: usize = 3;
/// dockerd's default `max-concurrent-uploads`.
pub const DEFAULT_UPLOADS: usize = 5;

/// How Shoal talks to registries.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryConfig {
    /// `host[:port]` or IPv4 CIDR ranges spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Mirrors for Docker Hub names, as `host[:port]`, tried in order.
    pub registry_mirrors: Vec<String>,
    /// Layers fetched at once per pull.
    pub max_concurrent_downloads: usize,
    /// Layers sent at once per push.
    pub max_concurrent_uploads: usize,
    /// Directories holding `<host:port>/` with `*.crt` CAs and
    /// `*.cert`/`*.key` client pairs; the first that has the host wins.
    pub certs_dirs: Vec<PathBuf>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            max_concurrent_downloads: DEFAULT_DOWNLOADS,
            max_concurrent_uploads: DEFAULT_UPLOADS,
            certs_dirs: DEFAULT_CERTS_DIRS.iter().map(PathBuf::from).collect(),
        }
    }
}

/// Registry flags (each also settable in daemon.json, except the certs
/// directory override).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryFlags {
    /// `--insecure-registry`.
    pub insecure_registries: Vec<String>,
    /// `--registry-mirror`.
    pub registry_mirrors: Vec<String>,
    /// `--max-concurrent-downloads`.
    pub max_concurrent_downloads: Option<usize>,
    /// `--max-concurrent-uploads`.
    pub max_concurrent_uploads: Option<usize>,
    /// `--registry-certs-dir` (Shoal's): replaces the certs.d directories,
    /// so tests and unusual layouts need not touch /etc/docker.
    pub certs_dirs: Vec<PathBuf>,
}

impl RegistryConfig {
    /// Merges flags over daemon.json's keys. Errors name the key.
    pub fn merge(
        flags: &RegistryFlags,
        file: &serde_json::Map<String, Value>,
    ) -> Result<RegistryConfig, String> {
        let strings = |key: &str| -> Result<Vec<String>, String> {
            match file.get(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("{key}: expected a list of strings"))
                    })
                    .collect(),
                Some(_) => Err(format!("{key}: expected a list of strings")),
            }
        };
        let count = |key: &str, flag: Option<usize>, default: usize| -> Result<usize, String> {
            let n = match (flag, file.get(key)) {
                (Some(n), _) => n,
                (None, None) => default,
                (None, Some(v)) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| format!("{key}: expected a positive integer"))?,
            };
            if n == 0 {
                return Err(format!("invalid {key}: {n}: it must be a positive integer"));
            }
            Ok(n)
        };
        let mut insecure = strings("insecure-registries")?;
        insecure.extend(flags.insecure_registries.iter().cloned());
        for entry in &insecure {
            validate_insecure(entry)?;
        }
        let mut mirrors = Vec::new();
        for m in strings("registry-mirrors")?
            .iter()
            .chain(flags.registry_mirrors.iter())
        {
            let (host, plain) = parse_mirror(m)?;
            if plain && !insecure.contains(&host) {
                insecure.push(host.clone());
            }
            mirrors.push(host);
        }
        Ok(RegistryConfig {
            insecure_registries: insecure,
            registry_mirrors: mirrors,
            max_concurrent_downloads: count(
                "max-concurrent-downloads",
                flags.max_concurrent_downloads,
                DEFAULT_DOWNLOADS,
            )?,
            max_concurrent_uploads: count(
                "max-concurrent-uploads",
                flags.max_concurrent_uploads,
                DEFAULT_UPLOADS,
            )?,
            certs_dirs: if flags.certs_dirs.is_empty() {
                RegistryConfig::default().certs_dirs
            } else {
                flags.certs_dirs.clone()
            },
        })
    }

    /// True when `host` is to be spoken to over plain HTTP.
    pub fn is_insecure(&self, host: &str) -> bool {
        self.insecure_registries.iter().any(|e| {
            e == host
                || match e.split_once('/') {
                    Some((net, bits)) => in_cidr(host, net, bits),
                    None => false,
                }
        })
    }

    /// The certs.d directory for `host`, if one of the configured roots
    /// has it.
    pub fn certs_dir(&self, host: &str) -> Option<PathBuf> {
        self.certs_dirs
            .iter()
            .map(|d| d.join(host))
            .find(|d| Path::new(d).is_dir())
    }
}

fn validate_insecure(entry: &str) -> Result<(), String> {
    if entry.contains("://") {
        return Err(format!(
            "insecure registry {entry} should not contain '://'"
        ));
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let ok =
            net.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32);
        if !ok {
            return Err(format!(
                "invalid insecure registry {entry}: only IPv4 CIDR ranges and host[:port] are supported"
            ));
        }
    }
    Ok(())
}

/// `https://mirror.example.com/` -> (`mirror.example.com`, plain HTTP?).
fn parse_mirror(url: &str) -> Result<(String, bool), String> {
    let (plain, rest) = if let Some(r) = url.strip_prefix("http://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (false, r)
    } else {
        return Err(format!(
            "invalid mirror: unsupported scheme in {url}: it must be http:// or https://"
        ));
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "invalid mirror: path, query or fragment in {url} is not allowed"
        ));
    }
    Ok((host.to_owned(), plain))
}

fn in_cidr(host: &str, net: &str, bits: &str) -> bool {
    let ip = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let (Ok(ip), Ok(net), Ok(bits)) = (
        ip.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits.min(32))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_and_flags_merge() {
        let file: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"insecure-registries":["10.1.0.0/16","reg:5000"],
                "registry-mirrors":["http://127.0.0.1:5001/"],
                "max-concurrent-downloads":5}"#,
        )
        .unwrap();
        let c = RegistryConfig::merge(&RegistryFlags::default(), &file).unwrap();
        assert!(c.is_insecure("reg:5000"));
        assert!(c.is_insecure("10.1.2.3:443"));
        assert!(!c.is_insecure("10.2.0.1"));
        assert!(c.is_insecure("127.0.0.1:5001"));
        assert_eq!(c.registry_mirrors, vec!["127.0.0.1:5001".to_owned()]);
        assert_eq!(c.max_concurrent_downloads, 5);
        assert_eq!(c.max_concurrent_uploads, DEFAULT_UPLOADS);
    }

    #[test]
    fn bad_values_are_named() {
        let file: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"max-concurrent-downloads":0}"#).unwrap();
        let e = RegistryConfig::merge(&RegistryFlags::default(), &file).unwrap_err();
        assert!(e.contains("max-concurrent-downloads"), "{e}");
        let file: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"registry-mirrors":["ftp://x"]}"#).unwrap();
        assert!(RegistryConfig::merge(&RegistryFlags::default(), &file).is_err());
        let file: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"insecure-registries":["http://x"]}"#).unwrap();
        assert!(RegistryConfig::merge(&RegistryFlags::default(), &file).is_err());
    }
}
