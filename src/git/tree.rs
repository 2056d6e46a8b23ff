//! Tree objects: parse, serialise in git's canonical order.

use crate::error::{Error, Result};

pub const MODE_FILE: &str = "100644";
pub const MODE_EXEC: &str = "100755";
pub const MODE_SYMLINK: &str = "120000";
pub const MODE_TREE: &str = "40000";
pub const MODE_SUBMODULE: &str = "160000";

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub mode: String,
    pub name: String,
    pub oid: String,
}

impl TreeEntry {
    pub fn is_tree(&self) -> bool {
        self.mode == MODE_TREE
    }
    /// Regular, executable or symlink blobs (what the HF API calls files).
    pub fn is_blob(&self) -> bool {
        matches!(self.mode.as_str(), MODE_FILE | MODE_EXEC | MODE_SYMLINK)
    }
}

/// Parse a tree's binary content.
pub fn parse_tree(data: &[u8]) -> Result<Vec<TreeEntry>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let sp = data[i..]
            .iter()
            .position(|b| *b == b' ')
            .ok_or_else(|| Error::internal("corrupt tree: no mode"))?;
        let mode = std::str::from_utf8(&data[i..i + sp])
            .map_err(|_| Error::internal("corrupt tree mode"))?;
        i += sp + 1;
        let nul = data[i..]
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| Error::internal("corrupt tree: no name"))?;
        let name = String::from_utf8(data[i..i + nul].to_vec())
            .map_err(|_| Error::internal("tree name not utf-8"))?;
        i += nul + 1;
        if i + 20 > data.len() {
            return Err(Error::internal("corrupt tree: short id"));
        }
        let oid = hex::encode(&data[i..i + 20]);
        i += 20;
        out.push(TreeEntry {
            mode: mode.to_string(),
            name,
            oid,
        });
    }
    Ok(out)
}

/// Git orders entries by name, comparing trees as if their name ended with `/`.
fn sort_key(e: &TreeEntry) -> Vec<u8> {
    let mut k = e.name.as_bytes().to_vec();
    if e.is_tree() {
        k.push(b'/');
    }
    k
}

/// Serialise entries (sorted here) to a tree's binary content.
pub fn serialize_tree(entries: &mut [TreeEntry]) -> Result<Vec<u8>> {
    entries.sort_by_key(sort_key);
    let mut out = Vec::with_capacity(entries.len() * 40);
    for e in entries.iter() {
        out.extend_from_slice(e.mode.as_bytes());
        out.push(b' ');
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        out.extend_from_slice(
            &hex::decode(&e.oid).map_err(|_| Error::internal("bad oid in tree"))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::object::{object_id, Kind};

    #[test]
    fn empty_tree_id() {
        assert_eq!(
            object_id(Kind::Tree, &serialize_tree(&mut []).unwrap()),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn order_and_roundtrip() {
        let blob = "ce013625030ba8dba906f756967f9e9ca394464a".to_string();
        let mut entries = vec![
            TreeEntry {
                mode: MODE_FILE.into(),
                name: "a.txt".into(),
                oid: blob.clone(),
            },
            TreeEntry {
                mode: MODE_TREE.into(),
                name: "a".into(),
                oid: blob.clone(),
            },
            TreeEntry {
                mode: MODE_FILE.into(),
                name: "a-b".into(),
                oid: blob.clone(),
            },
        ];
        let data = serialize_tree(&mut entries).unwrap();
        let names: Vec<_> = parse_tree(&data)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        // "a-b" < "a.txt" < "a/" in byte order
        assert_eq!(names, vec!["a-b", "a.txt", "a"]);
    }
}
