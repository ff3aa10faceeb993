//! Daemon flags and daemon.json, merged the way dockerd merges them: a
//! key set both as a flag and in the file is an error, and so is a key
//! the file has that no option matches.

pub mod labels;
pub mod reload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::registry::{RegistryConfig, RegistryFlags};

/// Default socket, as dockerd's `/var/run/docker.sock`.
pub const DEFAULT_HOST: &str = "unix:///run/shoal/docker.sock";
/// Default daemon.json location.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/shoal/daemon.json";

/// `shoal`: a Docker-compatible, swarm-native container engine.
#[derive(Debug, Parser)]
#[command(name = "shoal", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (Docker Engine API over containerd).
    Daemon(DaemonFlags),
}

/// `shoal daemon` flags (dockerd's names where they apply).
#[derive(Debug, Args, Default, Clone)]
pub struct DaemonFlags {
    /// Daemon socket(s) to listen on: unix:///path or tcp://host:port.
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Root of persistent state.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Root of runtime state (FIFOs, sockets).
    #[arg(long)]
    pub exec_root: Option<PathBuf>,
    /// Address of an existing containerd; without it Shoal runs its own.
    #[arg(long)]
    pub containerd: Option<PathBuf>,
    /// containerd namespace for containers and images.
    #[arg(long)]
    pub containerd_namespace: Option<String>,
    /// daemon.json path.
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// PID file.
    #[arg(short = 'p', long)]
    pub pidfile: Option<PathBuf>,
    /// Log level: debug, info, warn, error, fatal.
    #[arg(short = 'l', long)]
    pub log_level: Option<String>,
    /// Debug logging.
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Default log driver for containers (json-file or none).
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Default log driver options (key=value).
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Engine label key=value (repeatable): `docker info` Labels, swarm `engine.labels.*`.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// host:port to serve Prometheus metrics on (`/metrics`).
    #[arg(long)]
    pub metrics_addr: Option<String>,
    /// Serve TCP listeners over TLS (implied by --tlsverify).
    #[arg(long)]
    pub tls: bool,
    /// Serve TLS and require client certificates signed by --tlscacert.
    #[arg(long)]
    pub tlsverify: bool,
    /// CA that client certificates must be signed by.
    #[arg(long)]
    pub tlscacert: Option<PathBuf>,
    /// Server certificate (PEM).
    #[arg(long)]
    pub tlscert: Option<PathBuf>,
    /// Server key (PEM).
    #[arg(long)]
    pub tlskey: Option<PathBuf>,
    /// Group owning the unix socket(s) (default `docker` when it exists).
    #[arg(short = 'G', long)]
    pub group: Option<String>,
    /// Serve plain HTTP on a non-loopback TCP address: anyone who can reach it is root here.
    #[arg(long)]
    pub insecure_tcp_root_for_anyone: bool,
    /// Registry to speak plain HTTP to (`host[:port]` or an IPv4 CIDR).
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Mirror for Docker Hub pulls (`https://host[:port]`).
    #[arg(long = "registry-mirror")]
    pub registry_mirrors: Vec<String>,
    /// Layers downloaded at once per pull (default 3).
    #[arg(long)]
    pub max_concurrent_downloads: Option<usize>,
    /// Layers uploaded at once per push (default 5).
    #[arg(long)]
    pub max_concurrent_uploads: Option<usize>,
    /// Directory of `<host:port>/` registry certificates, replacing
    /// /etc/docker/certs.d and /etc/shoal/certs.d (repeatable).
    #[arg(long = "registry-certs-dir")]
    pub registry_certs_dirs: Vec<PathBuf>,
    /// systemd-journald's native socket for the journald log driver (default
    /// /run/systemd/journal/socket); hidden: tests point it at their own listener.
    #[arg(long, hide = true)]
    pub journald_socket: Option<PathBuf>,
    /// Networking flags.
    #[command(flatten)]
    pub net: crate::net_config::NetFlags,
}

