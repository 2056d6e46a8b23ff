//! Git LFS pointer files (spec v1).

/// Largest pointer we will try to parse; real ones are ~130 bytes.
pub const MAX_POINTER_SIZE: usize = 1024;

/// Parsed pointer: the sha256 and size of the real content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub oid: String,
    pub size: u64,
}

impl Pointer {
    pub fn render(&self) -> String {
        format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
            self.oid, self.size
        )
    }

    /// Parse pointer text; `None` for anything that is not a valid v1 pointer.
    pub fn parse(data: &[u8]) -> Option<Pointer> {
        if data.len() > MAX_POINTER_SIZE {
            return None;
        }
        let text = std::str::from_utf8(data).ok()?;
        let mut lines = text.lines();
        let first = lines.next()?;
        if first != "version https://git-lfs.github.com/spec/v1"
            && first != "version https://hawser.github.com/spec/v1"
        {
            return None;
        }
        let mut oid = None;
        let mut size = None;
        for l in lines {
            if let Some(v) = l.strip_prefix("oid sha256:") {
                oid = Some(v.to_string());
            } else if let Some(v) = l.strip_prefix("size ") {
                size = v.parse().ok();
            }
        }
        let oid = oid?;
        if !crate::git::object::is_sha256_hex(&oid) {
            return None;
        }
        Some(Pointer { oid, size: size? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let p = Pointer {
            oid: "a".repeat(64),
            size: 12,
        };
        assert_eq!(Pointer::parse(p.render().as_bytes()), Some(p));
        assert_eq!(Pointer::parse(b"hello"), None);
    }
}
