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

-- Global dedup: a sampled chunk hash -> the stored shard (xet/shards/{key}) whose xorb
-- sections list it.
CREATE TABLE xet_dedup (
    chunk_hash TEXT PRIMARY KEY,
    shard_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX xet_dedup_shard ON xet_dedup (shard_key);

-- An LFS object whose bytes live in xorbs (NULL: a plain stored object).
ALTER TABLE lfs_objects ADD COLUMN xet_hash TEXT;
