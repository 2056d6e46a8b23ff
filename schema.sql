-- Current schema of the kohaku metadata database (SQLite dialect).
-- Kept equal to all files of migrations/ applied in order; a test checks it.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    normalized_name TEXT NOT NULL UNIQUE,
    is_org INTEGER NOT NULL DEFAULT 0,
    email TEXT UNIQUE,
    password_hash TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0,
    full_name TEXT,
    created_at TEXT NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 1,
    is_active INTEGER NOT NULL DEFAULT 1,
    bio TEXT,
    website TEXT,
    avatar_updated_at TEXT,
    private_quota_bytes INTEGER,
    public_quota_bytes INTEGER
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    last_used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_type TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    normalized_name TEXT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    private INTEGER NOT NULL,
    gated TEXT,
    downloads INTEGER NOT NULL DEFAULT 0,
    likes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    quota_bytes INTEGER,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    lfs_threshold_bytes INTEGER,
    lfs_keep_versions INTEGER,
    lfs_suffix_rules TEXT,
    UNIQUE (repo_type, namespace, name),
    UNIQUE (repo_type, namespace, normalized_name)
);
-- Ids are case-insensitive: lookups compare lower-cased namespace and name.
CREATE INDEX repos_id_nocase ON repos (repo_type, lower(namespace), lower(name));

CREATE TABLE repo_redirects (
    repo_type TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (repo_type, namespace, name)
);
CREATE INDEX repo_redirects_id_nocase ON repo_redirects (repo_type, lower(namespace), lower(name));

CREATE TABLE deleted_repos (
    repo_id INTEGER PRIMARY KEY,
    full_id TEXT NOT NULL,
    deleted_at TEXT NOT NULL
);

CREATE TABLE refs (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (repo_id, name)
);

CREATE TABLE lfs_objects (
    oid TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    -- Per-upload key of an object sent straight to the bucket; NULL: lfs/aa/bb/oid.
    storage_key TEXT,
    -- Set when the bytes live in xorbs (a Xet upload): the file's Xet hash.
    xet_hash TEXT
);

CREATE TABLE lfs_possession (
    oid TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (oid, user_id)
);

CREATE TABLE lfs_history (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    oid TEXT NOT NULL,
    size INTEGER NOT NULL,
    commit_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX lfs_history_oid ON lfs_history(oid);
CREATE INDEX lfs_history_repo_path ON lfs_history(repo_id, path);

CREATE TABLE multipart_uploads (
    upload_id TEXT PRIMARY KEY,
    oid TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    -- Direct (bucket) uploads: the key written and the bucket's multipart upload id.
    storage_key TEXT,
    backend_upload_id TEXT
);

CREATE TABLE server_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE org_members (
    org_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    org_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    role TEXT,
    email TEXT,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    max_usage INTEGER,
    usage_count INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
);

CREATE TABLE ssh_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_type TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    last_used TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX ssh_keys_user ON ssh_keys(user_id);

CREATE TABLE repo_likes (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (repo_id, user_id)
);
CREATE INDEX repo_likes_user ON repo_likes(user_id);

CREATE TABLE download_sessions (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    session_key TEXT NOT NULL,
    time_bucket INTEGER NOT NULL,
    authenticated INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    first_file TEXT NOT NULL,
    first_download_at TEXT NOT NULL,
    last_download_at TEXT NOT NULL,
    PRIMARY KEY (repo_id, session_key, time_bucket)
);
CREATE INDEX download_sessions_bucket ON download_sessions(time_bucket);

CREATE TABLE daily_repo_stats (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    date TEXT NOT NULL,
    download_sessions INTEGER NOT NULL,
    authenticated_downloads INTEGER NOT NULL,
    anonymous_downloads INTEGER NOT NULL,
    total_files INTEGER NOT NULL,
    PRIMARY KEY (repo_id, date)
);

-- Xet storage. A xorb is stored whole under xet/xorbs/{hash} (chunks plus the hub's own
-- footer); `chunks` packs, per chunk, its 32-byte hash, its uncompressed length and the end of
-- its bytes in the stored object (both u32, little-endian), so dedup checks and range reads need
-- no object read.
CREATE TABLE xet_xorbs (
    hash TEXT PRIMARY KEY,
    stored_bytes INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    chunks BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- A file registered by a shard: its Xet hash, sha256 and the xorb chunk ranges that rebuild it
-- (JSON array of [xorb, chunk_start, chunk_end, bytes]).
CREATE TABLE xet_files (
    file_hash TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    segments TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX xet_files_sha256 ON xet_files (sha256);

-- Which xorbs each file needs (for GC and quota).
CREATE TABLE xet_file_xorbs (
    file_hash TEXT NOT NULL,
    xorb_hash TEXT NOT NULL,
    PRIMARY KEY (file_hash, xorb_hash)
);
CREATE INDEX xet_file_xorbs_xorb ON xet_file_xorbs (xorb_hash);

-- Global dedup: a sampled chunk hash -> every stored shard (xet/shards/{key}) whose xorb
-- sections list it (a caller is answered from one whose xorbs it may read).
CREATE TABLE xet_dedup_entries (
    chunk_hash TEXT NOT NULL,
    shard_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (chunk_hash, shard_key)
);
CREATE INDEX xet_dedup_entries_shard ON xet_dedup_entries (shard_key);

-- Who sent each xorb's bytes (validated on the way in): they may learn its chunk list (dedup
-- answers, "already stored") and use any of its chunks in a shard. Anyone else may use only
-- chunk ranges of files they can read.
CREATE TABLE xet_xorb_senders (
    xorb_hash TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (xorb_hash, user_id)
);
CREATE INDEX xet_xorb_senders_user ON xet_xorb_senders (user_id);