/// The effective daemon configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Listeners.
    pub hosts: Vec<String>,
    /// `--data-root`.
    pub data_root: PathBuf,
    /// `--exec-root`.
    pub exec_root: PathBuf,
    /// External containerd socket.
    pub containerd: Option<PathBuf>,
    /// containerd namespace.
    pub containerd_namespace: String,
    /// PID file.
    pub pidfile: PathBuf,
    /// Log level.
    pub log_level: String,
    /// Debug.
    pub debug: bool,
    /// Default log driver.
    pub log_driver: String,
    /// Default log options.
    pub log_opts: HashMap<String, String>,
    /// Engine labels (`key=value`, validated, no duplicates).
    pub labels: Vec<String>,
    /// `--metrics-addr`.
    pub metrics_addr: Option<String>,
    /// TLS for TCP listeners.
    pub tls: TlsConfig,
    /// `--group` for unix sockets; `None` keeps root's group.
    pub group: Option<String>,
    /// `--insecure-tcp-root-for-anyone`.
    pub insecure_tcp: bool,
    /// Registries: insecure list, mirrors, concurrency, certs.d.
    pub registry: RegistryConfig,
    /// Networking.
    pub net: crate::net_config::NetSettings,
}

/// `--tls*` flags and keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    /// `--tls` (or implied by `verify`).
    pub enabled: bool,
    /// `--tlsverify`: client certificates required.
    pub verify: bool,
    /// `--tlscacert`.
    pub ca: Option<PathBuf>,
    /// `--tlscert`.
    pub cert: Option<PathBuf>,
    /// `--tlskey`.
    pub key: Option<PathBuf>,
}

/// Configuration errors, worded like dockerd's.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("unable to configure the Docker daemon with file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or a key has the wrong type.
    #[error("unable to configure the Docker daemon with file {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Keys no option matches.
    #[error("the following directives don't match any configuration option: {0}")]
    UnknownKeys(String),
    /// Keys set twice.
    #[error(
        "the following directives are specified both as a flag and in the configuration file: {0}"
    )]
    Conflict(String),
    /// A bad value.
    #[error("{0}")]
    Invalid(String),
}

const KNOWN_KEYS: &[&str] = &[
    "hosts",
    "data-root",
    "exec-root",
    "containerd",
    "containerd-namespace",
    "pidfile",
    "log-level",
    "debug",
    "log-driver",
    "log-opts",
    "live-restore",
    "labels",
    "metrics-addr",
    "tls",
    "tlsverify",
    "tlscacert",
    "tlscert",
    "tlskey",
    "group",
    "insecure-registries",
    "registry-mirrors",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
];

fn parse_opts(list: &[String]) -> Result<HashMap<String, String>, ConfigError> {
    let mut out = HashMap::new();
    for kv in list {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            ConfigError::Invalid(format!("invalid log opt '{kv}': expected key=value"))
        })?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

