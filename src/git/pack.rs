//! Pack files: writing (whole objects, zlib) for fetches, reading (with ofs/ref deltas) for
//! pushes. Every entry of a received pack is inflated, resolved and hashed before use.

use std::collections::HashMap;
use std::io::Write;

use flate2::{Decompress, FlushDecompress, Status};
use sha1::{Digest, Sha1};

use super::object::{object_id, Kind};
use crate::error::{Error, Result};

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::Commit => 1,
        Kind::Tree => 2,
        Kind::Blob => 3,
        Kind::Tag => 4,
    }
}

/// Entry header: type and size in git's variable-length encoding.
pub fn entry_header(kind: Kind, size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    let mut c = (kind_code(kind) << 4) | (size & 0x0f) as u8;
    let mut rest = size >> 4;
    while rest != 0 {
        out.push(c | 0x80);
        c = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(c);
    out
}

/// Incrementally builds a pack, keeping the running SHA-1 for the trailer.
pub struct PackWriter {
    hasher: Sha1,
}

impl PackWriter {
    /// Start a pack of `count` objects; returns the writer and the header bytes.
    pub fn start(count: u32) -> (PackWriter, Vec<u8>) {
        let mut head = b"PACK".to_vec();
        head.extend_from_slice(&2u32.to_be_bytes());
        head.extend_from_slice(&count.to_be_bytes());
        let mut hasher = Sha1::new();
        hasher.update(&head);
        (PackWriter { hasher }, head)
    }

    /// Encode one whole object.
    pub fn entry(&mut self, kind: Kind, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = entry_header(kind, data.len() as u64);
        let mut enc = flate2::write::ZlibEncoder::new(out, flate2::Compression::fast());
        enc.write_all(data)?;
        out = enc.finish()?;
        self.hasher.update(&out);
        Ok(out)
    }

    /// The trailing checksum.
    pub fn finish(self) -> Vec<u8> {
        self.hasher.finalize().to_vec()
    }
}

/// An object read from a pack.
#[derive(Debug, Clone)]
pub struct PackObject {
    pub id: String,
    pub kind: Kind,
    pub data: Vec<u8>,
}

enum Raw {
    Whole(Kind, Vec<u8>),
    OfsDelta(usize, Vec<u8>),
    RefDelta(String, Vec<u8>),
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid pack: {msg}"))
}

fn inflate(data: &[u8], expected: usize) -> Result<(Vec<u8>, usize)> {
    let mut d = Decompress::new(true);
    let mut out = Vec::with_capacity(expected);
    loop {
        let before_in = d.total_in() as usize;
        if before_in > data.len() {
            return Err(bad("truncated object data"));
        }
        if out.len() == out.capacity() {
            out.reserve(out.len().max(64));
        }
        let status = d
            .decompress_vec(&data[before_in..], &mut out, FlushDecompress::None)
            .map_err(|e| bad(format!("corrupt zlib data: {e}")))?;
        if out.len() > expected {
            return Err(bad("object larger than its header says"));
        }
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if d.total_in() as usize == before_in && out.len() < out.capacity() {
                    return Err(bad("truncated object data"));
                }
            }
        }
    }
    if out.len() != expected {
        return Err(bad("object size does not match its header"));
    }
    Ok((out, d.total_in() as usize))
}

