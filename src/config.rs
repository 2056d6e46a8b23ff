//! Effective configuration: defaults, then the YAML file, then `KOHAKU_HUB_*` variables, then flags.
//!
//! Every value remembers where it came from so `kohaku config show` can tell the operator.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a configuration value was taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag => write!(f, "flag"),
        }
    }
}

/// One known key: its YAML name, whether it is a secret, and its default.
struct Key {
    name: &'static str,
    secret: bool,
    default: fn() -> Option<String>,
}

/// Server-wide default LFS suffix rules (KohakuHub's list).
pub const DEFAULT_LFS_SUFFIXES: &[&str] = &[
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".onnx",
    ".pb",
    ".h5",
    ".tflite",
    ".gguf",
    ".ggml",
    ".msgpack",
    ".zip",
    ".tar",
    ".gz",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".npy",
    ".npz",
    ".arrow",
    ".parquet",
    ".mp4",
    ".avi",
    ".mkv",
    ".mov",
    ".wav",
    ".mp3",
    ".flac",
    ".tiff",
    ".tif",
];

const KEYS: &[Key] = &[
    Key {
        name: "listen",
        secret: false,
        default: || Some("127.0.0.1:28080".into()),
    },
    Key {
        name: "data_dir",
        secret: false,
        default: || Some("./kohaku-data".into()),
    },
    Key {
        name: "base_url",
        secret: false,
        default: || None,
    },
    Key {
        name: "database_url",
        secret: true,
        default: || None,
    },
    Key {
        name: "database_pool_size",
        secret: false,
        default: || Some("16".into()),
    },
    Key {
        name: "lfs_threshold_bytes",
        secret: false,
        default: || Some("10000000".into()),
    },
    Key {
        name: "lfs_suffix_rules",
        secret: false,
        default: || Some(DEFAULT_LFS_SUFFIXES.join(",")),
    },
    Key {
        name: "lfs_multipart_threshold_bytes",
        secret: false,
        default: || Some("536870912".into()),
    },
    Key {
        name: "lfs_multipart_chunk_bytes",
        secret: false,
        default: || Some("104857600".into()),
    },
    Key {
        name: "upload_url_expiry_secs",
        secret: false,
        default: || Some("3600".into()),
    },
    Key {
        name: "download_url_expiry_secs",
        secret: false,
        default: || Some("3600".into()),
    },
    Key {
        name: "max_commit_bytes",
        secret: false,
        default: || Some("2147483648".into()),
    },
    Key {
        name: "max_file_bytes",
        secret: false,
        default: || Some("5497558138880".into()),
    },
    Key {
        name: "cache_bytes",
        secret: false,
        default: || Some("67108864".into()),
    },
    Key {
        name: "log",
        secret: false,
        default: || Some("info".into()),
    },
    Key {
        name: "lfs_keep_versions",
        secret: false,
        default: || Some("5".into()),
    },
    Key {
        name: "registration",
        secret: false,
        default: || Some("open".into()),
    },
    Key {
        name: "require_email_verification",
        secret: false,
        default: || Some("false".into()),
    },
    Key {
        name: "session_expire_hours",
        secret: false,
        default: || Some("168".into()),
    },
    Key {
        name: "admin_token",
        secret: true,
        default: || None,
    },
    Key {
        name: "smtp_enabled",
        secret: false,
        default: || Some("false".into()),
    },
    Key {
        name: "smtp_host",
        secret: false,
        default: || None,
    },
    Key {
        name: "smtp_port",
        secret: false,
        default: || Some("587".into()),
    },
    Key {
        name: "smtp_username",
        secret: false,
        default: || None,
    },
    Key {
        name: "smtp_password",
        secret: true,
        default: || None,
    },
    Key {
        name: "smtp_from",
        secret: false,
        default: || Some("kohaku@localhost".into()),
    },
    Key {
        name: "smtp_tls",
        secret: false,
        default: || Some("starttls".into()),
    },
    Key {
        name: "storage",
        secret: false,
        default: || Some("local".into()),
    },
    Key {
        name: "s3_endpoint",
        secret: false,
        default: || None,
    },
    Key {
        name: "s3_public_endpoint",
        secret: false,
        default: || None,
    },
    Key {
        name: "s3_bucket",
        secret: false,
        default: || None,
    },
    Key {
        name: "s3_region",
        secret: false,
        default: || Some("us-east-1".into()),
    },
    Key {
        name: "s3_access_key",
        secret: true,
        default: || None,
    },
    Key {
        name: "s3_secret_key",
        secret: true,
        default: || None,
    },
    Key {
        name: "s3_force_path_style",
        secret: false,
        default: || Some("true".into()),
    },
];

