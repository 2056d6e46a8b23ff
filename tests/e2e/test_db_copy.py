"""`kohaku db copy`: a hub moved from SQLite to PostgreSQL (and back) keeps everything."""
import json
import os
import shutil
import tempfile
import uuid

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download

from conftest import PG_URL, Hub, free_port, pg_schema_url

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the PostgreSQL+S3 pass)")


def test_copy_sqlite_hub_to_postgres_and_back(tmp_path):
    src = Hub(tempfile.mkdtemp(prefix="kohaku-e2e-copy-"), port=free_port())
    sqlite_url = "sqlite://" + os.path.join(src.data_dir, "kohaku.db")
    src.env["KOHAKU_HUB_DATABASE_URL"] = sqlite_url
    src.cli("user", "create", "alice", "--email", "alice@example.com", "--password", "alice-password")
    token = src.cli("token", "create", "--user", "alice").stdout.strip()
    src.start()
    api = HfApi(endpoint=src.endpoint, token=token)
    rid, priv = f"alice/copied-{uuid.uuid4().hex[:6]}", f"alice/secret-{uuid.uuid4().hex[:6]}"
    api.create_repo(rid)
    api.create_repo(priv, private=True)
    weights = os.urandom(300_000)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=rid)
    api.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=rid)  # LFS
    assert httpx2.post(f"{src.endpoint}/api/models/{rid}/like", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx2.get(f"{src.endpoint}/{rid}/resolve/main/a.txt").status_code == 200
    before = api.model_info(rid)
    src.stop()

    schema = "c_" + uuid.uuid4().hex[:12]
    target = pg_schema_url(schema)
    r = src.cli("db", "copy", "--to", target, "--json")
    report = json.loads(r.stdout)
    counts = {t["table"]: t for t in report}
    assert all(t["source_rows"] == t["target_rows"] for t in report)
    assert counts["users"]["target_rows"] == 1 and counts["repos"]["target_rows"] == 2
    assert counts["lfs_objects"]["target_rows"] >= 1 and counts["refs"]["target_rows"] >= 2
    # Copying again into the now populated target is refused and changes nothing.
    again = src.cli("db", "copy", "--to", target, check=False)
    assert again.returncode != 0 and "already holds data" in again.stderr

    dst = Hub(src.data_dir, port=free_port(), share=src)
    dst.env["KOHAKU_HUB_DATABASE_URL"] = target
    dst.database_url = target
    migrated = json.loads(dst.cli("db", "migrate", "--json").stdout)
    assert migrated["applied"] == [] and migrated["version"] >= 4
    dst.start()
    try:
        api = HfApi(endpoint=dst.endpoint, token=token)  # the same token still works
        assert api.whoami()["name"] == "alice"
        after = api.model_info(rid)
        assert after.sha == before.sha and after.likes == 1 and after.downloads == before.downloads
        p = hf_hub_download(rid, "w.bin", endpoint=dst.endpoint, token=token, cache_dir=str(tmp_path / "c"))
        assert open(p, "rb").read() == weights
        assert httpx2.get(f"{dst.endpoint}/api/models/{priv}").status_code == 404  # still private
        assert api.model_info(priv).private
        # New rows get fresh ids after the copied ones (sequences moved past them).
        api.create_repo(f"alice/new-{uuid.uuid4().hex[:6]}")
        dst.cli("token", "create", "--user", "alice", "--name", "after-copy")
        api.upload_file(path_or_fileobj=b"more", path_in_repo="b.txt", repo_id=rid)
    finally:
        dst.stop()

    # And back to a SQLite file.
    back = tmp_path / "back.db"
    r = dst.cli("db", "copy", "--to", f"sqlite://{back}", "--json")
    report = json.loads(r.stdout)
    assert {t["table"]: t["target_rows"] for t in report}["repos"] == 3
    shutil.rmtree(src.data_dir, ignore_errors=True)
