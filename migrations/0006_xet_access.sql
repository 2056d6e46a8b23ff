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

-- Global dedup: a sampled chunk hash -> every stored shard whose xorb sections list it (a
-- caller is answered from one whose xorbs it may read).
CREATE TABLE xet_dedup_entries (
    chunk_hash TEXT NOT NULL,
    shard_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (chunk_hash, shard_key)
);
CREATE INDEX xet_dedup_entries_shard ON xet_dedup_entries (shard_key);
INSERT INTO xet_dedup_entries (chunk_hash, shard_key, created_at)
    SELECT chunk_hash, shard_key, created_at FROM xet_dedup;
DROP TABLE xet_dedup;
