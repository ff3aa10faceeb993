//! The rotating file under both file log formats (json-file and local): whole records are
//! appended, the file rotates before a record that would pass `max-size`, and `max-file`
//! files are kept as `<path>` (current), `<path>.1` (newest rotated) ... `<path>.N`, each
//! rotated one optionally gzipped to `<path>.i.gz`, as dockerd names them.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::logfile::Rotation;

/// An append-only log file that rotates by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    compress: bool,
}

impl RotatingFile {
    /// Opens `path` for appending (mode 0640 as dockerd's: output can hold secrets),
    /// creating its directory.
    pub fn open(path: &Path, rotation: Rotation, compress: bool) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_owned(),
            file,
            size,
            rotation,
            compress,
        })
    }

    /// Appends one encoded record. Like dockerd, rotates first when the record would pass
    /// max-size, so the current file always holds the newest records whole.
    pub fn append(&mut self, record: &[u8]) -> std::io::Result<()> {
        if let Some(max) = self.rotation.max_size
            && self.size > 0
            && self.size + record.len() as u64 > max
        {
            self.rotate()?;
        }
        self.file.write_all(record)?;
        self.size += record.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let keep = self.rotation.max_file;
        if keep <= 1 {
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
            self.size = 0;
            return Ok(());
        }
        // Rotated files are numbered without gaps: shift only those that exist, so a large
        // max-file costs nothing until that many files are there.
        let existing = (1..keep)
            .take_while(|&i| existing_rotated(&self.path, i).is_some())
            .count() as u32;
        if existing == keep - 1 {
            for ext in ["", ".gz"] {
                let _ = std::fs::remove_file(with_ext(&rotated(&self.path, keep - 1), ext));
            }
        }
        for i in (1..=existing.min(keep - 2)).rev() {
            if let Some(from) = existing_rotated(&self.path, i) {
                let ext = if from.extension().is_some_and(|e| e == "gz") {
                    ".gz"
                } else {
                    ""
                };
                std::fs::rename(&from, with_ext(&rotated(&self.path, i + 1), ext))?;
            }
        }
        let first = rotated(&self.path, 1);
        std::fs::rename(&self.path, &first)?;
        if self.compress {
            compress(&first)?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Replaces `path` with `path.gz` (written aside, then renamed, so a reader sees one or
/// the other whole).
fn compress(path: &Path) -> std::io::Result<()> {
    let gz = with_ext(path, ".gz");
    let tmp = with_ext(path, ".gz.tmp");
    {
        let mut src = File::open(path)?;
        let out = File::create(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        std::io::copy(&mut src, &mut enc)?;
        enc.finish()?.sync_all()?;
    }
    std::fs::rename(&tmp, &gz)?;
    std::fs::remove_file(path)
}

fn with_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    with_ext(path, &format!(".{i}"))
}

/// The `i`th rotated file, plain or gzipped, if it exists.
fn existing_rotated(path: &Path, i: u32) -> Option<PathBuf> {
    let plain = rotated(path, i);
    if plain.exists() {
        return Some(plain);
    }
    let gz = with_ext(&plain, ".gz");
    gz.exists().then_some(gz)
}

/// The rotated files (plain or gzipped), oldest first, then the current one.
pub fn files_oldest_first(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..).map_while(|i| existing_rotated(path, i)).collect();
    out.reverse();
    out.push(path.to_owned());
    out
}
