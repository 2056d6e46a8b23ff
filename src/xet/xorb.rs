//! Uploaded xorbs are checked whole before they are stored: each chunk is decompressed and
//! hashed, the chunk table and boundaries must agree with the data, and the merkle hash of the
//! chunks must be the one the upload is addressed to. A client cannot store bytes under a hash
//! they do not have, so chunk-level dedup can trust what is stored.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use xet_core_structures::error::CoreError;
use xet_core_structures::merklehash::{compute_data_hash, xorb_hash, MerkleHash};
use xet_core_structures::xorb_object::{
    deserialize_chunk_header, XorbObject, XorbObjectInfoV1, XORB_CHUNK_HEADER_LENGTH,
};

use crate::error::{Error, Result};

/// Upper bound on an uploaded xorb: 64 MiB of chunk data at most (hf_xet's limit), plus the
/// footer and what incompressible data grows by when "compressed".
pub const MAX_XORB_BYTES: usize = 80 << 20;

/// Upper bound on one chunk, uncompressed (hf_xet's chunks are at most 128 KiB).
pub const MAX_CHUNK_BYTES: usize = 1 << 20;

/// Upper bound on the chunks of one xorb (hf_xet's limit is 8192).
pub const MAX_CHUNKS: usize = 16 * 1024;

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
    /// Bytes of chunk data the upload carried (what the client sent, less any footer).
    pub received_bytes: u64,
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

/// A xorb that passed, with the bytes the hub would store (tests and tools; the upload path
/// writes them to a staging file as they come).
#[derive(Debug, Clone)]
pub struct ValidXorb {
    pub summary: XorbSummary,
    pub stored: Vec<u8>,
}

/// [`receive`] from memory into memory.
pub fn validate(data: &[u8], expected: &MerkleHash) -> Result<ValidXorb> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(Error::internal)?;
    let mut stored = Vec::with_capacity(data.len() + 1024);
    let summary = rt.block_on(receive(&mut &data[..], expected, &mut stored))?;
    Ok(ValidXorb { summary, stored })
}

