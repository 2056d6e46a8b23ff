//! Named, expiring leases in the database: one holder at a time across every hub process and
//! machine (two `kohaku gc` runs from cron on two hosts must not overlap).
//!
//! A lease lives in `server_settings` under `lease:{name}` as `{holder} {expires_at}`; a holder
//! that dies leaves it to expire.

use std::time::Duration;

use crate::db::{now_str, write_tx, Conn, OptionalExtension};
use crate::error::{Error, Result};
use crate::params;

/// A lease taken by [`acquire`]; give it back with [`release`].
#[derive(Debug, Clone)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub since: String,
}

fn key(name: &str) -> String {
    format!("lease:{name}")
}

/// Take the lease `name` for `ttl`, or answer 409 saying since when another holder has it.
pub fn acquire(conn: &mut Conn, name: &str, ttl: Duration) -> Result<Lease> {
    let now = now_str();
    let expires = (chrono::Utc::now()
        + chrono::Duration::from_std(ttl).map_err(Error::internal)?)
    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
    .to_string();
    let holder = uuid::Uuid::new_v4().simple().to_string();
    let tx = write_tx(conn)?;
    let current: Option<String> = tx
        .query_row(
            "SELECT value FROM server_settings WHERE key = ?1",
            [key(name)],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(v) = current {
        let mut parts = v.split(' ');
        let (_, until, since) = (parts.next(), parts.next(), parts.next());
        if until.is_some_and(|u| u > now.as_str()) {
            return Err(Error::Conflict {
                message: format!(
                    "another {name} has been running since {} (its lease ends {})",
                    since.unwrap_or("?"),
                    until.unwrap_or("?")
                ),
                url: None,
            });
        }
    }
    tx.execute(
        "INSERT INTO server_settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key(name), format!("{holder} {expires} {now}")],
    )?;
    tx.commit()?;
    Ok(Lease {
        name: name.to_string(),
        holder,
        since: now,
    })
}

/// Give the lease back (only if it is still ours).
pub fn release(conn: &Conn, lease: &Lease) -> Result<()> {
    conn.execute(
        "DELETE FROM server_settings WHERE key = ?1 AND value LIKE ?2",
        params![key(&lease.name), format!("{} %", lease.holder)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_until_release_or_expiry() {
        let mut c = Conn::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        let a = acquire(&mut c, "gc", Duration::from_secs(60)).unwrap();
        let busy = acquire(&mut c, "gc", Duration::from_secs(60)).unwrap_err();
        assert!(busy
            .to_string()
            .contains("another gc has been running since"));
        release(&c, &a).unwrap();
        let b = acquire(&mut c, "gc", Duration::from_secs(0)).unwrap();
        release(&c, &a).unwrap(); // not ours any more: nothing happens
        std::thread::sleep(Duration::from_millis(5));
        let _expired_taken_over = acquire(&mut c, "gc", Duration::from_secs(60)).unwrap();
        release(&c, &b).unwrap();
        assert!(acquire(&mut c, "gc", Duration::from_secs(60)).is_err());
    }
}
