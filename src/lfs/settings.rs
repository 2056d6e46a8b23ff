//! Per-repository LFS settings on top of the server's: threshold, versions kept by GC, suffix
//! rules (added to the server's list).

use crate::db::Conn;
use crate::params;
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};

/// Smallest per-repo threshold accepted.
pub const MIN_THRESHOLD: u64 = 1_000_000;

/// A repository's own settings (`None`: inherit the server's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoLfs {
    pub threshold_bytes: Option<u64>,
    pub keep_versions: Option<u64>,
    pub suffix_rules: Option<Vec<String>>,
}

/// What applies, and where each value comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    pub threshold_bytes: u64,
    pub threshold_source: &'static str,
    pub keep_versions: u64,
    pub keep_versions_source: &'static str,
    pub suffix_rules: Vec<String>,
}

pub fn load(conn: &Conn, repo_id: i64) -> Result<RepoLfs> {
    let (t, k, s): (Option<i64>, Option<i64>, Option<String>) = conn.query_row(
        "SELECT lfs_threshold_bytes, lfs_keep_versions, lfs_suffix_rules FROM repos WHERE id = ?1",
        [repo_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(RepoLfs {
        threshold_bytes: t.map(|v| v as u64),
        keep_versions: k.map(|v| v as u64),
        suffix_rules: s.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

pub fn effective(cfg: &Config, repo: &RepoLfs) -> Effective {
    let mut suffix_rules = cfg.lfs_suffix_rules.clone();
    for s in repo.suffix_rules.iter().flatten() {
        if !suffix_rules.contains(s) {
            suffix_rules.push(s.clone());
        }
    }
    Effective {
        threshold_bytes: repo.threshold_bytes.unwrap_or(cfg.lfs_threshold_bytes),
        threshold_source: if repo.threshold_bytes.is_some() {
            "repository"
        } else {
            "server"
        },
        keep_versions: repo.keep_versions.unwrap_or(cfg.lfs_keep_versions),
        keep_versions_source: if repo.keep_versions.is_some() {
            "repository"
        } else {
            "server"
        },
        suffix_rules,
    }
}

/// A change: `Some(None)` resets a value to the server's.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub threshold_bytes: Option<Option<u64>>,
    pub keep_versions: Option<Option<u64>>,
    pub suffix_rules: Option<Option<Vec<String>>>,
}

pub fn update(conn: &Conn, repo_id: i64, upd: &Update) -> Result<()> {
    if let Some(t) = upd.threshold_bytes {
        if t.is_some_and(|t| t < MIN_THRESHOLD) {
            return Err(Error::bad_request(format!(
                "lfs_threshold_bytes must be at least {MIN_THRESHOLD}"
            )));
        }
        conn.execute(
            "UPDATE repos SET lfs_threshold_bytes = ?1 WHERE id = ?2",
            params![t.map(|v| v as i64), repo_id],
        )?;
    }
    if let Some(k) = upd.keep_versions {
        if k.is_some_and(|k| !(2..=10_000).contains(&k)) {
            return Err(Error::bad_request(
                "lfs_keep_versions must be between 2 and 10000",
            ));
        }
        conn.execute(
            "UPDATE repos SET lfs_keep_versions = ?1 WHERE id = ?2",
            params![k.map(|v| v as i64), repo_id],
        )?;
    }
    if let Some(rules) = &upd.suffix_rules {
        let normalized = match rules {
            None => None,
            Some(list) => {
                if list.len() > 200 {
                    return Err(Error::bad_request("At most 200 LFS suffix rules"));
                }
                let mut out = Vec::new();
                for r in list {
                    let r = r.trim().to_ascii_lowercase();
                    let r = if r.starts_with('.') {
                        r
                    } else {
                        format!(".{r}")
                    };
                    if r.len() < 2
                        || r.len() > 32
                        || !r[1..]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
                    {
                        return Err(Error::bad_request(format!("Invalid LFS suffix rule '{r}'")));
                    }
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
                Some(serde_json::to_string(&out).map_err(Error::internal)?)
            }
        };
        conn.execute(
            "UPDATE repos SET lfs_suffix_rules = ?1 WHERE id = ?2",
            params![normalized, repo_id],
        )?;
    }
    Ok(())
}
