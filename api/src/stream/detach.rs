//! Detach keys: the byte sequence in client input that ends an attach or
//! exec session without stopping the process (`ctrl-p,ctrl-q` by default).
//!
//! The notation is moby's (`term.ToBytes`): comma-separated keys, each a
//! single character or `ctrl-<c>` for `@`, `a`–`z`, `[`, `\`, `]`, `^`, `_`.
//! Input is scanned like moby's escape proxy: bytes that could start the
//! sequence are held back until it either completes (the session detaches
//! and they are swallowed) or diverges (they are passed on unchanged).

/// The default sequence, ctrl-p ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// Parses a detach-keys string; `None` or empty means the default.
/// The error text is dockerd's.
pub fn parse_detach_keys(keys: Option<&str>) -> Result<Vec<u8>, String> {
    let Some(keys) = keys.filter(|k| !k.is_empty()) else {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    };
    let bad = || format!("Invalid detach keys ({keys}) provided");
    let mut out = Vec::new();
    for key in keys.split(',') {
        let bytes = key.as_bytes();
        if bytes.len() == 1 {
            out.push(bytes[0]);
            continue;
        }
        let lower = key.to_ascii_lowercase();
        let c = lower
            .strip_prefix("ctrl-")
            .filter(|c| c.len() == 1)
            .and_then(|c| c.bytes().next())
            .ok_or_else(bad)?;
        let code = match c {
            b'@' => 0,
            b'a'..=b'z' => c - b'a' + 1,
            b'[' => 27,
            b'\\' => 28,
            b']' => 29,
            b'^' => 30,
            b'_' => 31,
            _ => return Err(bad()),
        };
        out.push(code);
    }
    Ok(out)
}

/// Scans client input for the detach sequence across reads.
#[derive(Debug, Clone)]
pub struct DetachScanner {
    keys: Vec<u8>,
    /// How many bytes of `keys` the held-back input matched so far.
    matched: usize,
}

/// What one chunk of input amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Scanned {
    /// Forward these bytes (possibly none, while a prefix is held back).
    Forward(Vec<u8>),
    /// The sequence completed: forward these bytes first, then detach.
    Detach(Vec<u8>),
}

impl DetachScanner {
    /// A scanner for `keys` (an empty sequence never detaches).
    pub fn new(keys: Vec<u8>) -> DetachScanner {
        DetachScanner { keys, matched: 0 }
    }

    /// Feeds one chunk of input.
    pub fn feed(&mut self, input: &[u8]) -> Scanned {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return Scanned::Forward(out);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scanned::Detach(out);
                }
                continue;
            }
            // Diverged: the held-back prefix was ordinary input after all.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scanned::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Scanned::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_moby_notation() {
        assert_eq!(parse_detach_keys(None).unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys(Some("")).unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys(Some("ctrl-x,y")).unwrap(), vec![24, b'y']);
        assert_eq!(
            parse_detach_keys(Some("CTRL-A,ctrl-@,ctrl-_,ctrl-\\")).unwrap(),
            vec![1, 0, 31, 28]
        );
        for bad in ["ctrl-", "ctrl-1", "foo", "ctrl-a,,b"] {
            assert_eq!(
                parse_detach_keys(Some(bad)).unwrap_err(),
                format!("Invalid detach keys ({bad}) provided")
            );
        }
    }

    #[test]
    fn detaches_across_chunks_and_passes_near_misses() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ab\x10"), Scanned::Forward(b"ab".to_vec()));
        assert_eq!(s.feed(b"z"), Scanned::Forward(b"\x10z".to_vec()));
        assert_eq!(s.feed(b"\x10\x10"), Scanned::Forward(b"\x10".to_vec()));
        assert_eq!(s.feed(b"\x11rest"), Scanned::Detach(Vec::new()));
        let mut s = DetachScanner::new(vec![1]);
        assert_eq!(s.feed(b"xy\x01z"), Scanned::Detach(b"xy".to_vec()));
        let mut s = DetachScanner::new(Vec::new());
        assert_eq!(s.feed(b"\x10\x11"), Scanned::Forward(b"\x10\x11".to_vec()));
    }
}
