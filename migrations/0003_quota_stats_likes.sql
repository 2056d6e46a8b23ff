ALTER TABLE repos ADD COLUMN quota_bytes INTEGER;
ALTER TABLE repos ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repos ADD COLUMN lfs_threshold_bytes INTEGER;
ALTER TABLE repos ADD COLUMN lfs_keep_versions INTEGER;
ALTER TABLE repos ADD COLUMN lfs_suffix_rules TEXT;
ALTER TABLE users ADD COLUMN private_quota_bytes INTEGER;
ALTER TABLE users ADD COLUMN public_quota_bytes INTEGER;

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
