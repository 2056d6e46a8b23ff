//! `kohaku init`: create a hub (data directory, database, storage) without serving it, so
//! that users and tokens can be made before the first `kohaku serve`. Idempotent.

use kohaku::config::Config;

pub fn run(cfg: Config) -> anyhow::Result<()> {
    let existed = kohaku::hub::check_data_dir(&cfg).is_ok()
        && kohaku::hub::open_existing_db(&cfg.database_target()?, 1, false).is_ok();
    let data_dir = cfg.data_dir.clone();
    let hub = kohaku::Hub::open(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(hub.storage.check())
        .map_err(|e| anyhow::anyhow!("object storage is not usable: {e}"))?;
    let version = hub
        .db
        .call_sync(|c| kohaku::db::applied_versions(c))?
        .last()
        .copied()
        .unwrap_or(0);
    let objects = match hub.storage.direct() {
        Some(b) => b.location(),
        None => hub.config.storage_dir().display().to_string(),
    };
    let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    eprintln!(
        "{} hub at {}: database {} (schema version {version}), objects in {objects}",
        if existed {
            "nothing to do: there is already a"
        } else {
            "created a"
        },
        data_dir.display(),
        hub.db.describe(),
    );
    if !existed {
        eprintln!("next: kohaku user create NAME --email EMAIL, kohaku token create --user NAME, kohaku serve");
    }
    Ok(())
}
