//! Storage quotas: per user/org (private and public) and per repository, enforced wherever
//! bytes come in (preupload, LFS batch, commit, git push) or change buckets (visibility,
//! move). Repo usage = regular files on `main` + unique LFS objects in its history.
//! Kept up to date from each change by the ref-update pipeline (`commits::pipeline`);
//! [`recalc_repo`] is the full walk that defines it (`kohaku quota recalculate`).

use crate::db::{Conn, OptionalExtension};
use crate::params;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::repos::{refs, Repo};

/// Parse `10GB`, `500MiB`, `1024`, `unlimited` (→ `None`).
pub fn parse_size(s: &str) -> Result<Option<u64>> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| Error::bad_request(format!("Invalid size '{s}'")))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "mb" | "m" => 1000_u64.pow(2),
        "gb" | "g" => 1000_u64.pow(3),
        "tb" | "t" => 1000_u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(Error::bad_request(format!(
                "Invalid size unit in '{s}': use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
            )))
        }
    };
    if n < 0.0 || !n.is_finite() {
        return Err(Error::bad_request(format!("Invalid size '{s}'")));
    }
    Ok(Some((n * mult as f64).round() as u64))
}

/// Human form of a byte count.
pub fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", units[i])
    }
}

/// Bytes the LFS files in a repo's history take: each plain object once, and for files
/// uploaded through Xet the stored bytes of the chunk ranges they use, each chunk once (after
/// dedup, and never the rest of a xorb another file shares).
pub fn repo_lfs_bytes(conn: &Conn, repo_id: i64) -> Result<u64> {
    let plain: i64 = conn.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM (SELECT h.oid, MAX(h.size) AS size FROM lfs_history h \
         LEFT JOIN lfs_objects o ON o.oid = h.oid WHERE h.repo_id = ?1 AND o.xet_hash IS NULL GROUP BY h.oid) AS per_object",
        [repo_id],
        |r| r.get(0),
    )?;
    let xet = crate::xet::usage::bytes(conn, crate::xet::usage::repo_ranges(conn, repo_id, None)?)?;
    Ok(plain as u64 + xet)
}

/// Recompute and store a repo's usage.
pub async fn recalc_repo(hub: &Hub, repo_id: i64) -> Result<u64> {
    let head = hub
        .db
        .call(move |c| refs::get_ref(c, repo_id, refs::MAIN))
        .await?;
    let mut regular = 0u64;
    if let Some(h) = &head {
        let tree = hub.objects.commit(repo_id, h).await?.tree.clone();
        for f in crate::files::all_files(hub, repo_id, &tree).await? {
            if f.lfs.is_none() {
                regular += f.size;
            }
        }
    }
    // Written only if main still points where it was measured: with several processes a
    // slower recalculation of an older head must not overwrite a newer one's result. In a
    // write transaction, so no ref move (which adds its change to the stored value) lands
    // between reading the LFS history and writing the total.
    hub.db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let used = regular + repo_lfs_bytes(&tx, repo_id)?;
            tx.execute(
                "UPDATE repos SET used_bytes = ?1 WHERE id = ?2 AND \
                 (SELECT target FROM refs WHERE repo_id = ?2 AND name = ?3) IS NOT DISTINCT FROM ?4",
                params![used as i64, repo_id, refs::MAIN, head],
            )?;
            tx.commit()?;
            Ok(used)
        })
        .await
}

