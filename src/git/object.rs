//! Git's object encoding: `"{type} {len}\0{data}"`, SHA-1 named, zlib-compressed on disk.

use std::io::{Read, Write};

use sha1::{Digest, Sha1};

use crate::error::{Error, Result};

/// The four git object kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blob,
    Tree,
    Commit,
    Tag,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Blob => "blob",
            Kind::Tree => "tree",
            Kind::Commit => "commit",
            Kind::Tag => "tag",
        }
    }
    fn parse(s: &[u8]) -> Option<Kind> {
        match s {
            b"blob" => Some(Kind::Blob),
            b"tree" => Some(Kind::Tree),
            b"commit" => Some(Kind::Commit),
            b"tag" => Some(Kind::Tag),
            _ => None,
        }
    }
}

/// SHA-1 id of an object with this kind and content.
pub fn object_id(kind: Kind, data: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{} {}\0", kind.as_str(), data.len()).as_bytes());
    h.update(data);
    hex::encode(h.finalize())
}

/// Loose-object encoding (zlib of header + data) and the object's id.
pub fn encode_loose(kind: Kind, data: &[u8]) -> Result<(String, Vec<u8>)> {
    let header = format!("{} {}\0", kind.as_str(), data.len());
    let mut h = Sha1::new();
    h.update(header.as_bytes());
    h.update(data);
    let id = hex::encode(h.finalize());
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(header.as_bytes())?;
    enc.write_all(data)?;
    Ok((id, enc.finish()?))
}

/// Decode a loose object, checking that its content matches `expected_id`.
pub fn decode_loose(bytes: &[u8], expected_id: &str) -> Result<(Kind, Vec<u8>)> {
    let (kind, data) = decode_loose_unverified(bytes, expected_id)?;
    if object_id(kind, &data) != expected_id {
        return Err(Error::internal(format!(
            "corrupt object {expected_id}: hash mismatch"
        )));
    }
    Ok((kind, data))
}

/// Decode without re-hashing: for packs, whose receiver verifies every object anyway.
pub fn decode_loose_unverified(bytes: &[u8], expected_id: &str) -> Result<(Kind, Vec<u8>)> {
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .read_to_end(&mut raw)
        .map_err(|e| Error::internal(format!("corrupt object {expected_id}: {e}")))?;
    let nul = raw
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| Error::internal(format!("corrupt object {expected_id}: no header")))?;
    let header = &raw[..nul];
    let sp = header
        .iter()
        .position(|b| *b == b' ')
        .ok_or_else(|| Error::internal(format!("corrupt object {expected_id}: bad header")))?;
    let kind = Kind::parse(&header[..sp])
        .ok_or_else(|| Error::internal(format!("corrupt object {expected_id}: bad kind")))?;
    let len: usize = std::str::from_utf8(&header[sp + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::internal(format!("corrupt object {expected_id}: bad length")))?;
    let data = raw.split_off(nul + 1);
    if data.len() != len {
        return Err(Error::internal(format!(
            "corrupt object {expected_id}: length mismatch"
        )));
    }
    if object_id(kind, &data) != expected_id {
        return Err(Error::internal(format!(
            "corrupt object {expected_id}: hash mismatch"
        )));
    }
    Ok((kind, data))
}

/// `true` for a 40-character lowercase hex id.
pub fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `true` for a 64-character lowercase hex sha256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            object_id(Kind::Blob, b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        let (id, enc) = encode_loose(Kind::Blob, b"hello\n").unwrap();
        let (k, d) = decode_loose(&enc, &id).unwrap();
        assert_eq!(k, Kind::Blob);
        assert_eq!(d, b"hello\n");
        assert!(decode_loose(&enc, "ce013625030ba8dba906f756967f9e9ca394464b").is_err());
    }
}