impl DaemonConfig {
    /// Merges flags with the config file (explicit `--config-file`, or the
    /// default path when it exists).
    pub fn load(flags: &DaemonFlags) -> Result<DaemonConfig, ConfigError> {
        let file = match &flags.config_file {
            Some(p) => Some(read_file(p)?),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                Some(read_file(Path::new(DEFAULT_CONFIG_FILE))?)
            }
            None => None,
        };
        Self::merge(flags, file.as_ref())
    }

    /// Flags + parsed file object.
    pub fn merge(
        flags: &DaemonFlags,
        file: Option<&serde_json::Map<String, Value>>,
    ) -> Result<DaemonConfig, ConfigError> {
        let empty = serde_json::Map::new();
        let file = file.unwrap_or(&empty);
        let mut unknown: Vec<&str> = file
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_KEYS.contains(k) && !crate::net_config::NET_KEYS.contains(k))
            .collect();
        unknown.sort();
        if !unknown.is_empty() {
            return Err(ConfigError::UnknownKeys(unknown.join(", ")));
        }
        let mut conflicts = Vec::new();
        let mut check = |key: &str, flag_set: bool| {
            if flag_set && file.contains_key(key) {
                conflicts.push(format!("{key}: (from flag and from file)"));
            }
        };
        check("hosts", !flags.hosts.is_empty());
        check("data-root", flags.data_root.is_some());
        check("exec-root", flags.exec_root.is_some());
        check("containerd", flags.containerd.is_some());
        check("containerd-namespace", flags.containerd_namespace.is_some());
        check("pidfile", flags.pidfile.is_some());
        check("log-level", flags.log_level.is_some());
        check("debug", flags.debug);
        check("log-driver", flags.log_driver.is_some());
        check("log-opts", !flags.log_opts.is_empty());
        check("labels", !flags.labels.is_empty());
        check("metrics-addr", flags.metrics_addr.is_some());
        check("tls", flags.tls);
        check("tlsverify", flags.tlsverify);
        check("tlscacert", flags.tlscacert.is_some());
        check("tlscert", flags.tlscert.is_some());
        check("tlskey", flags.tlskey.is_some());
        check("group", flags.group.is_some());
        check("insecure-registries", !flags.insecure_registries.is_empty());
        check("registry-mirrors", !flags.registry_mirrors.is_empty());
        check(
            "max-concurrent-downloads",
            flags.max_concurrent_downloads.is_some(),
        );
        check(
            "max-concurrent-uploads",
            flags.max_concurrent_uploads.is_some(),
        );
        for (key, set) in crate::net_config::set_keys(&flags.net) {
            check(key, set);
        }
        if !conflicts.is_empty() {
            return Err(ConfigError::Conflict(conflicts.join(", ")));
        }
        let bad = |key: &str, want: &str| ConfigError::Parse {
            path: flags
                .config_file
                .clone()
                .unwrap_or_else(|| DEFAULT_CONFIG_FILE.into()),
            message: format!("{key}: expected {want}"),
        };
        let s = |key: &str| -> Result<Option<String>, ConfigError> {
            match file.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(key, "a string")),
            }
        };
        if let Some(v) = file.get("live-restore") {
            match v {
                Value::Bool(true) => {}
                Value::Bool(false) => {
                    return Err(ConfigError::Invalid(
                        "live-restore cannot be disabled: Shoal always keeps containers running across daemon restarts".into(),
                    ));
                }
                _ => return Err(bad("live-restore", "a boolean")),
            }
        }
        let hosts = if !flags.hosts.is_empty() {
            flags.hosts.clone()
        } else if let Some(v) = file.get("hosts") {
            let arr = v
                .as_array()
                .ok_or_else(|| bad("hosts", "a list of strings"))?;
            arr.iter()
                .map(|h| {
                    h.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("hosts", "a list of strings"))
                })
                .collect::<Result<_, _>>()?
        } else {
            vec![DEFAULT_HOST.to_owned()]
        };
        let b = |key: &str| -> Result<bool, ConfigError> {
            match file.get(key) {
                None => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(bad(key, "a boolean")),
            }
        };
        let debug = flags.debug || b("debug")?;
        let labels = if !flags.labels.is_empty() {
            flags.labels.clone()
        } else {
            match file.get("labels") {
                None => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|l| {
                        l.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad("labels", "a list of strings"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("labels", "a list of strings")),
            }
        };
        let labels = labels::validate(&labels)?;
        let path = |flag: &Option<PathBuf>, key: &str| -> Result<Option<PathBuf>, ConfigError> {
            Ok(flag.clone().or(s(key)?.map(PathBuf::from)))
        };
        let verify = flags.tlsverify || b("tlsverify")?;
        let tls = TlsConfig {
            enabled: flags.tls || b("tls")? || verify,
            verify,
            ca: path(&flags.tlscacert, "tlscacert")?,
            cert: path(&flags.tlscert, "tlscert")?,
            key: path(&flags.tlskey, "tlskey")?,
        };
        let log_opts = if !flags.log_opts.is_empty() {
            parse_opts(&flags.log_opts)?
        } else if let Some(v) = file.get("log-opts") {
            let obj = v
                .as_object()
                .ok_or_else(|| bad("log-opts", "an object of strings"))?;
            obj.iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_owned()))
                        .ok_or_else(|| bad("log-opts", "an object of strings"))
                })
                .collect::<Result<_, _>>()?
        } else {
            HashMap::new()
        };
        let log_driver = flags
            .log_driver
            .clone()
            .or(s("log-driver")?)
            .unwrap_or_else(|| "json-file".into());
        crate::engine::logdriver::parse(&log_driver, &log_opts).map_err(ConfigError::Invalid)?;
        let log_level = flags
            .log_level
            .clone()
            .or(s("log-level")?)
            .unwrap_or_else(|| "info".into());
        if !["debug", "info", "warn", "error", "fatal", "trace", "panic"]
            .contains(&log_level.as_str())
        {
            return Err(ConfigError::Invalid(format!(
                "unable to parse logging level: {log_level}"
            )));
        }
        let registry = RegistryConfig::merge(
            &RegistryFlags {
                insecure_registries: flags.insecure_registries.clone(),
                registry_mirrors: flags.registry_mirrors.clone(),
                max_concurrent_downloads: flags.max_concurrent_downloads,
                max_concurrent_uploads: flags.max_concurrent_uploads,
                certs_dirs: flags.registry_certs_dirs.clone(),
            },
            file,
        )
        .map_err(ConfigError::Invalid)?;
        Ok(DaemonConfig {
            registry,
            hosts,
            data_root: flags
                .data_root
                .clone()
                .or(s("data-root")?.map(PathBuf::from))
                .unwrap_or_else(|| "/var/lib/shoal".into()),
            exec_root: flags
                .exec_root
                .clone()
                .or(s("exec-root")?.map(PathBuf::from))
                .unwrap_or_else(|| "/run/shoal".into()),
            containerd: flags
                .containerd
                .clone()
                .or(s("containerd")?.map(PathBuf::from)),
            containerd_namespace: flags
                .containerd_namespace
                .clone()
                .or(s("containerd-namespace")?)
                .unwrap_or_else(|| "shoal".into()),
            pidfile: flags
                .pidfile
                .clone()
                .or(s("pidfile")?.map(PathBuf::from))
                .unwrap_or_else(|| "/run/shoal/shoal.pid".into()),
            log_level,
            debug,
            log_driver,
            log_opts,
            labels,
            metrics_addr: flags.metrics_addr.clone().or(s("metrics-addr")?),
            tls,
            group: flags.group.clone().or(s("group")?),
            insecure_tcp: flags.insecure_tcp_root_for_anyone,
            net: crate::net_config::merge(&flags.net, file)?,
        })
    }
}

