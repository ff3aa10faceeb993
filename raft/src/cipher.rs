//! Encryption at rest for the values the store writes to disk (log entries, state-machine
//! objects, snapshot files), with a data-encryption key (DEK) the node keeps next to its TLS
//! key, as swarmkit does.
//!
//! A sealed value is `version (1 byte) || nonce (12 bytes) || ChaCha20-Poly1305 ciphertext
//! and tag`. The nonce is random per value: values are written far fewer times than the
//! 2^32 a random 96-bit nonce allows per key with negligible collision risk. The version
//! byte lets a later format be told apart instead of misread.
//!
//! Format 2 (written now) authenticates, as associated data, the format version and the
//! value's context: where it is stored (`state/<sled key>`, `log/<index>`, `snapshot`, ...).
//! A ciphertext copied to another key, another log index or another file kind no longer
//! opens, so an attacker with write access to the files cannot swap a stale or foreign value
//! in. Format 1 (no associated data) is still read; the store rewrites it as format 2 on its
//! next start (see [`crate::storage`]).

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The sealed-value format this build writes (it also reads [`LEGACY_FORMAT_VERSION`]).
pub const FORMAT_VERSION: u8 = 2;

/// The first format: no associated data. Read, never written.
pub const LEGACY_FORMAT_VERSION: u8 = 1;

/// Domain separation of the associated data from any other use of the key.
const AAD_DOMAIN: &[u8] = b"shoal-raft\0";

/// Length of a data-encryption key in bytes.
pub const KEY_LEN: usize = 32;

/// Errors of [`ValueCipher`].
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// The value does not open with this key: wrong key, corrupt data, or plaintext data.
    #[error("cannot decrypt raft data: wrong data encryption key or corrupt data")]
    Decrypt,
    /// The value carries a format version this build does not know.
    #[error("unsupported encrypted value format version {0}")]
    Version(u8),
    /// The key has the wrong length, or the system RNG failed.
    #[error("raft data encryption unavailable: {0}")]
    Setup(&'static str),
}

/// Seals and opens stored values with one DEK.
pub struct ValueCipher {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for ValueCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueCipher").finish_non_exhaustive()
    }
}