/// Settings of an S3-compatible bucket (`storage: s3`).
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Endpoint the hub talks to.
    pub endpoint: String,
    /// Endpoint clients reach; presigned URLs are signed for it.
    pub public_endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub path_style: bool,
}

/// Who may register accounts over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    InvitationOnly,
    Closed,
}

/// How to reach the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection (a relay on loopback).
    None,
    /// Upgrade with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Outgoing mail settings (`smtp_enabled: true`).
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub tls: SmtpTls,
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::bad_request(format!(
            "config {key}: '{v}' is not a boolean"
        ))),
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub values: Vec<(&'static str, String)>,
}

/// The effective configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Public URL of the hub, no trailing slash: `base_url` when set, else `http://` + the
    /// listen address (`127.0.0.1` for an unspecified one). Answers to requests use
    /// [`crate::Hub::base_url`], which may differ (see `base_url_from_host`).
    pub base_url: String,
    /// `base_url` is unset: URLs handed out in answers follow the `Host` each request was
    /// sent to, so a client reaching the hub by any name or address gets URLs it can reach.
    pub base_url_from_host: bool,
    pub database_url: String,
    /// Connections each process keeps to the database (PostgreSQL: keep the sum over all
    /// processes under the server's `max_connections`).
    pub database_pool_size: usize,
    pub lfs_threshold_bytes: u64,
    pub lfs_suffix_rules: Vec<String>,
    /// Distinct LFS versions per path that GC keeps (repos may override, minimum 2).
    pub lfs_keep_versions: u64,
    pub lfs_multipart_threshold_bytes: u64,
    pub lfs_multipart_chunk_bytes: u64,
    pub upload_url_expiry_secs: u64,
    pub download_url_expiry_secs: u64,
    pub max_commit_bytes: u64,
    /// Largest file (LFS object) the hub accepts; bigger announcements are refused before any
    /// byte or upload URL is handed out (5 TiB, S3's object limit).
    pub max_file_bytes: u64,
    /// Memory for the parsed git-object cache of each process, in bytes.
    pub cache_bytes: u64,
    pub log: String,
    pub registration: Registration,
    pub require_email_verification: bool,
    pub session_expire_hours: u64,
    /// Secret for the `X-Admin-Token` header of the admin API (unset: admin users only).
    pub admin_token: Option<String>,
    pub smtp: Option<Smtp>,
    /// `Some` when objects live in an S3-compatible bucket instead of `data_dir/storage`.
    pub s3: Option<S3Config>,
    raw: BTreeMap<&'static str, (Option<String>, Source)>,
}

fn env_name(key: &str) -> String {
    format!("KOHAKU_HUB_{}", key.to_ascii_uppercase())
}

