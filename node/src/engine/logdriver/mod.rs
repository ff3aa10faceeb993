//! Log drivers: which ones Shoal has, their options (checked at create, with
//! dockerd's wording), and where `docker logs` reads from.
//!
//! ```text
//! json-file ─> <id>-json.log (logfile.rs)          docker logs reads it
//! local     ─> local-logs/container.log (local.rs)  docker logs reads it
//! syslog    ─> syslog.rs  + dual-logging cache container-cached.log (local format)
//!              unless cache-disabled=true
//! journald  ─> journald.rs (native protocol) + the same dual-logging cache;
//!              refused at create where the host has no journald socket
//! none      ─> nothing
//! ```

pub mod journald;
pub mod local;
pub mod syslog;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use shoal_api::stream::OutputChunk;

use super::logfile::{self, Rotation};

/// The drivers Shoal has on this host (`docker info` Plugins.Log): journald only where
/// systemd-journald's socket is there.
pub fn drivers() -> Vec<&'static str> {
    let mut d = vec!["json-file", "local", "none", "syslog"];
    if journald::available() {
        d.insert(1, "journald");
    }
    d
}

/// How a container's log is kept on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// local.rs records.
    Local,
}

/// A log file the daemon writes and `docker logs` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// Record format.
    pub format: Format,
    /// Size and count limits.
    pub rotation: Rotation,
    /// Gzip rotated files (local format only).
    pub compress: bool,
}

/// A container's logging, from `HostConfig.LogConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// Driver name.
    pub driver: String,
    /// The readable file (the driver's own, or the dual-logging cache); `None` when
    /// `docker logs` cannot read this driver.
    pub file: Option<FileSpec>,
    /// Where output is shipped besides the readable file (syslog, journald).
    pub remote: Option<RemoteSpec>,
}

/// A driver that ships output off the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSpec {
    /// Syslog delivery.
    Syslog(syslog::SyslogSpec),
    /// Journal entries; the `tag` template.
    Journald {
        /// `tag` (expanded per container; default `{{.ID}}`).
        tag: String,
    },
}

/// The open connection of a [`RemoteSpec`] for one container.
#[derive(Debug)]
pub enum RemoteLog {
    /// Syslog.
    Syslog(syslog::SyslogWriter),
    /// journald.
    Journald(journald::JournalWriter),
}

impl RemoteLog {
    /// Connects for a container (a server that is not there fails the start, as with
    /// dockerd); the error names the driver.
    pub fn connect(spec: &RemoteSpec, info: TagInfo<'_>) -> Result<RemoteLog, String> {
        match spec {
            RemoteSpec::Syslog(s) => syslog::SyslogWriter::connect(s, expand_tag(&s.tag, info))
                .map(RemoteLog::Syslog)
                .map_err(|e| format!("failed to initialize logging driver: syslog: {e}")),
            RemoteSpec::Journald { tag } => {
                journald::JournalWriter::connect(&journald::JournalFields {
                    id: info.id.to_owned(),
                    name: info.name.to_owned(),
                    tag: expand_tag(tag, info),
                    image_name: info.image_name.to_owned(),
                })
                .map(RemoteLog::Journald)
                .map_err(|e| {
                    format!(
                        "failed to initialize logging driver: journald: {}: {e}",
                        journald::socket().display()
                    )
                })
            }
        }
    }

    /// Ships one chunk, line by line.
    pub fn write(&mut self, chunk: &OutputChunk) -> std::io::Result<()> {
        match self {
            RemoteLog::Syslog(w) => w.write(chunk),
            RemoteLog::Journald(w) => w.write(chunk),
        }
    }

    /// The driver's name, for log messages.
    pub fn driver(&self) -> &'static str {
        match self {
            RemoteLog::Syslog(_) => "syslog",
            RemoteLog::Journald(_) => "journald",
        }
    }
}

fn unknown(opt: &str, driver: &str) -> String {
    format!("unknown log opt '{opt}' for {driver} log driver")
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("invalid value for {key}: {v}")),
    }
}

fn rotation(
    file_key: &str,
    max_size: Option<&String>,
    max_file: Option<&String>,
    default_size: u64,
    default_files: u32,
) -> Result<Rotation, String> {
    let size = match max_size {
        Some(v) => logfile::parse_size(v)?,
        None => default_size,
    };
    let files = match max_file {
        Some(v) => logfile::parse_max_file(file_key, v)?,
        None => default_files,
    };
    Ok(Rotation {
        max_size: (size > 0).then_some(size),
        max_file: files,
    })
}

/// The dual-logging cache options (`cache-*`), shared by drivers that cannot be read.
fn cache(opts: &HashMap<String, String>) -> Result<Option<FileSpec>, String> {
    if opts
        .get("cache-disabled")
        .map(|v| parse_bool("cache-disabled", v))
        .transpose()?
        == Some(true)
    {
        return Ok(None);
    }
    let rotation = rotation(
        "cache-max-file",
        opts.get("cache-max-size"),
        opts.get("cache-max-file"),
        20 * 1024 * 1024,
        5,
    )?;
    let compress = opts
        .get("cache-compress")
        .map(|v| parse_bool("cache-compress", v))
        .transpose()?
        .unwrap_or(true);
    Ok(Some(FileSpec {
        format: Format::Local,
        rotation,
        compress,
    }))
}

