//! Files from chunks: checking what a shard claims about a file against the xorbs the hub
//! validated, and writing a file's bytes back out of them.
//!
//! A shard's file entry is the client's word; before the hub registers it, each segment must name
//! a chunk range inside a stored xorb, the range's sizes must add up, and the chunks' hashes must
//! combine into the file hash the shard states. (The sha256 is then checked by hashing the bytes
//! [`write_segment`] produces.)

use std::io::{Cursor, Write};

use xet_core_structures::merklehash::{file_hash, MerkleHash};
use xet_core_structures::xorb_object::XorbObject;

use super::shard::{Segment, ShardFile};
use super::xorb::parse_hash;
use crate::error::{Error, Result};

/// Check `file`'s segments against the chunk lists of stored xorbs (`chunks_of(xorb)`, as
/// [`super::xorb::XorbSummary::chunks`]); 400 saying what does not hold.
pub fn check_file(
    file: &ShardFile,
    chunks_of: impl Fn(&str) -> Option<Vec<(String, u32)>>,
) -> Result<()> {
    let bad = |why: String| Error::bad_request(format!("file {} rejected: {why}", file.file_hash));
    if file.segments.is_empty() && file.size != 0 {
        return Err(bad("no segments".into()));
    }
    let mut all: Vec<(MerkleHash, u64)> = Vec::new();
    for seg in &file.segments {
        let chunks = chunks_of(&seg.xorb)
            .ok_or_else(|| bad(format!("it uses xorb {} which is not stored", seg.xorb)))?;
        // Refusals name only what the shard itself says, never what the hub computed.
        let range = chunks
            .get(seg.chunk_start as usize..seg.chunk_end as usize)
            .ok_or_else(|| {
                bad(format!(
                    "chunks {}..{} are outside xorb {}",
                    seg.chunk_start, seg.chunk_end, seg.xorb
                ))
            })?;
        let bytes: u64 = range.iter().map(|(_, n)| u64::from(*n)).sum();
        if bytes != u64::from(seg.bytes) {
            return Err(bad(format!(
                "a segment of xorb {} does not hold the {} bytes it claims",
                seg.xorb, seg.bytes
            )));
        }
        for (hash, n) in range {
            all.push((parse_hash(hash)?, u64::from(*n)));
        }
    }
    let computed = file_hash(&all);
    if computed.hex() != file.file_hash {
        return Err(bad("its chunks do not hash to its file hash".into()));
    }
    Ok(())
}

/// Write the bytes of `seg` out of the stored xorb (chunks and the hub's footer); returns the
/// number written. 500 when the stored xorb does not hold what the segment says (it was
/// validated on upload, so that is damage, not bad input).
pub fn write_segment(stored_xorb: &[u8], seg: &Segment, out: &mut impl Write) -> Result<u64> {
    let damaged = |why: String| Error::internal(format!("stored xorb {}: {why}", seg.xorb));
    let mut reader = Cursor::new(stored_xorb);
    let xorb = XorbObject::deserialize(&mut reader).map_err(|e| damaged(e.to_string()))?;
    let bytes = xorb
        .get_bytes_by_chunk_range(&mut reader, seg.chunk_start, seg.chunk_end)
        .map_err(|e| damaged(e.to_string()))?;
    if bytes.len() != seg.bytes as usize {
        return Err(damaged(format!(
            "chunks {}..{} hold {} bytes, not {}",
            seg.chunk_start,
            seg.chunk_end,
            bytes.len(),
            seg.bytes
        )));
    }
    out.write_all(&bytes)?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    const XORB: &str = "c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324";

    fn fixture() -> (super::super::xorb::ValidXorb, ShardFile) {
        let data = include_bytes!(
            "../../tests/fixtures/xet/c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324.xorb"
        );
        let xorb = super::super::xorb::validate(data, &parse_hash(XORB).unwrap()).unwrap();
        let shard =
            super::super::shard::parse(include_bytes!("../../tests/fixtures/xet/upload.shard"))
                .unwrap();
        (xorb, shard.files[0].clone())
    }

    #[test]
    fn the_uploaded_file_checks_out_and_reads_back() {
        let (xorb, file) = fixture();
        let lookup = |h: &str| (h == XORB).then(|| xorb.summary.chunks.clone());
        check_file(&file, lookup).unwrap();
        let mut out = Vec::new();
        for seg in &file.segments {
            write_segment(&xorb.stored, seg, &mut out).unwrap();
        }
        let expected: Vec<u8> = (0..300_000u32)
            .map(|i| ((i * 7 + i / 4096) % 251) as u8)
            .collect();
        assert!(out == expected);
        assert_eq!(
            Some(hex::encode(sha2::Sha256::digest(&out))),
            file.sha256,
            "the sha256 the client claimed is the bytes'"
        );
    }

    #[test]
    fn claims_that_do_not_hold_are_refused() {
        let (xorb, file) = fixture();
        let lookup = |h: &str| (h == XORB).then(|| xorb.summary.chunks.clone());
        assert!(check_file(&file, |_| None).is_err(), "xorb not stored");
        let mut wrong_hash = file.clone();
        wrong_hash.file_hash = "0".repeat(64);
        assert!(check_file(&wrong_hash, lookup).is_err());
        let mut outside = file.clone();
        outside.segments[0].chunk_end += 1000;
        assert!(check_file(&outside, lookup).is_err());
        let mut sizes = file.clone();
        sizes.segments[0].bytes += 1;
        assert!(check_file(&sizes, lookup).is_err());
        assert!(write_segment(&xorb.stored, &sizes.segments[0], &mut Vec::new()).is_err());
        assert!(
            file.segments[0].chunk_end > 1,
            "the fixture spans several chunks"
        );
        let mut fewer = file.clone();
        fewer.segments[0].chunk_end -= 1;
        assert!(check_file(&fewer, lookup).is_err(), "a chunk left out");
    }
}