fn yaml_to_string(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::Null => None,
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Sequence(items) => Some(
            items
                .iter()
                .filter_map(yaml_to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

fn parse_num(key: &str, v: &str) -> Result<u64> {
    v.trim().replace('_', "").parse::<u64>().map_err(|_| {
        Error::bad_request(format!("config {key}: '{v}' is not a non-negative integer"))
    })
}

impl Config {
    /// Load with the real process environment.
    pub fn load(overrides: &Overrides) -> Result<Config> {
        Self::load_from(overrides, |k| std::env::var(k).ok())
    }

    /// Load with an injectable environment (tests).
    pub fn load_from(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        let mut raw: BTreeMap<&'static str, (Option<String>, Source)> = KEYS
            .iter()
            .map(|k| (k.name, ((k.default)(), Source::Default)))
            .collect();

        let file = overrides
            .config_file
            .clone()
            .or_else(|| env("KOHAKU_HUB_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::bad_request(format!("cannot read config file {}: {e}", path.display()))
            })?;
            let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
                Error::bad_request(format!(
                    "config file {} is not valid YAML: {e}",
                    path.display()
                ))
            })?;
            if let serde_yaml::Value::Mapping(map) = doc {
                for (k, v) in map {
                    let Some(k) = k.as_str() else { continue };
                    let Some(key) = KEYS.iter().find(|key| key.name == k) else {
                        return Err(Error::bad_request(format!(
                            "config file {}: unknown key '{k}'",
                            path.display()
                        )));
                    };
                    raw.insert(key.name, (yaml_to_string(&v), Source::File(path.clone())));
                }
            } else if !matches!(doc, serde_yaml::Value::Null) {
                return Err(Error::bad_request(format!(
                    "config file {} must be a mapping of keys to values",
                    path.display()
                )));
            }
        }
        for key in KEYS {
            let name = env_name(key.name);
            if let Some(v) = env(&name) {
                raw.insert(key.name, (Some(v), Source::Env(name.clone())));
            } else if key.secret {
                let file_var = format!("{name}_FILE");
                if let Some(p) = env(&file_var) {
                    let v = std::fs::read_to_string(&p).map_err(|e| {
                        Error::bad_request(format!("{file_var}: cannot read {p}: {e}"))
                    })?;
                    raw.insert(
                        key.name,
                        (Some(v.trim().to_string()), Source::Env(file_var)),
                    );
                }
            }
        }
        for (k, v) in &overrides.values {
            if let Some(key) = KEYS.iter().find(|key| key.name == *k) {
                raw.insert(key.name, (Some(v.clone()), Source::Flag));
            }
        }
        Self::from_raw(raw)
    }

    fn from_raw(raw: BTreeMap<&'static str, (Option<String>, Source)>) -> Result<Config> {
        let get = |k: &str| raw.get(k).and_then(|(v, _)| v.clone()).unwrap_or_default();
        let listen: SocketAddr = get("listen").parse().map_err(|_| {
            Error::bad_request(format!("listen: '{}' is not HOST:PORT", get("listen")))
        })?;
        let data_dir = PathBuf::from(get("data_dir"));
        let (base_url, base_url_from_host) = match raw.get("base_url").and_then(|(v, _)| v.clone())
        {
            Some(u) if !u.trim().is_empty() => {
                let u = u.trim().trim_end_matches('/').to_string();
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(Error::bad_request(
                        "base_url must start with http:// or https://",
                    ));
                }
                (u, false)
            }
            _ => (default_base_url(&listen), true),
        };
        let database_url = match raw.get("database_url").and_then(|(v, _)| v.clone()) {
            Some(u) if !u.trim().is_empty() => u,
            _ => format!("sqlite://{}", data_dir.join("kohaku.db").display()),
        };
        let lfs_suffix_rules = normalize_suffixes(&get("lfs_suffix_rules"));
        let lfs_threshold_bytes = parse_num("lfs_threshold_bytes", &get("lfs_threshold_bytes"))?;
        let database_pool_size = parse_num("database_pool_size", &get("database_pool_size"))?;
        if !(1..=1000).contains(&database_pool_size) {
            return Err(Error::bad_request(
                "database_pool_size must be between 1 and 1000",
            ));
        }
        let chunk = parse_num(
            "lfs_multipart_chunk_bytes",
            &get("lfs_multipart_chunk_bytes"),
        )?;
        if chunk < 1024 {
            return Err(Error::bad_request(
                "lfs_multipart_chunk_bytes must be at least 1024",
            ));
        }
        let registration = match get("registration").trim() {
            "open" => Registration::Open,
            "invitation-only" | "invitation_only" | "invite" => Registration::InvitationOnly,
            "closed" => Registration::Closed,
            other => {
                return Err(Error::bad_request(format!(
                    "registration: '{other}' is not open, invitation-only or closed"
                )))
            }
        };
        let opt = |k: &str| {
            raw.get(k)
                .and_then(|(v, _)| v.clone())
                .filter(|v| !v.trim().is_empty())
        };
        let smtp = if parse_bool("smtp_enabled", &get("smtp_enabled"))? {
            let host = opt("smtp_host")
                .ok_or_else(|| Error::bad_request("smtp_enabled needs smtp_host"))?;
            let port = get("smtp_port")
                .trim()
                .parse::<u16>()
                .map_err(|_| Error::bad_request("smtp_port must be a port number"))?;
            let tls = match get("smtp_tls").trim().to_ascii_lowercase().as_str() {
                "none" | "false" | "plain" => SmtpTls::None,
                "starttls" | "true" => SmtpTls::StartTls,
                "tls" | "ssl" => SmtpTls::Tls,
                other => {
                    return Err(Error::bad_request(format!(
                        "smtp_tls: '{other}' is not none, starttls or tls"
                    )))
                }
            };
            Some(Smtp {
                host,
                port,
                username: opt("smtp_username"),
                password: opt("smtp_password"),
                from: get("smtp_from"),
                tls,
            })
        } else {
            None
        };
        let require_email_verification = parse_bool(
            "require_email_verification",
            &get("require_email_verification"),
        )?;
        if require_email_verification && smtp.is_none() {
            return Err(Error::bad_request(
                "require_email_verification needs smtp_enabled (and smtp_host)",
            ));
        }
        let s3 = match get("storage").trim().to_ascii_lowercase().as_str() {
            "local" | "" => None,
            "s3" => Some(s3_from_raw(&raw)?),
            other => {
                return Err(Error::bad_request(format!(
                    "storage: '{other}' is not local or s3"
                )))
            }
        };
        let lfs_keep_versions = parse_num("lfs_keep_versions", &get("lfs_keep_versions"))?;
        if lfs_keep_versions < 2 {
            return Err(Error::bad_request("lfs_keep_versions must be at least 2"));
        }
        Ok(Config {
            lfs_keep_versions,
            registration,
            require_email_verification,
            session_expire_hours: parse_num("session_expire_hours", &get("session_expire_hours"))?
                .max(1),
            admin_token: opt("admin_token"),
            smtp,
            s3,
            listen,
            data_dir,
            base_url,
            base_url_from_host,
            database_url,
            database_pool_size: database_pool_size as usize,
            lfs_threshold_bytes,
            lfs_suffix_rules,
            lfs_multipart_threshold_bytes: parse_num(
                "lfs_multipart_threshold_bytes",
                &get("lfs_multipart_threshold_bytes"),
            )?,
            lfs_multipart_chunk_bytes: chunk,
            upload_url_expiry_secs: parse_num(
                "upload_url_expiry_secs",
                &get("upload_url_expiry_secs"),
            )?,
            download_url_expiry_secs: parse_num(
                "download_url_expiry_secs",
                &get("download_url_expiry_secs"),
            )?,
            max_commit_bytes: parse_num("max_commit_bytes", &get("max_commit_bytes"))?,
            max_file_bytes: parse_num("max_file_bytes", &get("max_file_bytes"))?,
            cache_bytes: parse_num("cache_bytes", &get("cache_bytes"))?,
            log: get("log"),
            raw,
        })
    }

    /// The bucket the `s3_*` keys describe, whatever `storage` says (migration target).
    pub fn s3_target(&self) -> Result<S3Config> {
        match &self.s3 {
            Some(s) => Ok(s.clone()),
            None => s3_from_raw(&self.raw),
        }
    }

    /// The storage directory (local backend).
    pub fn storage_dir(&self) -> PathBuf {
        self.data_dir.join("storage")
    }

    /// The database the URL selects.
    pub fn database_target(&self) -> Result<DatabaseTarget> {
        DatabaseTarget::parse(&self.database_url)
    }

    /// `(key, value, source)` rows with secrets redacted, for `kohaku config show`.
    pub fn describe(&self) -> Vec<(String, String, String)> {
        KEYS.iter()
            .map(|k| {
                let (v, src) = self
                    .raw
                    .get(k.name)
                    .cloned()
                    .unwrap_or((None, Source::Default));
                let shown = match (k.name, v) {
                    ("base_url", None) => format!(
                        "(unset: from each request's Host header; {} without one)",
                        self.base_url
                    ),
                    ("database_url", None) => {
                        format!("{} (derived from data_dir)", self.database_url)
                    }
                    (_, None) => "(unset)".into(),
                    (_, Some(v)) if k.secret => redact_url(&v),
                    (_, Some(v)) => v,
                };
                (k.name.to_string(), shown, src.to_string())
            })
            .collect()
    }
}

