//! Uploaded xorbs are checked whole before they are stored: each chunk is decompressed and
//! hashed, the chunk table and boundaries must agree with the data, and the merkle hash of the
//! chunks must be the one the upload is addressed to. A client cannot store bytes under a hash
//! they do not have, so chunk-level dedup can trust what is stored.

use std::io::Cursor;

use xet_core_structures::merklehash::MerkleHash;
use xet_core_structures::xorb_object::XorbObject;

use crate::error::{Error, Result};

/// Upper bound on an uploaded xorb: 64 MiB of chunk data at most (hf_xet's limit), plus the
/// footer and what incompressible data grows by when "compressed".
pub const MAX_XORB_BYTES: usize = 80 << 20;

/// What a valid xorb holds, for the chunk index and for reconstruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorbSummary {
    /// The xorb's hash, hex as in CAS URLs.
    pub hash: String,
    /// Each chunk's hash (hex) and uncompressed length, in order.
    pub chunks: Vec<(String, u32)>,
    /// Bytes once decompressed.
    pub raw_bytes: u64,
    /// Bytes stored (the upload's size).
    pub stored_bytes: u64,
}

/// Parse a hash from a CAS URL: 64 hex digits, 400 otherwise.
pub fn parse_hash(hex: &str) -> Result<MerkleHash> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::bad_request(format!(
            "'{hex}' is not a Xet hash (64 hex digits)"
        )));
    }
    MerkleHash::from_hex(hex).map_err(|e| Error::bad_request(format!("bad Xet hash: {e}")))
}

/// Validate a serialized xorb addressed to `expected`; 400 saying why when it is not exactly that.
pub fn validate(data: &[u8], expected: &MerkleHash) -> Result<XorbSummary> {
    if data.len() > MAX_XORB_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a xorb is at most {MAX_XORB_BYTES} bytes; this one has {}",
            data.len()
        )));
    }
    let invalid =
        |why: String| Error::bad_request(format!("xorb {} rejected: {why}", expected.hex()));
    let xorb = XorbObject::validate_xorb_object(&mut Cursor::new(data), expected)
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid("malformed, or its chunks do not hash to it".into()))?;
    let info = &xorb.info;
    let mut chunks = Vec::with_capacity(info.chunk_hashes.len());
    let mut previous = 0u32;
    for (hash, end) in info.chunk_hashes.iter().zip(&info.unpacked_chunk_offsets) {
        let len = end
            .checked_sub(previous)
            .ok_or_else(|| invalid("chunk offsets go backwards".into()))?;
        chunks.push((hash.hex(), len));
        previous = *end;
    }
    if chunks.len() != info.num_chunks as usize {
        return Err(invalid("chunk table and chunk count differ".into()));
    }
    Ok(XorbSummary {
        hash: expected.hex(),
        raw_bytes: u64::from(previous),
        stored_bytes: data.len() as u64,
        chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xet_core_structures::xorb_object::xorb_format_test_utils::{build_raw_xorb, ChunkSize};
    use xet_core_structures::xorb_object::{CompressionScheme, SerializedXorbObject};

    fn xorb(scheme: CompressionScheme) -> SerializedXorbObject {
        let raw = build_raw_xorb(5, ChunkSize::Fixed(16 * 1024));
        SerializedXorbObject::from_xorb_with_compression(raw, scheme, true, 32).unwrap()
    }

    #[test]
    fn accepts_a_real_xorb_in_every_compression() {
        for scheme in [
            CompressionScheme::None,
            CompressionScheme::LZ4,
            CompressionScheme::ByteGrouping4LZ4,
        ] {
            let x = xorb(scheme);
            let s = validate(&x.serialized_data, &x.hash).unwrap();
            assert_eq!(s.hash, x.hash.hex());
            assert_eq!(s.chunks.len(), 5);
            assert!(s.chunks.iter().all(|(_, len)| *len == 16 * 1024));
            assert_eq!(s.raw_bytes, 5 * 16 * 1024);
            assert_eq!(parse_hash(&s.hash).unwrap(), x.hash);
        }
    }

    #[test]
    fn refuses_wrong_hash_corruption_truncation_and_size() {
        let x = xorb(CompressionScheme::None);
        let other = xorb(CompressionScheme::None);
        assert!(
            validate(&x.serialized_data, &other.hash).is_err(),
            "addressed to another hash"
        );
        let mut flipped = x.serialized_data.clone();
        flipped[100] ^= 1;
        assert!(validate(&flipped, &x.hash).is_err(), "a chunk byte changed");
        let n = x.serialized_data.len();
        assert!(
            validate(&x.serialized_data[..n - 10], &x.hash).is_err(),
            "footer cut"
        );
        assert!(
            validate(&x.serialized_data[..n / 2], &x.hash).is_err(),
            "half"
        );
        assert!(validate(&[], &x.hash).is_err());
        let mut longer = x.serialized_data.clone();
        longer.extend_from_slice(&[0; 16]);
        assert!(validate(&longer, &x.hash).is_err(), "trailing bytes");
        let huge = vec![0u8; MAX_XORB_BYTES + 1];
        assert!(matches!(
            validate(&huge, &x.hash),
            Err(Error::PayloadTooLarge(_))
        ));
        assert!(parse_hash("abc").is_err());
        assert!(parse_hash(&"g".repeat(64)).is_err());
    }
}
