//! The hub's service context: configuration, database, storage and object store together.
//! Built once per process; the daemon and the CLI call core services through it.

use std::sync::Arc;

use crate::db::OptionalExtension;
use rand::RngCore;

use crate::config::{Config, DatabaseTarget};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::git::ObjectStore;
use crate::storage::Storage;

/// Everything a core service needs.
#[derive(Clone)]
pub struct Hub {
    pub config: Arc<Config>,
    pub db: Db,
    pub storage: Storage,
    pub objects: ObjectStore,
    /// Key of the HMAC that authorises self-signed upload/download URLs; shared by every
    /// process through the database.
    pub signing_key: Arc<Vec<u8>>,
    /// Commits to one branch wait for their turn here (this process only).
    pub commit_turns: Arc<crate::commits::turns::BranchTurns>,
    /// Public URL for the request this hub value serves (see [`Hub::for_request`]); `None`:
    /// the configured one.
    request_base: Option<Arc<str>>,
}

impl Hub {
    /// Open the database (migrating it) and the storage named by the configuration, creating
    /// the hub when there is none: for `kohaku serve` and `kohaku init` only.
    pub fn open(config: Config) -> Result<Hub> {
        Self::open_inner(config, true)
    }

    /// Open a hub that must already exist (every administration command): a mistyped data
    /// directory or database must not silently become a new, empty hub.
    pub fn open_existing(config: Config) -> Result<Hub> {
        Self::open_inner(config, false)
    }

    fn open_inner(config: Config, create: bool) -> Result<Hub> {
        if !create {
            check_data_dir(&config)?;
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Error::internal(format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let target = config.database_target()?;
        let db = if create {
            Db::open(&target, config.database_pool_size)?
        } else {
            open_existing_db(&target, config.database_pool_size, true)?
        };
        let storage = Storage::open(&config)?;
        let signing_key = db.call_sync(load_or_create_signing_key)?;
        Ok(Hub {
            objects: ObjectStore::new(storage.clone(), config.cache_bytes),
            config: Arc::new(config),
            db,
            storage,
            signing_key: Arc::new(signing_key),
            commit_turns: Arc::default(),
            request_base: None,
        })
    }

    /// The hub as one request sees it. With `base_url` set, that is the hub itself. Unset,
    /// the URLs it hands out start with `http://` + the `Host` the request was sent to (`host`,
    /// from `Host` or an HTTP/2 `:authority`), so a client reaching the hub through any name
    /// or address (`kohaku serve --listen 0.0.0.0:28080` reached from another machine) gets
    /// URLs it can reach. `X-Forwarded-*` / `Forwarded` are not trusted: any client can send
    /// them, and behind a proxy the operator knows the public URL and sets `base_url`. A
    /// request without a host gets the configured fallback; a malformed one is refused.
    pub fn for_request(&self, host: Option<&str>) -> Result<Hub> {
        let Some(host) = host.filter(|_| self.config.base_url_from_host) else {
            return Ok(self.clone());
        };
        if !valid_host(host) {
            return Err(Error::bad_request(
                "Invalid Host header: expected NAME, NAME:PORT, IPV4:PORT or [IPV6]:PORT",
            ));
        }
        Ok(Hub {
            request_base: Some(Arc::from(format!("http://{host}"))),
            ..self.clone()
        })
    }

    /// Public URL of the hub (no trailing slash) in what this value hands out.
    pub fn base_url(&self) -> &str {
        self.request_base
            .as_deref()
            .unwrap_or(&self.config.base_url)
    }

    /// Absolute URL on the hub for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    /// URL for `path` that never depends on a request: links in mails, which a forged `Host`
    /// must not point elsewhere. `base_url`, or the listen address when it is unset.
    pub fn configured_url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url, path)
    }
}