fn default_base_url(listen: &SocketAddr) -> String {
    let host = if listen.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if listen.is_ipv6() {
        format!("[{}]", listen.ip())
    } else {
        listen.ip().to_string()
    };
    format!("http://{host}:{}", listen.port())
}

fn normalize_suffixes(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with('.') {
                s
            } else {
                format!(".{s}")
            }
        })
        .collect()
}

fn s3_from_raw(raw: &BTreeMap<&'static str, (Option<String>, Source)>) -> Result<S3Config> {
    let opt = |k: &str| {
        raw.get(k)
            .and_then(|(v, _)| v.clone())
            .filter(|v| !v.trim().is_empty())
    };
    let need = |k: &str| {
        opt(k).ok_or_else(|| {
            Error::bad_request(format!(
                "storage: s3 needs {k} (KOHAKU_HUB_{})",
                k.to_ascii_uppercase()
            ))
        })
    };
    let url = |k: &str, v: String| {
        let v = v.trim().trim_end_matches('/').to_string();
        if v.starts_with("http://") || v.starts_with("https://") {
            Ok(v)
        } else {
            Err(Error::bad_request(format!(
                "{k} must start with http:// or https://"
            )))
        }
    };
    let endpoint = url("s3_endpoint", need("s3_endpoint")?)?;
    let public_endpoint = match opt("s3_public_endpoint") {
        Some(p) => url("s3_public_endpoint", p)?,
        None => endpoint.clone(),
    };
    Ok(S3Config {
        endpoint,
        public_endpoint,
        bucket: need("s3_bucket")?,
        region: opt("s3_region").unwrap_or_else(|| "us-east-1".into()),
        access_key: need("s3_access_key")?,
        secret_key: need("s3_secret_key")?,
        path_style: parse_bool(
            "s3_force_path_style",
            &opt("s3_force_path_style").unwrap_or_else(|| "true".into()),
        )?,
    })
}

