//! Commit and annotated-tag objects.

use crate::error::{Error, Result};

/// A person line: `Name <email> 1700000000 +0000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
    pub time: i64,
    pub tz: String,
}

impl Signature {
    pub fn now(name: &str, email: &str) -> Signature {
        Signature {
            name: name.replace(['<', '>', '\n'], ""),
            email: email.replace(['<', '>', '\n'], ""),
            time: chrono::Utc::now().timestamp(),
            tz: "+0000".into(),
        }
    }

    fn render(&self) -> String {
        format!("{} <{}> {} {}", self.name, self.email, self.time, self.tz)
    }

    fn parse(s: &str) -> Result<Signature> {
        let lt = s
            .find('<')
            .ok_or_else(|| Error::internal("bad signature"))?;
        let gt = s
            .rfind('>')
            .ok_or_else(|| Error::internal("bad signature"))?;
        if gt < lt {
            return Err(Error::internal("bad signature"));
        }
        let mut rest = s[gt + 1..].split_whitespace();
        let time = rest.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        let tz = rest.next().unwrap_or("+0000").to_string();
        Ok(Signature {
            name: s[..lt].trim_end().to_string(),
            email: s[lt + 1..gt].to_string(),
            time,
            tz,
        })
    }

    /// Time as RFC 3339 UTC with `Z`.
    pub fn iso_time(&self) -> String {
        chrono::DateTime::from_timestamp(self.time, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }
}

/// A parsed commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

impl Commit {
    pub fn serialize(&self) -> Vec<u8> {
        let mut s = format!("tree {}\n", self.tree);
        for p in &self.parents {
            s.push_str(&format!("parent {p}\n"));
        }
        s.push_str(&format!("author {}\n", self.author.render()));
        s.push_str(&format!("committer {}\n", self.committer.render()));
        s.push('\n');
        s.push_str(&self.message);
        s.into_bytes()
    }

    pub fn parse(data: &[u8]) -> Result<Commit> {
        let text = String::from_utf8_lossy(data);
        let (headers, message) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut tree = None;
        let mut parents = Vec::new();
        let mut author = None;
        let mut committer = None;
        for line in headers.lines() {
            if let Some(v) = line.strip_prefix("tree ") {
                tree = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("parent ") {
                parents.push(v.to_string());
            } else if let Some(v) = line.strip_prefix("author ") {
                author = Some(Signature::parse(v)?);
            } else if let Some(v) = line.strip_prefix("committer ") {
                committer = Some(Signature::parse(v)?);
            }
        }
        let author = author.ok_or_else(|| Error::internal("commit without author"))?;
        Ok(Commit {
            tree: tree.ok_or_else(|| Error::internal("commit without tree"))?,
            parents,
            committer: committer.unwrap_or_else(|| author.clone()),
            author,
            message: message.to_string(),
        })
    }

    /// First line of the message.
    pub fn title(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

/// Refuse a NUL byte in a commit or tag object, or in text bound for one: git stops reading a
/// message at NUL and `git fsck` flags it (`nulInCommit`), so such an object cannot be mirrored.
/// `what` names the offending field for the message.
pub fn check_no_nul(bytes: &[u8], what: &str) -> Result<()> {
    if bytes.contains(&0) {
        return Err(Error::bad_request(format!(
            "{what} contains a NUL byte, which git cannot store in a commit or tag"
        )));
    }
    Ok(())
}

/// Compose a commit message from HF's summary and description.
pub fn compose_message(summary: &str, description: &str) -> String {
    let summary = summary.trim();
    let description = description.trim();
    if description.is_empty() {
        format!("{summary}\n")
    } else {
        format!("{summary}\n\n{description}\n")
    }
}

/// An annotated tag object.
#[derive(Debug, Clone)]
pub struct Tag {
    pub object: String,
    pub kind: String,
    pub name: String,
    pub tagger: Signature,
    pub message: String,
}

impl Tag {
    pub fn serialize(&self) -> Vec<u8> {
        format!(
            "object {}\ntype {}\ntag {}\ntagger {}\n\n{}",
            self.object,
            self.kind,
            self.name,
            self.tagger.render(),
            self.message
        )
        .into_bytes()
    }

    /// The `object` a tag points at.
    pub fn parse_target(data: &[u8]) -> Result<String> {
        let text = String::from_utf8_lossy(data);
        text.lines()
            .find_map(|l| l.strip_prefix("object "))
            .map(str::to_string)
            .ok_or_else(|| Error::internal("tag without object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let c = Commit {
            tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
            parents: vec!["ce013625030ba8dba906f756967f9e9ca394464a".into()],
            author: Signature {
                name: "al ice".into(),
                email: "a@x".into(),
                time: 5,
                tz: "+0000".into(),
            },
            committer: Signature {
                name: "al ice".into(),
                email: "a@x".into(),
                time: 5,
                tz: "+0000".into(),
            },
            message: compose_message("t", "d"),
        };
        let back = Commit::parse(&c.serialize()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.title(), "t");
        assert_eq!(back.author.iso_time(), "1970-01-01T00:00:05.000Z");
    }

    #[test]
    fn nul_is_refused() {
        assert!(check_no_nul(b"fine\n\nbody", "message").is_ok());
        assert!(check_no_nul(b"a\0b", "message").is_err());
        assert!(check_no_nul(b"\0", "message").is_err());
    }
}