/// Receive an uploaded xorb addressed to `expected` chunk by chunk (one chunk in memory):
/// every chunk is decompressed and hashed, the chunks' merkle hash must be `expected`, and the
/// bytes to store (the chunks, then a footer the hub writes itself) go to `out`. Clients send
/// the chunks without the footer; one they send is ignored. 400 saying why when it does not
/// check out, 413 past [`MAX_XORB_BYTES`].
pub async fn receive<R, W>(
    reader: &mut R,
    expected: &MerkleHash,
    out: &mut W,
) -> Result<XorbSummary>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let invalid =
        |why: String| Error::bad_request(format!("xorb {} rejected: {why}", expected.hex()));
    let mut info = XorbObjectInfoV1::default();
    let mut hashed: Vec<(MerkleHash, u64)> = Vec::new();
    let mut seen = 0usize;
    let mut stored_bytes = 0u64;
    loop {
        let mut head = [0u8; XORB_CHUNK_HEADER_LENGTH];
        let got = read_full(reader, &mut head).await?;
        if got == 0 {
            break;
        }
        if got < head.len() {
            return Err(invalid("it ends inside a chunk header".into()));
        }
        let header = match deserialize_chunk_header(&mut &head[..]) {
            Ok(h) => h,
            // The client's own footer: what follows is rebuilt, not read.
            Err(CoreError::ChunkHeaderParse) if !hashed.is_empty() => {
                let room = (MAX_XORB_BYTES - seen) as u64;
                let rest =
                    tokio::io::copy(&mut reader.take(room + 1), &mut tokio::io::sink()).await?;
                if rest > room {
                    return Err(too_large());
                }
                break;
            }
            Err(e) => return Err(invalid(e.to_string())),
        };
        let compressed = header.get_compressed_length() as usize;
        let unpacked_len = header.get_uncompressed_length() as usize;
        if unpacked_len == 0 || unpacked_len > MAX_CHUNK_BYTES || compressed > 2 * MAX_CHUNK_BYTES {
            return Err(invalid(format!(
                "a chunk of {unpacked_len} bytes ({compressed} stored); chunks hold 1 to {MAX_CHUNK_BYTES}"
            )));
        }
        if hashed.len() == MAX_CHUNKS {
            return Err(invalid(format!("it has more than {MAX_CHUNKS} chunks")));
        }
        seen += head.len() + compressed;
        if seen > MAX_XORB_BYTES {
            return Err(too_large());
        }
        let mut data = vec![0u8; compressed];
        if read_full(reader, &mut data).await? < compressed {
            return Err(invalid("it ends inside a chunk".into()));
        }
        // Decompressed into a buffer the header's length caps (no decompression bombs).
        let mut chunk = Capped(Vec::with_capacity(unpacked_len), unpacked_len);
        header
            .get_compression_scheme()
            .and_then(|c| c.decompress_from_reader(&mut &data[..], &mut chunk))
            .map_err(|e| invalid(e.to_string()))?;
        let chunk = chunk.0;
        if chunk.len() != unpacked_len {
            return Err(invalid("a chunk's length is not its header's".into()));
        }
        let hash = compute_data_hash(&chunk);
        hashed.push((hash, chunk.len() as u64));
        info.chunk_hashes.push(hash);
        let end = info.chunk_boundary_offsets.last().copied().unwrap_or(0);
        info.chunk_boundary_offsets
            .push(end + (head.len() + compressed) as u32);
        let unpacked = info.unpacked_chunk_offsets.last().copied().unwrap_or(0);
        info.unpacked_chunk_offsets
            .push(unpacked + chunk.len() as u32);
        out.write_all(&head).await?;
        out.write_all(&data).await?;
        stored_bytes += (head.len() + compressed) as u64;
    }
    if hashed.is_empty() {
        return Err(invalid("it holds no chunk".into()));
    }
    let computed = xorb_hash(&hashed);
    if computed != *expected {
        return Err(invalid(format!("its chunks hash to {}", computed.hex())));
    }
    info.xorb_hash = computed;
    info.num_chunks = hashed.len() as u32;
    info.fill_in_boundary_offsets();
    let summary = XorbSummary {
        hash: expected.hex(),
        chunks: info
            .chunk_hashes
            .iter()
            .zip(&hashed)
            .map(|(h, (_, n))| (h.hex(), *n as u32))
            .collect(),
        byte_ends: info.chunk_boundary_offsets.clone(),
        raw_bytes: hashed.iter().map(|(_, n)| n).sum(),
        stored_bytes: 0,
        received_bytes: stored_bytes,
    };
    let mut footer = Vec::new();
    XorbObject::serialize_given_info(&mut footer, info).map_err(Error::internal)?;
    out.write_all(&footer).await?;
    out.flush().await?;
    Ok(XorbSummary {
        stored_bytes: stored_bytes + footer.len() as u64,
        ..summary
    })
}

/// A chunk's bytes, refusing to grow past the length its header states.
struct Capped(Vec<u8>, usize);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > self.1 {
            return Err(std::io::Error::other(
                "a chunk decompresses past the length its header states",
            ));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn too_large() -> Error {
    Error::PayloadTooLarge(format!("a xorb is at most {MAX_XORB_BYTES} bytes"))
}

/// Read until `buf` is full or the input ends; how many bytes were read.
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let got = reader.read(&mut buf[n..]).await?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(n)
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
        assert!(validate(&vec![0u8; 4096], &x.hash).is_err(), "empty chunks");
        // Valid chunks past the size bound (two xorbs' chunks back to back).
        let half = || {
            let raw = build_raw_xorb(330, ChunkSize::Fixed(128 * 1024));
            let x = SerializedXorbObject::from_xorb_with_compression(
                raw,
                CompressionScheme::None,
                true,
                32,
            )
            .unwrap();
            x.serialized_data[..x.footer_start.unwrap() as usize].to_vec()
        };
        let big = [half(), half()].concat();
        assert!(big.len() > MAX_XORB_BYTES);
        assert!(matches!(
            validate(&big, &x.hash),
            Err(Error::PayloadTooLarge(_))
        ));
        assert!(parse_hash("abc").is_err());
        assert!(parse_hash(&"g".repeat(64)).is_err());
    }
}