/// Hide a password inside a URL (`scheme://user:pass@host` → `scheme://user:***@host`);
/// any other secret is hidden whole.
pub fn redact_url(v: &str) -> String {
    if let Some((scheme, rest)) = v.split_once("://") {
        if let Some((cred, host)) = rest.split_once('@') {
            return match cred.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => v.to_string(),
            };
        }
        if scheme == "sqlite" {
            return v.to_string();
        }
        return v.to_string();
    }
    if v.contains('/') || v.ends_with(".db") {
        return v.to_string();
    }
    "***".into()
}

/// Where the metadata lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// One SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL server, as a `postgres://` / `postgresql://` URL.
    Postgres(String),
}

impl DatabaseTarget {
    /// `sqlite://PATH` or a bare path selects SQLite, `postgres://` or `postgresql://`
    /// PostgreSQL; any other scheme is refused.
    pub fn parse(url: &str) -> Result<DatabaseTarget> {
        let url = url.trim();
        if let Some(p) = url.strip_prefix("sqlite://") {
            if p.is_empty() {
                return Err(Error::bad_request(
                    "database URL sqlite:// needs a file path",
                ));
            }
            return Ok(DatabaseTarget::Sqlite(PathBuf::from(p)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_string()));
        }
        if url.contains("://") || url.is_empty() {
            return Err(Error::bad_request(format!(
                "database URL '{}' is not supported: use sqlite://PATH, a file path, or \
                 postgres://USER@HOST:PORT/DATABASE",
                redact_url(url)
            )));
        }
        Ok(DatabaseTarget::Sqlite(Path::new(url).to_path_buf()))
    }