/// Apply a git delta to `base`.
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>> {
    let mut i = 0usize;
    let mut varint = || -> Result<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = *delta.get(i).ok_or_else(|| bad("truncated delta"))?;
            i += 1;
            v |= ((b & 0x7f) as u64) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift > 63 {
                return Ok(v);
            }
        }
    };
    let src = varint()? as usize;
    let dst = varint()? as usize;
    if src != base.len() {
        return Err(bad("delta base size mismatch"));
    }
    let mut out = Vec::with_capacity(dst);
    while i < delta.len() {
        let op = delta[i];
        i += 1;
        if op & 0x80 != 0 {
            let mut off = 0usize;
            let mut size = 0usize;
            for bit in 0..4 {
                if op & (1 << bit) != 0 {
                    off |= (*delta.get(i).ok_or_else(|| bad("truncated delta"))? as usize)
                        << (8 * bit);
                    i += 1;
                }
            }
            for bit in 0..3 {
                if op & (0x10 << bit) != 0 {
                    size |= (*delta.get(i).ok_or_else(|| bad("truncated delta"))? as usize)
                        << (8 * bit);
                    i += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            let end = off
                .checked_add(size)
                .ok_or_else(|| bad("delta copy overflow"))?;
            out.extend_from_slice(
                base.get(off..end)
                    .ok_or_else(|| bad("delta copy out of range"))?,
            );
        } else if op != 0 {
            let n = op as usize;
            out.extend_from_slice(
                delta
                    .get(i..i + n)
                    .ok_or_else(|| bad("truncated delta insert"))?,
            );
            i += n;
        } else {
            return Err(bad("delta opcode 0"));
        }
        if out.len() > dst {
            return Err(bad("delta result too large"));
        }
    }
    if out.len() != dst {
        return Err(bad("delta result size mismatch"));
    }
    Ok(out)
}

/// Result of reading a pack: its objects, or the ids of bases it needs from the repository.
pub enum ReadOutcome {
    Objects(Vec<PackObject>),
    NeedBases(Vec<String>),
}

/// Parse and resolve a whole pack. `external` holds bases from the repository for thin packs;
/// when some are missing the ids are returned so the caller can fetch them and retry.
pub fn read_pack(
    pack: &[u8],
    external: &HashMap<String, (Kind, Vec<u8>)>,
    max_objects: u32,
) -> Result<ReadOutcome> {
    if pack.len() < 32 || &pack[..4] != b"PACK" {
        return Err(bad("missing PACK header"));
    }
    let version = u32::from_be_bytes([pack[4], pack[5], pack[6], pack[7]]);
    if version != 2 && version != 3 {
        return Err(bad(format!("unsupported version {version}")));
    }
    let count = u32::from_be_bytes([pack[8], pack[9], pack[10], pack[11]]);
    if count > max_objects {
        return Err(bad(format!(
            "{count} objects is more than the limit of {max_objects}"
        )));
    }
    let body_end = pack.len() - 20;
    let sum = Sha1::digest(&pack[..body_end]);
    if sum.as_slice() != &pack[body_end..] {
        return Err(bad("checksum mismatch (truncated or corrupt)"));
    }
    let mut pos = 12usize;
    let mut entries: Vec<(usize, Raw)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let start = pos;
        let mut c = *pack
            .get(pos)
            .filter(|_| pos < body_end)
            .ok_or_else(|| bad("truncated entry header"))?;
        pos += 1;
        let code = (c >> 4) & 7;
        let mut size = (c & 0x0f) as u64;
        let mut shift = 4;
        while c & 0x80 != 0 {
            c = *pack
                .get(pos)
                .filter(|_| pos < body_end)
                .ok_or_else(|| bad("truncated entry header"))?;
            pos += 1;
            if shift > 56 {
                return Err(bad("entry size too large"));
            }
            size |= ((c & 0x7f) as u64) << shift;
            shift += 7;
        }
        if size > (1 << 32) {
            return Err(bad("entry larger than 4 GiB"));
        }
        let raw_kind = match code {
            1 => Some(Kind::Commit),
            2 => Some(Kind::Tree),
            3 => Some(Kind::Blob),
            4 => Some(Kind::Tag),
            6 | 7 => None,
            other => return Err(bad(format!("unknown entry type {other}"))),
        };
        let mut base_off = None;
        let mut base_id = None;
        if code == 6 {
            let mut b = *pack.get(pos).ok_or_else(|| bad("truncated delta offset"))?;
            pos += 1;
            let mut off = (b & 0x7f) as usize;
            while b & 0x80 != 0 {
                b = *pack.get(pos).ok_or_else(|| bad("truncated delta offset"))?;
                pos += 1;
                off = off
                    .checked_add(1)
                    .and_then(|o| o.checked_mul(128))
                    .ok_or_else(|| bad("delta offset overflow"))?
                    | (b & 0x7f) as usize;
            }
            if off == 0 || off > start {
                return Err(bad("delta offset out of range"));
            }
            base_off = Some(start - off);
        } else if code == 7 {
            let id = pack
                .get(pos..pos + 20)
                .ok_or_else(|| bad("truncated delta base"))?;
            base_id = Some(hex::encode(id));
            pos += 20;
        }
        let (data, used) = inflate(&pack[pos..body_end], size as usize)?;
        pos += used;
        let raw = match (raw_kind, base_off, base_id) {
            (Some(k), _, _) => Raw::Whole(k, data),
            (None, Some(off), _) => Raw::OfsDelta(off, data),
            (None, None, Some(id)) => Raw::RefDelta(id, data),
            _ => return Err(bad("delta without base")),
        };
        entries.push((start, raw));
    }
    if pos != body_end {
        return Err(bad("trailing garbage after the last object"));
    }

    // Resolve deltas until nothing changes.
    let by_offset: HashMap<usize, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (o, _))| (*o, i))
        .collect();
    let mut resolved: Vec<Option<(Kind, Vec<u8>, String)>> = vec![None; entries.len()];
    let mut by_id: HashMap<String, usize> = HashMap::new();
    loop {
        let mut progress = false;
        let mut pending = false;
        for i in 0..entries.len() {
            if resolved[i].is_some() {
                continue;
            }
            let res = match &entries[i].1 {
                Raw::Whole(k, d) => Some((*k, d.clone())),
                Raw::OfsDelta(off, delta) => {
                    let bi = *by_offset
                        .get(off)
                        .ok_or_else(|| bad("delta base is not an entry"))?;
                    match &resolved[bi] {
                        Some((k, base, _)) => Some((*k, apply_delta(base, delta)?)),
                        None => None,
                    }
                }
                Raw::RefDelta(id, delta) => {
                    if let Some(bi) = by_id.get(id) {
                        resolved[*bi]
                            .as_ref()
                            .map(|(k, base, _)| apply_delta(base, delta).map(|d| (*k, d)))
                            .transpose()?
                    } else if let Some((k, base)) = external.get(id) {
                        Some((*k, apply_delta(base, delta)?))
                    } else {
                        None
                    }
                }
            };
            match res {
                Some((k, d)) => {
                    let id = object_id(k, &d);
                    by_id.insert(id.clone(), i);
                    resolved[i] = Some((k, d, id));
                    progress = true;
                }
                None => pending = true,
            }
        }
        if !pending {
            break;
        }
        if !progress {
            let missing: Vec<String> = entries
                .iter()
                .enumerate()
                .filter(|(i, _)| resolved[*i].is_none())
                .filter_map(|(_, (_, r))| match r {
                    Raw::RefDelta(id, _)
                        if !by_id.contains_key(id) && !external.contains_key(id) =>
                    {
                        Some(id.clone())
                    }
                    _ => None,
                })
                .collect();
            if missing.is_empty() {
                return Err(bad("unresolvable deltas"));
            }
            return Ok(ReadOutcome::NeedBases(missing));
        }
    }
    Ok(ReadOutcome::Objects(
        resolved
            .into_iter()
            .flatten()
            .map(|(kind, data, id)| PackObject { id, kind, data })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack_of(objs: &[(Kind, &[u8])]) -> Vec<u8> {
        let (mut w, mut out) = PackWriter::start(objs.len() as u32);
        for (k, d) in objs {
            out.extend(w.entry(*k, d).unwrap());
        }
        out.extend(w.finish());
        out
    }

    #[test]
    fn write_then_read() {
        let p = pack_of(&[(Kind::Blob, b"hello\n"), (Kind::Blob, &vec![7u8; 100_000])]);
        let ReadOutcome::Objects(objs) = read_pack(&p, &HashMap::new(), 10).unwrap() else {
            panic!()
        };
        assert_eq!(objs[0].id, "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(objs[1].data.len(), 100_000);
    }

    #[test]
    fn corrupt_packs_refused() {
        let p = pack_of(&[(Kind::Blob, b"hello\n")]);
        assert!(read_pack(&p[..p.len() - 1], &HashMap::new(), 10).is_err());
        let mut q = p.clone();
        q[14] ^= 0xff;
        assert!(read_pack(&q, &HashMap::new(), 10).is_err());
        assert!(read_pack(b"NOPE", &HashMap::new(), 10).is_err());
        assert!(read_pack(&p, &HashMap::new(), 0).is_err());
    }

    #[test]
    fn delta() {
        // copy 5 bytes from offset 0, insert "!!"
        let base = b"hello world";
        let delta = [11u8, 7, 0x90, 5, 2, b'!', b'!'];
        assert_eq!(apply_delta(base, &delta).unwrap(), b"hello!!");
        assert!(apply_delta(b"short", &delta).is_err());
    }
}
