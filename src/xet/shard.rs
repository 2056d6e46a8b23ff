//! Uploaded shards, parsed and checked for shape before anything in them is believed.
//!
//! A shard tells the CAS which files the client built (file hash, sha256, the xorb chunk ranges
//! that reconstruct it) and which chunks each new xorb holds. This module only checks that the
//! shard is well formed and self-consistent; that every referenced xorb is stored, that the
//! ranges lie inside it, and that the bytes hash to the claimed file hash and sha256 is the
//! registration's job, against what the hub itself validated.

use std::io::Cursor;

use xet_core_structures::metadata_shard::streaming_shard::MDBMinimalShard;

use crate::error::{Error, Result};

/// Upper bound on an uploaded shard (hf_xet keeps them far smaller).
pub const MAX_SHARD_BYTES: usize = 64 << 20;

/// One range of a file: chunks `[chunk_start, chunk_end)` of a xorb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub xorb: String,
    pub chunk_start: u32,
    pub chunk_end: u32,
    pub bytes: u32,
}

/// A file the shard describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardFile {
    /// The Xet file hash (hex, as in reconstruction URLs).
    pub file_hash: String,
    /// The file's sha256 (plain hex), when the client sent it (hf_xet does).
    pub sha256: Option<String>,
    pub size: u64,
    pub segments: Vec<Segment>,
}

/// A xorb the shard lists with its chunks (hash hex, uncompressed length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardXorb {
    pub hash: String,
    pub chunks: Vec<(String, u32)>,
    pub raw_bytes: u64,
}

/// Everything a shard says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSummary {
    pub files: Vec<ShardFile>,
    pub xorbs: Vec<ShardXorb>,
    /// The sample of chunk hashes other uploads may find this shard by (global dedup).
    pub dedup_chunks: Vec<String>,
}

