//! `kohaku serve` (and `kohaku init`): the two commands that create a hub when there is none.

use anyhow::Context;
use kohaku::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on, HOST:PORT (also KOHAKU_HUB_LISTEN); default 127.0.0.1:28080.
    /// 0.0.0.0:PORT serves every interface; with base_url unset, the URLs the hub hands out
    /// then follow the address or name each client used.
    #[arg(long)]
    pub listen: Option<String>,
}

pub fn run(cfg: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listen = cfg.listen;
        let data_dir = cfg.data_dir.clone();
        let hub = tokio::task::spawn_blocking(move || kohaku::Hub::open(cfg)).await??;
        hub.storage
            .check()
            .await
            .map_err(|e| anyhow::anyhow!("object storage is not usable: {e}"))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let public = if hub.config.base_url_from_host {
            format!(
                "base_url is unset: URLs handed out follow each request's Host header, \
                 {} without one",
                hub.config.base_url
            )
        } else {
            format!("public URL {}", hub.config.base_url)
        };
        if hub.config.base_url_from_host && hub.config.smtp.is_some() {
            tracing::warn!(
                "base_url is unset: links in mails use {}; set base_url to the URL people reach",
                hub.config.base_url
            );
        }
        tracing::info!(
            "kohaku {} listening on http://{addr} ({public}), objects in {}, data in {}",
            env!("CARGO_PKG_VERSION"),
            match hub.storage.direct() {
                Some(b) => b.location(),
                None => "the data directory".into(),
            },
            std::fs::canonicalize(&data_dir)
                .unwrap_or(data_dir)
                .display()
        );
        kohaku_daemon::serve(hub, listener, shutdown_signal()).await?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
