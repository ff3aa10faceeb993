//! The encoding of what the store writes to disk and sends to peers: log entries, state
//! objects, snapshot data and RPC payloads.
//!
//! Written now: `BINARY_TAG || MessagePack` with structs as maps keyed by field name. Field
//! names keep the format as tolerant as JSON was: a field added later with
//! `#[serde(default)]` reads from older values, and values written by a newer version with
//! a field this one does not know still decode (unknown keys are skipped). What it saves
//! over JSON is the text: numbers, lengths and strings are not formatted, escaped or parsed.
//!
//! Read: that format and the JSON every earlier version wrote. The first byte tells them
//! apart: [`BINARY_TAG`] (0xc1) is the one byte MessagePack never uses and no JSON text
//! starts with, and it is neither cipher format version (1, 2), so a sealed value, a JSON
//! value and a binary value never look alike.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// First byte of a binary value (MessagePack's "never used" code).
pub(crate) const BINARY_TAG: u8 = 0xc1;

/// Why a value did not encode or decode.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Encoding failed (a type that cannot be represented).
    #[error("encoding failed: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// A binary value did not decode.
    #[error("binary value does not decode: {0}")]
    Binary(#[from] rmp_serde::decode::Error),
    /// A JSON value (written by an earlier version) did not decode.
    #[error("json value does not decode: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Encodes `v` in the binary format.
pub(crate) fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(256);
    out.push(BINARY_TAG);
    encode_into(&mut out, v)?;
    Ok(out)
}

/// Appends the binary encoding of `v` (without the tag) to `out`.
fn encode_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), CodecError> {
    let mut ser = rmp_serde::Serializer::new(out).with_struct_map();
    v.serialize(&mut ser)?;
    Ok(())
}

/// The length of `v`'s binary encoding, without keeping it.
pub(crate) fn encoded_len<T: Serialize + ?Sized>(v: &T) -> Result<usize, CodecError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(1);
    let mut ser = rmp_serde::Serializer::new(&mut count).with_struct_map();
    v.serialize(&mut ser)?;
    Ok(count.0)
}

/// Decodes a value in either format.
pub(crate) fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T, CodecError> {
    match raw.split_first() {
        Some((&BINARY_TAG, body)) => Ok(rmp_serde::from_slice(body)?),
        _ => Ok(serde_json::from_slice(raw)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct V1 {
        a: u64,
        name: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct V2 {
        a: u64,
        name: String,
        #[serde(default)]
        added: Vec<String>,
    }

    #[test]
    fn both_formats_read_and_fields_evolve() {
        let v1 = V1 {
            a: 7,
            name: "x".into(),
        };
        let bin = encode(&v1).unwrap();
        assert_eq!(bin[0], BINARY_TAG);
        assert_eq!(encoded_len(&v1).unwrap(), bin.len());
        assert_eq!(decode::<V1>(&bin).unwrap(), v1);
        assert_eq!(decode::<V1>(br#"{"a":7,"name":"x"}"#).unwrap(), v1);
        // An older value reads with the new field defaulted; a newer one in an older build
        // skips the field it does not know.
        let v2: V2 = decode(&bin).unwrap();
        assert!(v2.added.is_empty());
        let newer = encode(&V2 {
            a: 1,
            name: "y".into(),
            added: vec!["z".into()],
        })
        .unwrap();
        assert_eq!(decode::<V1>(&newer).unwrap().name, "y");
        assert!(decode::<V1>(&[BINARY_TAG, 0xff]).is_err());
    }
}