fn read_file(path: &Path) -> Result<serde_json::Map<String, Value>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ConfigError::Parse {
            path: path.to_owned(),
            message: "expected a JSON object".into(),
        }),
        Err(e) => Err(ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> serde_json::Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn defaults_match_the_issue() {
        let c = DaemonConfig::merge(&DaemonFlags::default(), None).unwrap();
        assert_eq!(c.hosts, vec![DEFAULT_HOST.to_string()]);
        assert_eq!(c.data_root, PathBuf::from("/var/lib/shoal"));
        assert_eq!(c.exec_root, PathBuf::from("/run/shoal"));
        assert_eq!(c.containerd_namespace, "shoal");
        assert_eq!(c.log_driver, "json-file");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = DaemonConfig::merge(&DaemonFlags::default(), Some(&obj(r#"{"bogus-key":1}"#)))
            .unwrap_err();
        assert!(e.to_string().contains("bogus-key"), "{e}");
    }

    #[test]
    fn flag_and_file_conflict() {
        let flags = DaemonFlags {
            data_root: Some("/a".into()),
            ..Default::default()
        };
        let e = DaemonConfig::merge(&flags, Some(&obj(r#"{"data-root":"/b"}"#))).unwrap_err();
        assert!(e.to_string().contains("data-root"));
    }

    #[test]
    fn file_values_apply() {
        let c = DaemonConfig::merge(
            &DaemonFlags::default(),
            Some(&obj(
                r#"{"hosts":["unix:///tmp/x.sock"],"log-opts":{"max-size":"1m"},"debug":true}"#,
            )),
        )
        .unwrap();
        assert_eq!(c.hosts, vec!["unix:///tmp/x.sock".to_string()]);
        assert_eq!(c.log_opts["max-size"], "1m");
        assert!(c.debug);
    }
}