/// Parse and check a shard as clients upload it (file and xorb sections, no lookup tables or
/// footer); 400 saying why when it is malformed or inconsistent.
pub fn parse(data: &[u8]) -> Result<ShardSummary> {
    if data.len() > MAX_SHARD_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a shard is at most {MAX_SHARD_BYTES} bytes; this one has {}",
            data.len()
        )));
    }
    let bad = |why: String| Error::bad_request(format!("shard rejected: {why}"));
    let shard = MDBMinimalShard::from_reader(&mut Cursor::new(data), true, true)
        .map_err(|e| bad(e.to_string()))?;

    let mut files = Vec::with_capacity(shard.num_files());
    for f in (0..shard.num_files()).filter_map(|i| shard.file(i)) {
        let file_hash = f.file_hash().hex();
        let mut size = 0u64;
        let mut segments = Vec::with_capacity(f.num_entries());
        for s in (0..f.num_entries()).map(|i| f.entry(i)) {
            if s.chunk_index_start >= s.chunk_index_end || s.unpacked_segment_bytes == 0 {
                return Err(bad(format!(
                    "file {file_hash}: an empty or reversed chunk range"
                )));
            }
            size += u64::from(s.unpacked_segment_bytes);
            segments.push(Segment {
                xorb: s.xorb_hash.hex(),
                chunk_start: s.chunk_index_start,
                chunk_end: s.chunk_index_end,
                bytes: s.unpacked_segment_bytes,
            });
        }
        files.push(ShardFile {
            file_hash,
            sha256: f.metadata_ext().map(|m| m.sha256.hex()),
            size,
            segments,
        });
    }
    if files.len() != shard.num_files() {
        return Err(bad("a file section could not be read".into()));
    }
    let mut xorbs = Vec::with_capacity(shard.num_xorb());
    for x in (0..shard.num_xorb()).filter_map(|i| shard.xorb(i)) {
        let hash = x.xorb_hash().hex();
        let chunks: Vec<(String, u32)> = (0..x.num_entries())
            .map(|i| x.chunk(i))
            .map(|c| (c.chunk_hash.hex(), c.unpacked_segment_bytes))
            .collect();
        let raw_bytes: u64 = chunks.iter().map(|(_, n)| u64::from(*n)).sum();
        if raw_bytes != u64::from(x.header().num_bytes_in_xorb) {
            return Err(bad(format!("xorb {hash}: chunk sizes do not add up")));
        }
        xorbs.push(ShardXorb {
            hash,
            chunks,
            raw_bytes,
        });
    }
    if xorbs.len() != shard.num_xorb() {
        return Err(bad("a xorb section could not be read".into()));
    }
    let dedup_chunks = shard
        .global_dedup_eligible_chunks()
        .iter()
        .map(|h| h.hex())
        .collect();
    Ok(ShardSummary {
        files,
        xorbs,
        dedup_chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;
    use xet_core_structures::merklehash::{compute_data_hash, file_hash, xorb_hash, MerkleHash};
    use xet_core_structures::metadata_shard::file_structs::{
        FileDataSequenceEntry, FileDataSequenceHeader, FileMetadataExt, MDBFileInfo,
    };
    use xet_core_structures::metadata_shard::shard_in_memory::MDBInMemoryShard;
    use xet_core_structures::metadata_shard::xorb_structs::{
        MDBXorbInfo, XorbChunkSequenceEntry, XorbChunkSequenceHeader,
    };

    /// A shard for one file of two chunks stored in one xorb, as hf_xet would write it.
    fn shard() -> (Vec<u8>, String, String, String) {
        let chunks: Vec<Vec<u8>> = vec![vec![1u8; 3000], vec![2u8; 5000]];
        let hashes: Vec<(MerkleHash, u64)> = chunks
            .iter()
            .map(|c| (compute_data_hash(c), c.len() as u64))
            .collect();
        let xorb = xorb_hash(&hashes);
        let file = file_hash(&hashes);
        let whole: Vec<u8> = chunks.concat();
        let sha: [u8; 32] = sha2::Sha256::digest(&whole).into();
        let mut mem = MDBInMemoryShard::default();
        let mut offset = 0u32;
        let entries = hashes
            .iter()
            .map(|(h, n)| {
                let e = XorbChunkSequenceEntry::new(*h, *n as u32, offset);
                offset += *n as u32;
                e
            })
            .collect::<Vec<_>>();
        mem.add_xorb_block(MDBXorbInfo {
            metadata: XorbChunkSequenceHeader::new(xorb, 2, 8000),
            chunks: entries,
        })
        .unwrap();
        mem.add_file_reconstruction_info(MDBFileInfo {
            metadata: FileDataSequenceHeader::new(file, 1, false, true),
            segments: vec![FileDataSequenceEntry::new(xorb, 8000, 0, 2)],
            verification: vec![],
            metadata_ext: Some(FileMetadataExt::new(MerkleHash::from_be_bytes(sha))),
        })
        .unwrap();
        (
            mem.to_bytes().unwrap(),
            file.hex(),
            xorb.hex(),
            hex::encode(sha),
        )
    }

    #[test]
    fn reads_files_xorbs_and_sha256() {
        let (bytes, file, xorb, sha) = shard();
        let s = parse(&bytes).unwrap();
        assert_eq!(s.files.len(), 1);
        let f = &s.files[0];
        assert_eq!((f.file_hash.as_str(), f.size), (file.as_str(), 8000));
        assert_eq!(f.sha256.as_deref(), Some(sha.as_str()), "plain sha256 hex");
        assert_eq!(
            f.segments,
            vec![Segment {
                xorb: xorb.clone(),
                chunk_start: 0,
                chunk_end: 2,
                bytes: 8000
            }]
        );
        assert_eq!(s.xorbs.len(), 1);
        assert_eq!(s.xorbs[0].hash, xorb);
        assert_eq!(s.xorbs[0].raw_bytes, 8000);
        assert_eq!(s.xorbs[0].chunks.len(), 2);
    }

    /// The shard hf_xet 1.8.0 sent after that xorb (tests/fixtures/xet).
    #[test]
    fn reads_the_shard_hf_xet_uploads() {
        let s = parse(include_bytes!("../../tests/fixtures/xet/upload.shard")).unwrap();
        let xorb = "c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324";
        assert_eq!(s.files.len(), 1);
        let f = &s.files[0];
        assert_eq!(
            f.sha256.as_deref(),
            Some("4080073adfed934d415d34fd37022e8818ca67ade271a87ce13ddfafcb29456c")
        );
        assert_eq!(f.size, 300_000);
        assert!(f.segments.iter().all(|seg| seg.xorb == xorb));
        assert_eq!(s.xorbs.len(), 1);
        assert_eq!(s.xorbs[0].hash, xorb);
        assert_eq!(s.xorbs[0].raw_bytes, 300_000);
    }

    #[test]
    fn refuses_garbage_truncation_and_size() {
        let (bytes, ..) = shard();
        assert!(parse(&[]).is_err());
        assert!(parse(b"not a shard at all, just some text").is_err());
        assert!(parse(&bytes[..bytes.len() / 2]).is_err());
        let upload = include_bytes!("../../tests/fixtures/xet/upload.shard");
        for cut in [1, 8, 48, upload.len() / 2] {
            assert!(
                parse(&upload[..upload.len() - cut]).is_err(),
                "{cut} bytes cut"
            );
        }
        assert!(matches!(
            parse(&vec![0u8; MAX_SHARD_BYTES + 1]),
            Err(Error::PayloadTooLarge(_))
        ));
    }
}
