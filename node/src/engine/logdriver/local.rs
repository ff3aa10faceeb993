//! The `local` log format: compact binary records, rotated and (by default) gzipped.
//!
//! One record is `[len u32 BE][stream u8][time i64 BE, unix nanos][data][len u32 BE]`
//! with `len = 9 + data.len()`. The trailing length lets `--tail` walk back from the end
//! of a file without reading it all. Rotated files are `<path>.1[.gz]`, `<path>.2[.gz]`...,
//! newest first, like dockerd's local driver.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use shoal_api::stream::{OutputChunk, StdStream};

use super::super::logfile::Rotation;
use super::super::logrotate::{RotatingFile, files_oldest_first};

/// Largest record accepted when reading; anything larger is a corrupt length.
const MAX_RECORD: u32 = 16 * 1024 * 1024;

/// Appends records to a local-format file, rotating by size.
#[derive(Debug)]
pub struct LocalWriter {
    out: RotatingFile,
}

fn encode(chunk: &OutputChunk, buf: &mut Vec<u8>) {
    let len = u32::try_from(9 + chunk.data.len()).unwrap_or(u32::MAX);
    let stream = match chunk.stream {
        StdStream::Stderr => 2u8,
        _ => 1u8,
    };
    let ts = chunk
        .timestamp
        .unwrap_or_else(Utc::now)
        .timestamp_nanos_opt()
        .unwrap_or(0);
    buf.clear();
    buf.extend_from_slice(&len.to_be_bytes());
    buf.push(stream);
    buf.extend_from_slice(&ts.to_be_bytes());
    buf.extend_from_slice(&chunk.data);
    buf.extend_from_slice(&len.to_be_bytes());
}

impl LocalWriter {
    /// Opens `path` for appending (mode 0640, as dockerd's log files).
    pub fn open(path: &Path, rotation: Rotation, compress: bool) -> std::io::Result<LocalWriter> {
        Ok(LocalWriter {
            out: RotatingFile::open(path, rotation, compress)?,
        })
    }

    /// Writes one record per line of the chunk (a trailing partial line is its own
    /// record, so the concatenated log equals what was written).
    pub fn write(&mut self, chunk: &OutputChunk) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(256);
        for piece in chunk.data.split_inclusive(|b| *b == b'\n') {
            let line = OutputChunk {
                stream: chunk.stream,
                data: chunk.data.slice_ref(piece),
                timestamp: chunk.timestamp,
            };
            encode(&line, &mut buf);
            self.out.append(&buf)?;
        }
        Ok(())
    }
}

fn decode(rec: &[u8]) -> Option<OutputChunk> {
    let stream = match *rec.first()? {
        2 => StdStream::Stderr,
        _ => StdStream::Stdout,
    };
    let ts = i64::from_be_bytes(rec.get(1..9)?.try_into().ok()?);
    Some(OutputChunk {
        stream,
        data: Bytes::copy_from_slice(rec.get(9..)?),
        timestamp: Some(DateTime::<Utc>::from_timestamp_nanos(ts)),
    })
}

/// Parses complete records in `buf`; returns them and the bytes consumed.
fn parse(buf: &[u8]) -> (Vec<OutputChunk>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= buf.len() {
        let len = u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
        if !(9..=MAX_RECORD).contains(&len) {
            break; // corrupt: stop rather than misread what follows
        }
        let end = pos + 4 + len as usize + 4;
        if end > buf.len() {
            break; // torn write in progress
        }
        if let Some(c) = decode(&buf[pos + 4..pos + 4 + len as usize]) {
            out.push(c);
        }
        pos = end;
    }
    (out, pos)
}

/// Reads the complete records of `file` from `offset`; returns them and the new offset.
pub fn read_from(mut file: File, offset: u64) -> (Vec<OutputChunk>, u64) {
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(offset)).is_err() || file.read_to_end(&mut buf).is_err() {
        return (Vec::new(), offset);
    }
    let (chunks, used) = parse(&buf);
    (chunks, offset + used as u64)
}