    /// The URL with any password hidden, for messages and logs.
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseTarget::Postgres(u) => redact_url(u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_default_env_flag() {
        let env = |k: &str| match k {
            "KOHAKU_HUB_LISTEN" => Some("0.0.0.0:9000".to_string()),
            "KOHAKU_HUB_LFS_THRESHOLD_BYTES" => Some("5".to_string()),
            _ => None,
        };
        let cfg = Config::load_from(&Overrides::default(), env).unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.base_url, "http://127.0.0.1:9000");
        assert!(cfg.base_url_from_host);
        assert_eq!(cfg.lfs_threshold_bytes, 5);
        let ov = Overrides {
            config_file: None,
            values: vec![("listen", "127.0.0.1:1".into())],
        };
        let cfg = Config::load_from(&ov, env).unwrap();
        assert_eq!(cfg.listen.port(), 1);
        assert!(cfg.database_url.starts_with("sqlite://"));
    }

    #[test]
    fn s3_settings() {
        let base = |extra: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                [
                    ("KOHAKU_HUB_STORAGE", "s3"),
                    ("KOHAKU_HUB_S3_ENDPOINT", "http://minio:9000/"),
                    ("KOHAKU_HUB_S3_BUCKET", "hub"),
                    ("KOHAKU_HUB_S3_ACCESS_KEY", "ak"),
                    ("KOHAKU_HUB_S3_SECRET_KEY", "sk"),
                ]
                .iter()
                .chain(extra.iter())
                .rev()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
            }
        };
        let cfg = Config::load_from(&Overrides::default(), base(&[])).unwrap();
        let s3 = cfg.s3.unwrap();
        assert_eq!(s3.endpoint, "http://minio:9000");
        assert_eq!(s3.public_endpoint, "http://minio:9000");
        assert!(s3.path_style);
        let err = Config::load_from(&Overrides::default(), base(&[("KOHAKU_HUB_S3_BUCKET", "")]))
            .unwrap_err();
        assert!(err.to_string().contains("s3_bucket"), "{err}");
        let err = Config::load_from(
            &Overrides::default(),
            base(&[("KOHAKU_HUB_STORAGE", "ftp")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("local or s3"), "{err}");
        let err = Config::load_from(
            &Overrides::default(),
            base(&[("KOHAKU_HUB_S3_PUBLIC_ENDPOINT", "minio.example")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("s3_public_endpoint"), "{err}");
        // Local storage: the s3_* keys still name a migration target.
        let cfg = Config::load_from(
            &Overrides::default(),
            base(&[("KOHAKU_HUB_STORAGE", "local")]),
        )
        .unwrap();
        assert!(cfg.s3.is_none() && cfg.s3_target().unwrap().bucket == "hub");
    }

    #[test]
    fn yaml_file_and_unknown_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(
            &p,
            "lfs_suffix_rules: [bin, .GGUF]\nbase_url: https://hub.example/\n",
        )
        .unwrap();
        let ov = Overrides {
            config_file: Some(p.clone()),
            values: vec![],
        };
        let cfg = Config::load_from(&ov, |_| None).unwrap();
        assert_eq!(cfg.lfs_suffix_rules, vec![".bin", ".gguf"]);
        assert_eq!(cfg.base_url, "https://hub.example");
        assert!(!cfg.base_url_from_host);
        std::fs::write(&p, "nope: 1\n").unwrap();
        assert!(Config::load_from(&ov, |_| None).is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert!(!redact_url("postgres://u:secret@h/db").contains("secret"));
    }
}
