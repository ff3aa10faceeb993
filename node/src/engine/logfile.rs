//! The json-file log driver: one JSON object per line
//! (`{"log":"...","stream":"stdout","time":"RFC3339Nano"}`), rotated by
//! `max-size`/`max-file` like dockerd's, and a reader that replays, tails
//! and follows it.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use shoal_api::stream::{OutputChunk, StdStream};

use super::logrotate::RotatingFile;
pub use super::logrotate::files_oldest_first;

/// Rotation settings from `--log-opt max-size=10m --log-opt max-file=3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the current file passes this many bytes (None = never).
    pub max_size: Option<u64>,
    /// How many files to keep, current included (>= 1).
    pub max_file: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: None,
            max_file: 1,
        }
    }
}

/// The most files `max-file` may keep. dockerd sets no bound, but every rotation walks the
/// numbered files and every read opens them, so `max-file=4000000000` would make one write or
/// one `docker logs` take hours; no real log setting comes near this.
pub const MAX_LOG_FILES: u32 = 1000;

/// Parses `max-file` (or `cache-max-file`, named by `key`): 1 to [`MAX_LOG_FILES`].
pub fn parse_max_file(key: &str, v: &str) -> Result<u32, String> {
    let n: u32 = v
        .trim()
        .parse()
        .map_err(|_| format!("invalid value for {key}: {v}"))?;
    if n < 1 {
        return Err(format!("{key} cannot be less than 1"));
    }
    if n > MAX_LOG_FILES {
        return Err(format!(
            "invalid value for {key}: {v} (at most {MAX_LOG_FILES} files)"
        ));
    }
    Ok(n)
}

/// Parses a Docker size (`10`, `10k`, `10m`, `1g`, case-insensitive, optional `b`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024u64),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        Some('g') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size: '{s}'"))?;
    if n < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    Ok((n * mult as f64) as u64)
}