/// Every record of one file (gzipped or not).
fn read_file(path: &Path) -> Vec<OutputChunk> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    if path.extension().is_some_and(|e| e == "gz") {
        let mut buf = Vec::new();
        if flate2::read::GzDecoder::new(file)
            .read_to_end(&mut buf)
            .is_err()
        {
            return Vec::new();
        }
        parse(&buf).0
    } else {
        read_from(file, 0).0
    }
}

/// The last `n` records of the current file, read backwards from its end, and
/// the offset after them; `None` when the file holds fewer than `n` (the caller
/// then reads the rotated files too).
pub fn tail_current(path: &Path, n: usize) -> Option<(Vec<OutputChunk>, u64)> {
    let mut file = File::open(path).ok()?;
    let end = file.metadata().ok()?.len();
    // Walk back by the trailing lengths, checking each record's leading length.
    let mut pos = end;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        if pos < 4 {
            return None;
        }
        let mut len = [0u8; 4];
        file.seek(SeekFrom::Start(pos - 4)).ok()?;
        file.read_exact(&mut len).ok()?;
        let len = u32::from_be_bytes(len);
        if !(9..=MAX_RECORD).contains(&len) || pos < 8 + u64::from(len) {
            return None; // torn tail or corruption: fall back to a forward read
        }
        let start = pos - 8 - u64::from(len);
        let mut rec = vec![0u8; 4 + len as usize];
        file.seek(SeekFrom::Start(start)).ok()?;
        file.read_exact(&mut rec).ok()?;
        if rec[..4] != len.to_be_bytes() {
            return None;
        }
        out.push(decode(&rec[4..])?);
        pos = start;
    }
    out.reverse();
    Some((out, end))
}

/// Every record of every file, oldest first, and the offset in the current file.
pub fn read_all(path: &Path) -> (Vec<OutputChunk>, u64) {
    let files = files_oldest_first(path);
    let mut out = Vec::new();
    for f in &files[..files.len() - 1] {
        out.extend(read_file(f));
    }
    let (cur, off) = File::open(path)
        .map(|f| read_from(f, 0))
        .unwrap_or((Vec::new(), 0));
    out.extend(cur);
    (out, off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn chunk(s: &str) -> OutputChunk {
        OutputChunk {
            stream: StdStream::Stdout,
            data: Bytes::from(s.to_owned()),
            timestamp: Some(Utc::now()),
        }
    }

    #[test]
    fn rotates_compresses_and_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let rot = Rotation {
            max_size: Some(200),
            max_file: 3,
        };
        let mut w = LocalWriter::open(&p, rot, true).unwrap();
        for i in 0..100 {
            w.write(&chunk(&format!("line {i}\n"))).unwrap();
        }
        let files = files_oldest_first(&p);
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(files[0].to_string_lossy().ends_with(".2.gz"));
        let (all, off) = read_all(&p);
        assert_eq!(off, std::fs::metadata(&p).unwrap().len());
        assert_eq!(&all.last().unwrap().data[..], b"line 99\n");
        let nums: Vec<u32> = all
            .iter()
            .map(|c| {
                String::from_utf8_lossy(&c.data)
                    .trim()
                    .trim_start_matches("line ")
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
        let (tail, end) = tail_current(&p, 2).unwrap();
        assert_eq!(end, off);
        assert_eq!(&tail[0].data[..], b"line 98\n");
        assert_eq!(&tail[1].data[..], b"line 99\n");
    }

    #[test]
    fn a_torn_record_is_left_for_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let mut w = LocalWriter::open(&p, Rotation::default(), false).unwrap();
        w.write(&chunk("whole\n")).unwrap();
        let whole = std::fs::metadata(&p).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(&[0, 0, 0, 20, 1])
            .unwrap();
        let (all, off) = read_from(File::open(&p).unwrap(), 0);
        assert_eq!(all.len(), 1);
        assert_eq!(off, whole);
        assert!(tail_current(&p, 1).is_none(), "torn tail falls back");
    }
}
