//! Docker image references: parsing, normalisation and the familiar form.
//!
//! Mirrors `github.com/distribution/reference`: `busybox` normalises to
//! `docker.io/library/busybox:latest`; the familiar form drops the
//! `docker.io/` and `library/` parts again for display (`RepoTags`).

use std::fmt;

/// Registry assumed when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Tag assumed when a reference carries neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

/// Why a reference was rejected; `Display` is Docker's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Anything that does not match the grammar.
    #[error("invalid reference format")]
    Invalid,
    /// A repository path with upper-case letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// A name longer than 255 characters.
    #[error(
        "invalid reference format: repository name (\"{0}\") must not be more than 255 characters"
    )]
    TooLong(String),
    /// A bare 64-hex string used as a name.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
}

/// A parsed, normalised reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (with port), e.g. `docker.io`, `localhost:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/busybox`.
    pub path: String,
    /// Tag, if any.
    pub tag: Option<String>,
    /// Digest (`sha256:…`), if any.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalises like Docker's `ParseNormalizedNamed`; no
    /// default tag is added (see [`Reference::with_default_tag`]).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if is_full_hex(s) {
            return Err(ReferenceError::HexName(s.to_owned()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(ReferenceError::Invalid);
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag (a ':' before it is a port).
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                if !valid_tag(t) {
                    return Err(ReferenceError::Invalid);
                }
                (&rest[..last_slash + i], Some(t.to_owned()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::Invalid);
        }
        let (mut domain, mut path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.to_lowercase() != first =>
            {
                (first.to_owned(), remainder.to_owned())
            }
            _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
        };
        if domain == "index.docker.io" {
            domain = DEFAULT_DOMAIN.to_owned();
        }
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            path = format!("library/{path}");
        }
        if !valid_domain(&domain) {
            return Err(ReferenceError::Invalid);
        }
        Self::finish(domain, path, tag, digest)
    }

    fn finish(
        domain: String,
        path: String,
        tag: Option<String>,
        digest: Option<String>,
    ) -> Result<Reference, ReferenceError> {
        if path.to_lowercase() != path {
            if valid_path(&path.to_lowercase()) {
                return Err(ReferenceError::Uppercase(path));
            }
            return Err(ReferenceError::Invalid);
        }
        if !valid_path(&path) {
            return Err(ReferenceError::Invalid);
        }
        let name = format!("{domain}/{path}");
        if name.len() > MAX_NAME_LEN {
            return Err(ReferenceError::TooLong(name));
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Adds `:latest` when there is neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// `domain/path`, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as users write it: `busybox`, `me/app`,
    /// `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The whole reference in familiar form: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// The full normalised form, as stored in containerd's image store.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// True for exactly 64 lower-case hex digits (an image ID without prefix).
pub fn is_full_hex(s: &str) -> bool {
    s.len() == 64 && is_hex(s)
}

/// True for a non-empty string of lower-case hex digits.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn valid_tag(t: &str) -> bool {
    let mut bytes = t.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphanumeric() || b == b'_' => {}
        _ => return false,
    }
    t.len() <= 128 && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg.as_bytes()[0].is_ascii_alphabetic()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.'))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*` per component, `/`-separated.
fn valid_path(p: &str) -> bool {
    p.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: one '.', one or two '_', or any number of '-'.
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().with_default_tag().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("me/app"), "docker.io/me/app:latest");
        assert_eq!(norm("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(norm("localhost/app:v1"), "localhost/app:v1");
        assert_eq!(norm("quay.io/a/b/c:x"), "quay.io/a/b/c:x");
        assert_eq!(
            norm("docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
    }

    #[test]
    fn familiar_form_drops_defaults() {
        let r = Reference::parse("docker.io/library/busybox:latest").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        let r = Reference::parse("docker.io/me/app").unwrap();
        assert_eq!(r.familiar_name(), "me/app");
        let r = Reference::parse("localhost:5000/app:v2").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/app:v2");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            ":",
            "busybox:",
            "a b",
            "busy box",
            "-busybox",
            "busybox-",
            "a//b",
            "busybox:tag!",
            "busybox@sha256:xyz",
            "a..b",
            "a___b",
            "ubuntu:-x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            Reference::parse("Busybox").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            Reference::parse("a b").unwrap_err().to_string(),
            "invalid reference format"
        );
        assert!(matches!(
            Reference::parse(&"a".repeat(64)),
            Err(ReferenceError::HexName(_))
        ));
    }

    #[test]
    fn separators() {
        assert!(Reference::parse("a.b_c__d-e---f").is_ok());
        assert!(Reference::parse("my-registry.local:5000/x").is_ok());
    }
}