const CACHE_OPTS: &[&str] = &[
    "cache-disabled",
    "cache-max-size",
    "cache-max-file",
    "cache-compress",
];

/// Checks `driver` and its options; the error is dockerd's message.
pub fn parse(driver: &str, opts: &HashMap<String, String>) -> Result<DriverConfig, String> {
    let driver = if driver.is_empty() {
        "json-file"
    } else {
        driver
    };
    let only = |allowed: &[&str]| -> Result<(), String> {
        let mut keys: Vec<&String> = opts.keys().collect();
        keys.sort();
        match keys.into_iter().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(unknown(k, driver)),
            None => Ok(()),
        }
    };
    let cfg = |file, remote| DriverConfig {
        driver: driver.to_owned(),
        file,
        remote,
    };
    match driver {
        "json-file" => Ok(cfg(
            Some(FileSpec {
                format: Format::Json,
                rotation: Rotation::from_opts(opts)?,
                compress: false,
            }),
            None,
        )),
        "local" => {
            only(&["max-size", "max-file", "compress"])?;
            let rotation = rotation(
                "max-file",
                opts.get("max-size"),
                opts.get("max-file"),
                20 * 1024 * 1024,
                5,
            )?;
            let compress = opts
                .get("compress")
                .map(|v| parse_bool("compress", v))
                .transpose()?
                .unwrap_or(true);
            Ok(cfg(
                Some(FileSpec {
                    format: Format::Local,
                    rotation,
                    compress,
                }),
                None,
            ))
        }
        "syslog" => {
            let mut allowed = vec!["syslog-address", "syslog-format", "syslog-facility", "tag"];
            allowed.extend_from_slice(CACHE_OPTS);
            only(&allowed)?;
            let get = |k: &str| opts.get(k).map(String::as_str).unwrap_or("");
            let spec = syslog::SyslogSpec {
                address: syslog::parse_address(get("syslog-address"))?,
                format: syslog::parse_format(get("syslog-format"))?,
                facility: syslog::parse_facility(get("syslog-facility"))?,
                tag: check_tag(get("tag"))?,
            };
            Ok(cfg(cache(opts)?, Some(RemoteSpec::Syslog(spec))))
        }
        "none" => {
            only(&[])?;
            Ok(cfg(None, None))
        }
        "journald" => {
            // dockerd's journald options that need the container's labels or environment
            // in the entry are not carried yet: refused by name rather than ignored.
            for k in ["labels", "labels-regex", "env", "env-regex"] {
                if opts.contains_key(k) {
                    return Err(format!(
                        "log opt '{k}' of the journald log driver is not supported by Shoal"
                    ));
                }
            }
            let mut allowed = vec!["tag"];
            allowed.extend_from_slice(CACHE_OPTS);
            only(&allowed)?;
            if !journald::available() {
                return Err(format!(
                    "logger: journald is not enabled on this host ({} does not exist)",
                    journald::socket().display()
                ));
            }
            let tag = check_tag(opts.get("tag").map(String::as_str).unwrap_or(""))?;
            Ok(cfg(cache(opts)?, Some(RemoteSpec::Journald { tag })))
        }
        other => Err(format!(
            "logger: no log driver named '{other}' is registered"
        )),
    }
}

/// The open readable log of a running container.
#[derive(Debug)]
pub enum FileLog {
    /// json-file.
    Json(logfile::LogWriter),
    /// local format (the local driver, or a dual-logging cache).
    Local(local::LocalWriter),
}

impl FileLog {
    /// Opens (creating) the file at `path` for `spec`.
    pub fn open(path: &Path, spec: FileSpec) -> std::io::Result<FileLog> {
        Ok(match spec.format {
            Format::Json => FileLog::Json(logfile::LogWriter::open(path, spec.rotation)?),
            Format::Local => FileLog::Local(local::LocalWriter::open(
                path,
                spec.rotation,
                spec.compress,
            )?),
        })
    }

    /// Appends one chunk.
    pub fn write(&mut self, chunk: &OutputChunk) -> std::io::Result<()> {
        match self {
            FileLog::Json(w) => w.write(chunk),
            FileLog::Local(w) => w.write(chunk),
        }
    }
}

/// The tag template fields Shoal expands (dockerd's Go template, its common fields).
const TAG_FIELDS: &[&str] = &[
    "{{.ID}}",
    "{{.FullID}}",
    "{{.Name}}",
    "{{.ImageName}}",
    "{{.ImageID}}",
    "{{.ImageFullID}}",
    "{{.DaemonName}}",
];

