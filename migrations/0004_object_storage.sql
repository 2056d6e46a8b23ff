-- Objects uploaded straight to a bucket live under a per-upload key (NULL: the canonical
-- lfs/aa/bb/oid key), and pending direct uploads remember where they write.
ALTER TABLE lfs_objects ADD COLUMN storage_key TEXT;
ALTER TABLE multipart_uploads ADD COLUMN storage_key TEXT;
ALTER TABLE multipart_uploads ADD COLUMN backend_upload_id TEXT;
