//! Uploaded xorbs are checked whole before they are stored: each chunk is decompressed and
//! hashed, the chunk table and boundaries must agree with the data, and the merkle hash of the
//! chunks must be the one the upload is addressed to. A client cannot store bytes under a hash
//! they do not have, so chunk-level dedup can trust what is stored.

use std::io::Write;

use xet_core_structures::merklehash::MerkleHash;
use xet_core_structures::xorb_object::reconstruct_xorb_with_footer;

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
    /// Where each chunk's bytes (header included) end in the stored object; chunk `i` starts
    /// where chunk `i - 1` ends (the first at 0).
    pub byte_ends: Vec<u32>,
    /// Bytes once decompressed.
    pub raw_bytes: u64,
    /// Bytes stored (chunks plus the footer the hub wrote).
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

/// A xorb that passed: what it holds, and the bytes to store (its chunks followed by a footer
/// the hub wrote itself, so later range reads can trust the chunk table).
#[derive(Debug, Clone)]
pub struct ValidXorb {
    pub summary: XorbSummary,
    pub stored: Vec<u8>,
}

/// Validate an uploaded xorb addressed to `expected`: every chunk is decompressed and hashed and
/// the chunks' merkle hash must be `expected`. Clients send the chunks without the footer (or
/// with one, which is ignored and rebuilt). 400 saying why when it does not check out.
pub fn validate(data: &[u8], expected: &MerkleHash) -> Result<ValidXorb> {
    let mut stored = Vec::with_capacity(data.len() + 1024);
    let summary = validate_into(data, expected, &mut stored)?;
    Ok(ValidXorb { summary, stored })
}

/// [`validate`], writing the bytes to store to `out` (a staging file) instead of memory.
pub fn validate_into(
    data: &[u8],
    expected: &MerkleHash,
    out: &mut impl std::io::Write,
) -> Result<XorbSummary> {
    if data.len() > MAX_XORB_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a xorb is at most {MAX_XORB_BYTES} bytes; this one has {}",
            data.len()
        )));
    }
    let invalid =
        |why: String| Error::bad_request(format!("xorb {} rejected: {why}", expected.hex()));
    if data.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    let mut counted = Counted { inner: out, n: 0 };
    let (xorb, computed) =
        reconstruct_xorb_with_footer(&mut counted, data).map_err(|e| invalid(e.to_string()))?;
    counted.flush()?;
    let stored_bytes = counted.n;
    if computed != *expected {
        return Err(invalid(format!("its chunks hash to {}", computed.hex())));
    }
    let info = &xorb.info;
    if info.num_chunks == 0 {
        return Err(invalid("it holds no chunk".into()));
    }
    let mut chunks = Vec::with_capacity(info.chunk_hashes.len());
    let mut previous = 0u32;
    for (hash, end) in info.chunk_hashes.iter().zip(&info.unpacked_chunk_offsets) {
        let len = end
            .checked_sub(previous)
            .ok_or_else(|| invalid("chunk offsets go backwards".into()))?;
        chunks.push((hash.hex(), len));
        previous = *end;
    }
    if info.chunk_boundary_offsets.len() != chunks.len() {
        return Err(invalid("chunk boundaries do not match the chunks".into()));
    }
    Ok(XorbSummary {
        byte_ends: info.chunk_boundary_offsets.clone(),
        hash: expected.hex(),
        raw_bytes: u64::from(previous),
        stored_bytes,
        chunks,
    })
}

/// A writer that counts what passes through.
struct Counted<'a, W: std::io::Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: std::io::Write> std::io::Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use xet_core_structures::xorb_object::xorb_format_test_utils::{build_raw_xorb, ChunkSize};
    use xet_core_structures::xorb_object::{CompressionScheme, SerializedXorbObject, XorbObject};

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
            let s = validate(&x.serialized_data, &x.hash).unwrap().summary;
            assert_eq!(s.hash, x.hash.hex());
            assert_eq!(s.chunks.len(), 5);
            assert!(s.chunks.iter().all(|(_, len)| *len == 16 * 1024));
            assert_eq!(s.raw_bytes, 5 * 16 * 1024);
            assert_eq!(parse_hash(&s.hash).unwrap(), x.hash);
        }
    }

    /// The xorb hf_xet 1.8.0 uploaded for a known 300,000-byte file (tests/fixtures/xet).
    #[test]
    fn accepts_what_hf_xet_uploads_and_its_bytes_are_the_file() {
        let hex = "c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324";
        let data = include_bytes!(
            "../../tests/fixtures/xet/c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324.xorb"
        );
        let v = validate(data, &parse_hash(hex).unwrap()).unwrap();
        assert_eq!(v.summary.raw_bytes, 300_000);
        // What the hub stores reads back as the file, and itself validates.
        let xorb = XorbObject::deserialize(&mut Cursor::new(&v.stored[..])).unwrap();
        let bytes = xorb.get_all_bytes(&mut Cursor::new(&v.stored[..])).unwrap();
        assert!(validate(&v.stored, &parse_hash(hex).unwrap()).is_ok());
        let expected: Vec<u8> = (0..300_000u32)
            .map(|i| ((i * 7 + i / 4096) % 251) as u8)
            .collect();
        assert!(bytes == expected, "decompressed chunks are the file");
        for at in [20, data.len() / 2, data.len() - 1] {
            let mut other = data.to_vec();
            other[at] ^= 0x40;
            assert!(
                validate(&other, &parse_hash(hex).unwrap()).is_err(),
                "byte {at} changed"
            );
        }
        assert!(validate(&data[..data.len() - 1], &parse_hash(hex).unwrap()).is_err());
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
        // The footer is rebuilt by the hub, so only the chunks matter: cutting into the last one
        // is refused.
        let chunks_end = x.footer_start.unwrap() as usize;
        assert!(validate(&x.serialized_data[..chunks_end], &x.hash).is_ok());
        assert!(
            validate(&x.serialized_data[..chunks_end - 1], &x.hash).is_err(),
            "last chunk cut"
        );
        assert!(n > chunks_end);
        assert!(
            validate(&x.serialized_data[..n / 2], &x.hash).is_err(),
            "half"
        );
        assert!(validate(&[], &x.hash).is_err());
        let huge = vec![0u8; MAX_XORB_BYTES + 1];
        assert!(matches!(
            validate(&huge, &x.hash),
            Err(Error::PayloadTooLarge(_))
        ));
        assert!(parse_hash("abc").is_err());
        assert!(parse_hash(&"g".repeat(64)).is_err());
    }
}
