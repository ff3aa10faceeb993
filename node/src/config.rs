//! Daemon flags and daemon.json, merged the way dockerd merges them: a
//! key set both as a flag and in the file is an error, and so is a key
//! the file has that no option matches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

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
            .filter(|k| !KNOWN_KEYS.contains(k))
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
        let debug = flags.debug
            || match file.get("debug") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(bad("debug", "a boolean")),
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
        if !["json-file", "none"].contains(&log_driver.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "logger: no log driver named '{log_driver}' is registered"
            )));
        }
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
        Ok(DaemonConfig {
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