fn check_tag(tag: &str) -> Result<String, String> {
    let mut rest = tag.to_owned();
    for f in TAG_FIELDS {
        rest = rest.replace(f, "");
    }
    if rest.contains("{{") {
        return Err(format!(
            "tag {tag:?}: only these template fields are supported: {}",
            TAG_FIELDS.join(" ")
        ));
    }
    Ok(tag.to_owned())
}

/// Facts a tag expands from.
#[derive(Debug, Clone, Copy)]
pub struct TagInfo<'a> {
    /// Full container ID.
    pub id: &'a str,
    /// Name without the slash.
    pub name: &'a str,
    /// Image as given.
    pub image_name: &'a str,
    /// Image ID (`sha256:...`).
    pub image_id: &'a str,
}

/// Expands a tag (default `{{.ID}}`, the 12-character ID, as dockerd).
pub fn expand_tag(tag: &str, info: TagInfo<'_>) -> String {
    let tag = if tag.is_empty() { "{{.ID}}" } else { tag };
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let image_hex = info.image_id.trim_start_matches("sha256:");
    tag.replace("{{.ID}}", &short(info.id))
        .replace("{{.FullID}}", info.id)
        .replace("{{.Name}}", info.name)
        .replace("{{.ImageName}}", info.image_name)
        .replace("{{.ImageID}}", &short(image_hex))
        .replace("{{.ImageFullID}}", info.image_id)
        .replace("{{.DaemonName}}", "docker")
}

/// Where the readable file of a container lives.
pub fn file_path(container_dir: &Path, id: &str, cfg: &DriverConfig) -> PathBuf {
    match (cfg.driver.as_str(), cfg.file.map(|f| f.format)) {
        ("local", _) => container_dir.join("local-logs").join("container.log"),
        (_, Some(Format::Local)) => container_dir.join("container-cached.log"),
        _ => container_dir.join(format!("{id}-json.log")),
    }
}

/// Every entry of the file and its rotations, oldest first, and the offset in the current file.
pub fn read_all(path: &Path, format: Format) -> (Vec<OutputChunk>, u64) {
    match format {
        Format::Json => logfile::read_all(path),
        Format::Local => local::read_all(path),
    }
}

/// The last `n` entries; reads only the end of the current file when it holds enough.
pub fn read_tail(path: &Path, format: Format, n: usize) -> (Vec<OutputChunk>, u64) {
    let fast = match format {
        Format::Json => logfile::tail_current(path, n),
        Format::Local => local::tail_current(path, n),
    };
    if let Some(t) = fast {
        return t;
    }
    let (mut all, off) = read_all(path, format);
    let start = all.len().saturating_sub(n);
    all.drain(..start);
    (all, off)
}

/// Complete entries of the current file from `offset`, and the new offset.
pub fn read_from(file: std::fs::File, offset: u64, format: Format) -> (Vec<OutputChunk>, u64) {
    match format {
        Format::Json => logfile::read_from(file, offset),
        Format::Local => local::read_from(file, offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn drivers_and_options_are_checked_with_dockerd_wording() {
        assert_eq!(
            parse("nope", &opts(&[])).unwrap_err(),
            "logger: no log driver named 'nope' is registered"
        );
        assert_eq!(
            parse("local", &opts(&[("bogus", "1")])).unwrap_err(),
            "unknown log opt 'bogus' for local log driver"
        );
        assert_eq!(
            parse("none", &opts(&[("max-size", "1m")])).unwrap_err(),
            "unknown log opt 'max-size' for none log driver"
        );
        let l = parse("local", &opts(&[])).unwrap();
        assert_eq!(
            l.file.unwrap().rotation,
            Rotation {
                max_size: Some(20 * 1024 * 1024),
                max_file: 5
            }
        );
        let s = parse(
            "syslog",
            &opts(&[
                ("syslog-address", "udp://127.0.0.1:5514"),
                ("cache-disabled", "true"),
            ]),
        )
        .unwrap();
        assert!(s.file.is_none());
        assert!(parse("syslog", &opts(&[("tag", "{{.Bogus}}")])).is_err());
        // An absurd file count is refused by name, for every driver that keeps files.
        let e = parse("local", &opts(&[("max-file", "99999999")])).unwrap_err();
        assert!(e.contains("max-file") && e.contains("99999999"), "{e}");
        let e = parse(
            "syslog",
            &opts(&[
                ("syslog-address", "udp://127.0.0.1:5514"),
                ("cache-max-file", "99999999"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("cache-max-file"), "{e}");
        assert!(
            parse("journald", &opts(&[]))
                .unwrap_err()
                .contains("journald")
        );
    }

    #[test]
    fn tags_expand() {
        let info = TagInfo {
            id: "0123456789abcdef",
            name: "web",
            image_name: "busybox",
            image_id: "sha256:feedfacecafebeef00",
        };
        assert_eq!(expand_tag("", info), "0123456789ab");
        assert_eq!(expand_tag("{{.Name}}/{{.ImageName}}", info), "web/busybox");
    }
}