impl Rotation {
    /// From a container's `LogConfig.Config` map; unknown json-file options are an error.
    pub fn from_opts<'a>(
        opts: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Rotation, String> {
        let mut r = Rotation::default();
        for (k, v) in opts {
            match k.as_str() {
                "max-size" => {
                    let n = parse_size(v)?;
                    r.max_size = if n == 0 { None } else { Some(n) };
                }
                "max-file" => r.max_file = parse_max_file("max-file", v)?,
                "labels" | "env" | "env-regex" | "tag" | "compress" | "mode"
                | "max-buffer-size" => {}
                other => {
                    return Err(format!(
                        "unknown log opt '{other}' for json-file log driver"
                    ));
                }
            }
        }
        if r.max_file > 1 && r.max_size.is_none() {
            return Err("max-file cannot be set without max-size".into());
        }
        Ok(r)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

/// Appends output to the container's log, rotating as configured.
#[derive(Debug)]
pub struct LogWriter {
    out: RotatingFile,
}

impl LogWriter {
    /// Opens `path` for appending.
    pub fn open(path: &Path, rotation: Rotation) -> std::io::Result<LogWriter> {
        Ok(LogWriter {
            out: RotatingFile::open(path, rotation, false)?,
        })
    }

    /// Writes one chunk, one entry per line (a trailing partial line is
    /// its own entry, so the concatenated log equals what was written).
    pub fn write(&mut self, chunk: &OutputChunk) -> std::io::Result<()> {
        let stream = match chunk.stream {
            StdStream::Stderr => "stderr",
            _ => "stdout",
        };
        let time = chunk
            .timestamp
            .unwrap_or_else(Utc::now)
            .to_rfc3339_opts(SecondsFormat::Nanos, true);
        let mut buf = Vec::with_capacity(256);
        for piece in chunk.data.split_inclusive(|b| *b == b'\n') {
            buf.clear();
            let entry = Entry {
                log: String::from_utf8_lossy(piece).into_owned(),
                stream: stream.into(),
                time: time.clone(),
            };
            serde_json::to_writer(&mut buf, &entry)?;
            buf.push(b'\n');
            self.out.append(&buf)?;
        }
        Ok(())
    }
}

/// Decodes one log line; None for a torn or foreign line.
pub fn decode_line(line: &str) -> Option<OutputChunk> {
    let e: Entry = serde_json::from_str(line).ok()?;
    let ts = DateTime::parse_from_rfc3339(&e.time)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    Some(OutputChunk {
        stream: if e.stream == "stderr" {
            StdStream::Stderr
        } else {
            StdStream::Stdout
        },
        data: Bytes::from(e.log.into_bytes()),
        timestamp: ts,
    })
}

/// Reads every complete entry of the files; returns the entries and, for
/// the current (last) file, the byte offset after the last complete line
/// so a follower can continue from there.
pub fn read_all(path: &Path) -> (Vec<OutputChunk>, u64) {
    let mut out = Vec::new();
    let mut offset = 0;
    for f in files_oldest_first(path) {
        let Ok(file) = File::open(&f) else { continue };
        let (mut chunks, off) = read_from(file, 0);
        out.append(&mut chunks);
        offset = off;
    }
    (out, offset)
}

/// How far back `--tail` reads the current file before reading it whole instead.
const TAIL_WINDOW_LIMIT: u64 = 64 * 1024 * 1024;

/// The last `n` entries of the current file, read backwards from its end in blocks,
/// and the offset after the last complete line. `None` when the file holds fewer
/// than `n` entries (the caller then reads the rotated files too).
pub fn tail_current(path: &Path, n: usize) -> Option<(Vec<OutputChunk>, u64)> {
    const BLOCK: u64 = 64 * 1024;
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let newlines = buf.iter().filter(|b| **b == b'\n').count();
        if start == 0 || newlines > n {
            // Everything after the first newline (or from the file's start) is whole lines.
            let from = if start == 0 {
                0
            } else {
                buf.iter()
                    .position(|b| *b == b'\n')
                    .map_or(buf.len(), |i| i + 1)
            };
            let body = &buf[from..];
            let end = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let mut out: Vec<OutputChunk> = body[..end]
                .split(|b| *b == b'\n')
                .filter_map(|l| std::str::from_utf8(l).ok().and_then(decode_line))
                .collect();
            if out.len() >= n {
                let skip = out.len() - n;
                out.drain(..skip);
                return Some((out, start + (from + end) as u64));
            }
            if start == 0 {
                return None;
            }
        }
        if len - start >= TAIL_WINDOW_LIMIT {
            return None;
        }
        let step = BLOCK.min(start);
        start -= step;
        let mut block = vec![0u8; usize::try_from(step).ok()?];
        file.seek(SeekFrom::Start(start)).ok()?;
        std::io::Read::read_exact(&mut file, &mut block).ok()?;
        block.extend_from_slice(&buf);
        buf = block;
    }
}

/// Reads complete lines of `file` from `offset`; returns them and the new offset.
pub fn read_from(mut file: File, offset: u64) -> (Vec<OutputChunk>, u64) {
    let mut out = Vec::new();
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (out, offset);
    }
    let mut reader = BufReader::new(file);
    let mut pos = offset;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !line.ends_with('\n') {
                    break; // torn write in progress: read it next time
                }
                pos += n as u64;
                if let Some(c) = decode_line(line.trim_end_matches('\n')) {
                    out.push(c);
                }
            }
        }
    }
    (out, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(s: &str, stream: StdStream) -> OutputChunk {
        OutputChunk {
            stream,
            data: Bytes::from(s.to_owned()),
            timestamp: Some(Utc::now()),
        }
    }

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("10").unwrap(), 10);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("2m").unwrap(), 2 * 1024 * 1024);
        assert_eq!(parse_size("1G").unwrap(), 1024 * 1024 * 1024);
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn write_then_read_round_trips_lines_and_streams() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&p, Rotation::default()).unwrap();
        w.write(&chunk("a\nb\n", StdStream::Stdout)).unwrap();
        w.write(&chunk("err", StdStream::Stderr)).unwrap();
        let (all, off) = read_all(&p);
        assert_eq!(all.len(), 3);
        assert_eq!(&all[0].data[..], b"a\n");
        assert_eq!(&all[2].data[..], b"err");
        assert_eq!(all[2].stream, StdStream::Stderr);
        assert_eq!(off, std::fs::metadata(&p).unwrap().len());
    }

    #[test]
    fn tail_reads_the_end_of_a_big_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&p, Rotation::default()).unwrap();
        for i in 0..20_000 {
            w.write(&chunk(&format!("line {i}\n"), StdStream::Stdout))
                .unwrap();
        }
        let (tail, off) = tail_current(&p, 3).unwrap();
        let got: Vec<_> = tail.iter().map(|c| c.data.clone()).collect();
        assert_eq!(got, ["line 19997\n", "line 19998\n", "line 19999\n"]);
        assert_eq!(off, std::fs::metadata(&p).unwrap().len());
        assert!(tail_current(&p, 50_000).is_none(), "fewer lines than asked");
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let rot = Rotation {
            max_size: Some(100),
            max_file: 3,
        };
        let mut w = LogWriter::open(&p, rot).unwrap();
        for i in 0..50 {
            w.write(&chunk(&format!("line {i}\n"), StdStream::Stdout))
                .unwrap();
        }
        let files = files_oldest_first(&p);
        assert_eq!(files.len(), 3);
        let (all, _) = read_all(&p);
        assert!(all.len() < 50);
        assert_eq!(&all.last().unwrap().data[..], b"line 49\n");
    }

    #[test]
    fn opts_validate() {
        let mut m = std::collections::HashMap::new();
        m.insert("max-size".to_string(), "1k".to_string());
        m.insert("max-file".to_string(), "2".to_string());
        assert_eq!(
            Rotation::from_opts(&m).unwrap(),
            Rotation {
                max_size: Some(1024),
                max_file: 2
            }
        );
        m.insert("max-file".to_string(), "4000000000".to_string());
        let e = Rotation::from_opts(&m).unwrap_err();
        assert!(e.contains("max-file") && e.contains("4000000000"), "{e}");
        m.insert("max-file".to_string(), "1001".to_string());
        assert!(Rotation::from_opts(&m).unwrap_err().contains("max-file"));
        m.insert("max-file".to_string(), "1000".to_string());
        assert_eq!(Rotation::from_opts(&m).unwrap().max_file, 1000);
        m.insert("bogus".to_string(), "1".to_string());
        assert!(Rotation::from_opts(&m).is_err());
    }
}
