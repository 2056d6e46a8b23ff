//! The hub's service context: configuration, database, storage and object store together.
//! Built once per process; the daemon and the CLI call core services through it.

use std::sync::Arc;

use crate::db::OptionalExtension;
use rand::RngCore;

use crate::config::Config;
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
}

impl Hub {
    /// Open the database (migrating it) and the storage named by the configuration.
    pub fn open(config: Config) -> Result<Hub> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Error::internal(format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let db = Db::open(&config.database_target()?, config.database_pool_size)?;
        let storage = Storage::open(&config)?;
        let signing_key = db.call_sync(load_or_create_signing_key)?;
        Ok(Hub {
            objects: ObjectStore::new(storage.clone(), config.cache_bytes),
            config: Arc::new(config),
            db,
            storage,
            signing_key: Arc::new(signing_key),
            commit_turns: Arc::default(),
        })
    }

    /// Absolute URL on the hub for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url, path)
    }
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