impl ValueCipher {
    /// A cipher keyed by `dek` (exactly [`KEY_LEN`] bytes).
    ///
    /// Errors: [`CipherError::Setup`] for a key of the wrong length.
    pub fn new(dek: &[u8]) -> Result<Self, CipherError> {
        if dek.len() != KEY_LEN {
            return Err(CipherError::Setup("data encryption key must be 32 bytes"));
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, dek)
            .map_err(|_| CipherError::Setup("invalid data encryption key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// A new random DEK.
    ///
    /// Errors: [`CipherError::Setup`] if the system RNG fails.
    pub fn generate_key() -> Result<[u8; KEY_LEN], CipherError> {
        let mut k = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| CipherError::Setup("system random number generator failed"))?;
        Ok(k)
    }

    /// Encrypts `plain` with no context (same as [`Self::seal_for`] with an empty one).
    ///
    /// Errors: [`CipherError::Setup`] if the RNG fails (nothing is written unencrypted).
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.seal_for(b"", plain)
    }

    /// Encrypts `plain`, binding the ciphertext to `context` (where it will be stored).
    ///
    /// Errors: [`CipherError::Setup`] if the RNG fails (nothing is written unencrypted).
    pub fn seal_for(&self, context: &[u8], plain: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| CipherError::Setup("system random number generator failed"))?;
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(FORMAT_VERSION, context)),
                &mut buf,
            )
            .map_err(|_| CipherError::Setup("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a value written by [`Self::seal`].
    ///
    /// Errors: [`CipherError::Decrypt`] for a wrong key or corrupt/plaintext data,
    /// [`CipherError::Version`] for an unknown format.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.open_for(b"", sealed)
    }

    /// Decrypts a value written by [`Self::seal_for`] with the same `context` (or a
    /// format-1 value, which carries no context).
    ///
    /// Errors: [`CipherError::Decrypt`] for a wrong key, a wrong context, or
    /// corrupt/plaintext data; [`CipherError::Version`] for an unknown format.
    pub fn open_for(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        let (&version, rest) = sealed.split_first().ok_or(CipherError::Decrypt)?;
        let aad = match version {
            FORMAT_VERSION => aad(version, context),
            LEGACY_FORMAT_VERSION => Vec::new(),
            other => return Err(CipherError::Version(other)),
        };
        if rest.len() < NONCE_LEN {
            return Err(CipherError::Decrypt);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&rest[..NONCE_LEN]);
        let mut buf = rest[NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CipherError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

/// The associated data of a format-`version` value stored at `context`.
fn aad(version: u8, context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_DOMAIN.len() + 1 + context.len());
    a.extend_from_slice(AAD_DOMAIN);
    a.push(version);
    a.extend_from_slice(context);
    a
}

/// The format version byte of a sealed value, if it looks like one (plaintext JSON never
/// starts with these bytes).
pub(crate) fn sealed_version(raw: &[u8]) -> Option<u8> {
    match raw.first() {
        Some(&v) if v == FORMAT_VERSION || v == LEGACY_FORMAT_VERSION => Some(v),
        _ => None,
    }
}

/// Seals with `cipher` when set; passes `plain` through otherwise (the unencrypted format).
pub(crate) fn seal_opt(
    cipher: Option<&ValueCipher>,
    context: &[u8],
    plain: Vec<u8>,
) -> Result<Vec<u8>, CipherError> {
    match cipher {
        Some(c) => c.seal_for(context, &plain),
        None => Ok(plain),
    }
}

/// Opens with `cipher` when set; passes `raw` through otherwise.
pub(crate) fn open_opt(
    cipher: Option<&ValueCipher>,
    context: &[u8],
    raw: &[u8],
) -> Result<Vec<u8>, CipherError> {
    match cipher {
        Some(c) => c.open_for(context, raw),
        None => Ok(raw.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_refuse_other_keys() {
        let c = ValueCipher::new(&ValueCipher::generate_key().unwrap()).unwrap();
        let sealed = c.seal(b"secret-label-value").unwrap();
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(c.open(&sealed).unwrap(), b"secret-label-value");
        // Random nonces: the same value never seals to the same bytes.
        assert_ne!(c.seal(b"x").unwrap(), c.seal(b"x").unwrap());
        let other = ValueCipher::new(&ValueCipher::generate_key().unwrap()).unwrap();
        assert!(matches!(other.open(&sealed), Err(CipherError::Decrypt)));
        let mut v9 = sealed.clone();
        v9[0] = 9;
        assert!(matches!(c.open(&v9), Err(CipherError::Version(9))));
        assert!(matches!(c.open(b""), Err(CipherError::Decrypt)));
        assert!(ValueCipher::new(b"short").is_err());
    }

    #[test]
    fn ciphertexts_are_bound_to_their_context() {
        let c = ValueCipher::new(&[7u8; KEY_LEN]).unwrap();
        let sealed = c.seal_for(b"state/o/service/a", b"{}").unwrap();
        assert_eq!(c.open_for(b"state/o/service/a", &sealed).unwrap(), b"{}");
        assert!(matches!(
            c.open_for(b"state/o/service/b", &sealed),
            Err(CipherError::Decrypt)
        ));
        assert!(matches!(c.open(&sealed), Err(CipherError::Decrypt)));
        // The version byte is authenticated too: a downgrade to format 1 does not open.
        let mut down = sealed.clone();
        down[0] = LEGACY_FORMAT_VERSION;
        assert!(c.open_for(b"state/o/service/a", &down).is_err());
    }

    /// A format-1 value as the previous release wrote it (key `[7; 32]`, plaintext
    /// `{"a":1}`, no associated data) still opens, in any context.
    #[test]
    fn legacy_format_fixture_still_opens() {
        let c = ValueCipher::new(&[7u8; KEY_LEN]).unwrap();
        let fixture = include_bytes!("../tests/fixtures/sealed-v1.bin");
        assert_eq!(fixture[0], LEGACY_FORMAT_VERSION);
        assert_eq!(c.open_for(b"log/anything", fixture).unwrap(), br#"{"a":1}"#);
        assert_eq!(sealed_version(fixture), Some(LEGACY_FORMAT_VERSION));
        assert_eq!(sealed_version(b"{}"), None);
    }
}