/// A `Host` value a URL can carry: a DNS name or IPv4 address (letters, digits, `-`, `.`,
/// `_`) or a bracketed IPv6 literal, then an optional port; no user info, path or spaces.
fn valid_host(host: &str) -> bool {
    let (name_ok, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, after)) => (
                v6.parse::<std::net::Ipv6Addr>().is_ok(),
                match after {
                    "" => None,
                    a => match a.strip_prefix(':') {
                        Some(p) => Some(p),
                        None => return false,
                    },
                },
            ),
            None => return false,
        },
        None => {
            let (name, port) = match host.rsplit_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (host, None),
            };
            (
                !name.is_empty()
                    && name.len() <= 253
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
                port,
            )
        }
    };
    let port_ok = match port {
        None => true,
        Some(p) => {
            !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && matches!(p.parse::<u32>(), Ok(1..=65535))
        }
    };
    name_ok && port_ok
}

fn load_or_create_signing_key(conn: &mut crate::db::Conn) -> Result<Vec<u8>> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    conn.execute(
        "INSERT INTO server_settings (key, value) VALUES ('url_signing_key', ?1) ON CONFLICT DO NOTHING",
        [hex::encode(fresh)],
    )?;
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM server_settings WHERE key = 'url_signing_key'",
            crate::params![],
            |r| r.get(0),
        )
        .optional()?;
    hex::decode(v.ok_or_else(|| Error::internal("signing key missing"))?).map_err(Error::internal)
}

/// What to do about a hub that is not there.
const CREATE_HINT: &str = "`kohaku init` or `kohaku serve` creates a hub";

/// Refuse a missing data directory when it holds the objects (local storage), before anything
/// would create it.
pub fn check_data_dir(config: &Config) -> Result<()> {
    if config.s3.is_none() && !config.data_dir.is_dir() {
        return Err(Error::bad_request(format!(
            "no hub at {}: the data directory does not exist. Check --data-dir \
             (KOHAKU_HUB_DATA_DIR, or data_dir in the config file); {CREATE_HINT}",
            config.data_dir.display()
        )));
    }
    Ok(())
}

/// Open a database that must already hold a hub (migrating it when `migrate`): an SQLite file
/// that does not exist, or a database without kohaku's tables, is refused and left as it was.
pub fn open_existing_db(target: &DatabaseTarget, pool_size: usize, migrate: bool) -> Result<Db> {
    if let DatabaseTarget::Sqlite(path) = target {
        if !path.is_file() {
            return Err(Error::bad_request(format!(
                "no hub at {}: the database file does not exist. Check --data-dir \
                 (KOHAKU_HUB_DATA_DIR) and --database-url (KOHAKU_HUB_DATABASE_URL); {CREATE_HINT}",
                path.display()
            )));
        }
    }
    let db = Db::open_with(target, pool_size, false)?;
    if !db.call_sync(has_hub_tables)? {
        return Err(Error::bad_request(format!(
            "no hub in the database {}: it has no kohaku tables. Check --database-url \
             (KOHAKU_HUB_DATABASE_URL); {CREATE_HINT}",
            target.describe()
        )));
    }
    if migrate {
        db.call_sync(crate::db::migrate)?;
    }
    Ok(db)
}

/// Whether the database holds a hub (its migrations table), without creating anything.
fn has_hub_tables(conn: &mut crate::db::Conn) -> Result<bool> {
    let sql = match conn.backend() {
        crate::db::Backend::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
        crate::db::Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
    };
    let n: i64 = conn.query_row(sql, crate::params![], |r| r.get(0))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "hub.example",
            "hub.example:8080",
            "10.0.0.2:28080",
            "[::1]:28080",
            "[fe80::1]",
            "HUB_1.Example",
            "localhost",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            ":80",
            "hub.example/x",
            "u@hub.example",
            "a b",
            "hub:99999",
            "hub:0",
            "hub:",
            "hub:8o",
            "::1",
            "[::1",
            "[::1]x",
            "[nope]:80",
            "h\u{fffd}b",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }
}