/// What adding `rows` to the repo's LFS history adds to [`repo_lfs_bytes`], measured before
/// they are inserted (in the same transaction): for plain objects, the growth of each oid's
/// largest recorded size (all of it for an oid new to the history); for Xet objects new to the
/// history, the stored bytes of the chunks the history does not use yet. Exact by the same
/// definition, and its cost grows with the rows, not with the history.
pub fn lfs_rows_bytes(
    conn: &Conn,
    repo_id: i64,
    rows: &[crate::commits::apply::LfsAdded],
) -> Result<u64> {
    use crate::xet::usage;
    let mut biggest: std::collections::BTreeMap<&str, u64> = Default::default();
    for r in rows {
        let e = biggest.entry(r.oid.as_str()).or_default();
        *e = (*e).max(r.size);
    }
    let mut total = 0u64;
    let mut added = usage::Ranges::new();
    for (oid, size) in biggest {
        let (known, had): (Option<i64>, i64) = conn.query_row(
            "SELECT MAX(size), COUNT(*) FROM lfs_history WHERE repo_id = ?1 AND oid = ?2",
            params![repo_id, oid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let xet: Option<Option<String>> = conn
            .query_row(
                "SELECT xet_hash FROM lfs_objects WHERE oid = ?1",
                [oid],
                |r| r.get(0),
            )
            .optional()?;
        if xet.flatten().is_none() {
            // `repo_lfs_bytes` counts an object without a Xet hash (or row) at its largest size.
            total += size.saturating_sub(known.unwrap_or(0).max(0) as u64);
        } else if had == 0 {
            for (xorb, r) in usage::object_ranges(conn, oid)? {
                added.entry(xorb).or_default().extend(r);
            }
        }
    }
    Ok(total + xorb_growth(conn, repo_id, added)?)
}

/// Ids of a namespace's repositories (for recalculation).
pub fn namespace_repo_ids(conn: &Conn, ns: &str) -> Result<Vec<i64>> {
    let mut st = conn.prepare("SELECT id FROM repos WHERE namespace = ?1 ORDER BY id")?;
    let ids = st
        .query_map([ns], |r| r.get(0))?
        .collect::<crate::db::DbResult<Vec<i64>>>()?;
    Ok(ids)
}

/// Ids of every repository.
pub fn all_repo_ids(conn: &Conn) -> Result<Vec<i64>> {
    let mut st = conn.prepare("SELECT id FROM repos ORDER BY id")?;
    let ids = st
        .query_map(crate::params![], |r| r.get(0))?
        .collect::<crate::db::DbResult<Vec<i64>>>()?;
    Ok(ids)
}

/// A namespace's quotas and usage.
#[derive(Debug, Clone, Serialize)]
pub struct NamespaceQuota {
    pub namespace: String,
    pub is_organization: bool,
    pub private_quota_bytes: Option<u64>,
    pub public_quota_bytes: Option<u64>,
    pub private_used_bytes: u64,
    pub public_used_bytes: u64,
}

pub fn namespace_quota(conn: &Conn, ns: &str) -> Result<NamespaceQuota> {
    let row: Option<(bool, Option<i64>, Option<i64>)> = conn
        .query_row(
            "SELECT is_org, private_quota_bytes, public_quota_bytes FROM users WHERE username = ?1",
            [ns],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (is_org, pq, uq) =
        row.ok_or_else(|| Error::EntryNotFound(format!("Namespace '{ns}' not found")))?;
    let used = |private: bool| -> Result<u64> {
        let n: i64 = conn.query_row(
            "SELECT COALESCE(SUM(used_bytes), 0) FROM repos WHERE namespace = ?1 AND private = ?2",
            params![ns, private],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    };
    Ok(NamespaceQuota {
        namespace: ns.to_string(),
        is_organization: is_org,
        private_quota_bytes: pq.map(|v| v as u64),
        public_quota_bytes: uq.map(|v| v as u64),
        private_used_bytes: used(true)?,
        public_used_bytes: used(false)?,
    })
}

fn exceeded(what: &str, used: u64, quota: u64, extra: u64) -> Error {
    Error::PayloadTooLarge(format!(
        "Quota exceeded for {what}: {} used of {} allowed, and this needs {} more",
        human(used),
        human(quota),
        human(extra)
    ))
}

/// Would `extra` more bytes in `repo` (as `private`, in namespace `ns`) fit every quota?
pub fn check(conn: &Conn, repo_id: Option<i64>, ns: &str, private: bool, extra: u64) -> Result<()> {
    if extra == 0 {
        return Ok(());
    }
    if let Some(id) = repo_id {
        // A repository deleted while a request works on it is gone, not an error.
        let (quota, used): (Option<i64>, i64) = conn
            .query_row(
                "SELECT quota_bytes, used_bytes FROM repos WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(Error::repo_not_found)?;
        if let Some(q) = quota {
            if used as u64 + extra > q as u64 {
                return Err(exceeded("this repository", used as u64, q as u64, extra));
            }
        }
    }
    let nq = namespace_quota(conn, ns)?;
    let (quota, used, kind) = if private {
        (nq.private_quota_bytes, nq.private_used_bytes, "private")
    } else {
        (nq.public_quota_bytes, nq.public_used_bytes, "public")
    };
    if let Some(q) = quota {
        if used + extra > q {
            return Err(exceeded(
                &format!("{ns} ({kind} repositories)"),
                used,
                q,
                extra,
            ));
        }
    }
    Ok(())
}

/// Check adding `extra` bytes to an existing repo.
pub fn check_repo(conn: &Conn, repo: &Repo, extra: u64) -> Result<()> {
    check(conn, Some(repo.id), &repo.namespace, repo.private, extra)
}

/// Check moving a repo's whole usage into another bucket (visibility change or move).
pub fn check_rehome(conn: &Conn, repo: &Repo, ns: &str, private: bool) -> Result<()> {
    if ns == repo.namespace && private == repo.private {
        return Ok(());
    }
    let used: i64 = conn
        .query_row(
            "SELECT used_bytes FROM repos WHERE id = ?1",
            [repo.id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(Error::repo_not_found)?;
    check(conn, None, ns, private, used as u64)
}

/// Bytes of `oids` (with sizes) that the repo's history does not hold yet; for Xet files,
/// the stored bytes of the chunks the repository does not use yet.
pub fn new_lfs_bytes(conn: &Conn, repo_id: i64, objects: &[(String, u64)]) -> Result<u64> {
    use crate::xet::usage;
    let mut seen = std::collections::HashSet::new();
    let mut added = usage::Ranges::new();
    let mut total = 0;
    for (oid, size) in objects {
        if !seen.insert(oid.clone()) || crate::lfs::repo_has_object(conn, repo_id, oid)? {
            continue;
        }
        let ranges = usage::object_ranges(conn, oid)?;
        if ranges.is_empty() {
            total += size;
            continue;
        }
        for (xorb, r) in ranges {
            added.entry(xorb).or_default().extend(r);
        }
    }
    Ok(total + xorb_growth(conn, repo_id, added)?)
}

/// Set a namespace's quotas (`Some(None)`: unlimited, `None`: unchanged).
pub fn set_namespace_quota(
    conn: &Conn,
    ns: &str,
    private: Option<Option<u64>>,
    public: Option<Option<u64>>,
) -> Result<NamespaceQuota> {
    namespace_quota(conn, ns)?;
    if let Some(p) = private {
        conn.execute(
            "UPDATE users SET private_quota_bytes = ?1 WHERE username = ?2",
            params![p.map(|v| v as i64), ns],
        )?;
    }
    if let Some(p) = public {
        conn.execute(
            "UPDATE users SET public_quota_bytes = ?1 WHERE username = ?2",
            params![p.map(|v| v as i64), ns],
        )?;
    }
    namespace_quota(conn, ns)
}

pub fn set_repo_quota(conn: &Conn, repo_id: i64, quota: Option<u64>) -> Result<()> {
    conn.execute(
        "UPDATE repos SET quota_bytes = ?1 WHERE id = ?2",
        params![quota.map(|v| v as i64), repo_id],
    )?;
    Ok(())
}

/// `(quota, used)` of a repo.
pub fn repo_quota(conn: &Conn, repo_id: i64) -> Result<(Option<u64>, u64)> {
    let (q, u): (Option<i64>, i64) = conn.query_row(
        "SELECT quota_bytes, used_bytes FROM repos WHERE id = ?1",
        [repo_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((q.map(|v| v as u64), u as u64))
}

/// The stored bytes that chunk ranges `added` add to what `repo_id`'s Xet files already use.
fn xorb_growth(conn: &Conn, repo_id: i64, added: crate::xet::usage::Ranges) -> Result<u64> {
    use crate::xet::usage;
    let mut total = 0u64;
    for (xorb, new) in added {
        let old = usage::repo_ranges(conn, repo_id, Some(&xorb))?
            .remove(&xorb)
            .unwrap_or_default();
        let before = usage::xorb_range_bytes(conn, &xorb, old.clone())?;
        let after = usage::xorb_range_bytes(conn, &xorb, old.into_iter().chain(new).collect())?;
        total += after.saturating_sub(before);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10GB").unwrap(), Some(10_000_000_000));
        assert_eq!(parse_size("500MiB").unwrap(), Some(500 << 20));
        assert_eq!(parse_size("1.5 KiB").unwrap(), Some(1536));
        assert_eq!(parse_size("unlimited").unwrap(), None);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
