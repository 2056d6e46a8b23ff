"""S3 mode specifics: transfers go straight to the bucket, presigned URLs expire, start-up
refuses an unusable bucket, `kohaku storage check|migrate`. Runs in the S3 pass of
scripts/test.sh (which starts an s3s-fs server with SigV4 on)."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download

from conftest import KOHAKU, S3_ENDPOINT, Hub, auth, free_port, own_hub, s3_env

# Its GC test runs a hub-wide gc: a hub of this module's own keeps it small.
hub = own_hub()

pytestmark = pytest.mark.skipif(not S3_ENDPOINT, reason="needs the S3 pass (KOHAKU_TEST_S3_ENDPOINT)")


def start_hub(extra=None):
    data = tempfile.mkdtemp(prefix="kohaku-e2e-s3-")
    h = Hub(data, port=free_port(), extra_env=extra)
    h.cli("user", "create", "carol", "--email", "carol@example.com", "--password", "carol-password")
    h.tokens["carol"] = h.cli("token", "create", "--user", "carol").stdout.strip()
    h.start()
    return h


def lfs_batch(c, hub, rid, op, data, who="carol"):
    oid = hashlib.sha256(data).hexdigest()
    r = c.post(
        f"/{rid}.git/info/lfs/objects/batch",
        json={"operation": op, "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]},
        headers=auth(hub, who),
    )
    r.raise_for_status()
    return r.json()["objects"][0]


def test_transfers_bypass_the_hub(hub, api, tmp_path):
    rid = f"alice/s3-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    data = os.urandom(25_000_000)  # above the multipart threshold of the suite
    (tmp_path / "w.safetensors").write_bytes(data)
    api.upload_file(path_or_fileobj=str(tmp_path / "w.safetensors"), path_in_repo="w.safetensors", repo_id=rid)
    oid = hashlib.sha256(data).hexdigest()
    # The object is in the bucket (one copy), not in the hub's data directory.
    d = os.path.join(hub.storage_dir, "lfs", oid[:2], oid[2:4])
    assert [f for f in os.listdir(d) if f.startswith(oid)]
    assert not os.path.exists(os.path.join(hub.data_dir, "storage", "lfs"))
    with httpx2.Client(base_url=hub.endpoint, timeout=60) as c:
        h = c.head(f"/{rid}/resolve/main/w.safetensors")
        assert h.status_code == 302 and h.headers["location"].startswith(S3_ENDPOINT + "/")
        assert h.headers["x-linked-size"] == str(len(data))
        # git-lfs downloads from the bucket too.
        r = c.post(f"/{rid}.git/info/lfs/objects/batch", json={"operation": "download", "objects": [{"oid": oid, "size": len(data)}]}, headers=auth(hub))
        href = r.json()["objects"][0]["actions"]["download"]["href"]
        assert href.startswith(S3_ENDPOINT + "/")
        assert hashlib.sha256(httpx2.get(href, timeout=60).content).hexdigest() == oid
    p = hf_hub_download(rid, "w.safetensors", cache_dir=tmp_path / "c", token=api.token)
    assert open(p, "rb").read() == data
    # Dedup: the same bytes again need no transfer at all.
    with httpx2.Client(base_url=hub.endpoint, timeout=60) as c:
        obj = c.post(f"/{rid}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}, headers=auth(hub)).json()["objects"][0]
        assert "actions" not in obj


def test_expired_presigned_urls_refused():
    # Presigned URLs carry whole seconds: a short but not tiny lifetime keeps the fresh-URL
    # checks below clear of the edge.
    h = start_hub({"KOHAKU_HUB_UPLOAD_URL_EXPIRY_SECS": "4", "KOHAKU_HUB_DOWNLOAD_URL_EXPIRY_SECS": "4"})
    try:
        api = HfApi(endpoint=h.endpoint, token=h.tokens["carol"])
        rid = f"carol/exp-{uuid.uuid4().hex[:6]}"
        api.create_repo(rid)
        api.upload_file(path_or_fileobj=b"w" * 2000, path_in_repo="w.bin", repo_id=rid)
        with httpx2.Client(base_url=h.endpoint, timeout=60) as c:
            up = lfs_batch(c, h, rid, "upload", b"late upload")["actions"]["upload"]["href"]
            loc = c.get(f"/{rid}/resolve/main/w.bin").headers["location"]
            assert httpx2.get(loc).status_code == 200
            time.sleep(5.5)
            assert httpx2.put(up, content=b"late upload").status_code == 403
            assert httpx2.get(loc).status_code == 403
            # A fresh redirect works again.
            assert httpx2.get(c.get(f"/{rid}/resolve/main/w.bin").headers["location"]).content == b"w" * 2000
    finally:
        h.stop()


def serve_fails(env_changes):
    data = tempfile.mkdtemp(prefix="kohaku-e2e-s3bad-")
    env = dict(os.environ, KOHAKU_HUB_DATA_DIR=data, KOHAKU_HUB_LISTEN=f"127.0.0.1:{free_port()}")
    env.update(s3_env("b-" + uuid.uuid4().hex[:12]))
    env.update(env_changes)
    try:
        r = subprocess.run([KOHAKU, "serve"], env=env, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    assert r.returncode != 0
    return r.stderr


def test_unusable_bucket_at_start_up():
    closed = free_port()
    err = serve_fails({"KOHAKU_HUB_S3_ENDPOINT": f"http://127.0.0.1:{closed}"})
    assert "object storage is not usable" in err and "cannot connect" in err, err
    err = serve_fails({"KOHAKU_HUB_S3_SECRET_KEY": "not-the-secret"})
    assert "access denied" in err and "not-the-secret" not in err, err
    err = serve_fails({"KOHAKU_HUB_S3_BUCKET": "no-such-bucket-" + uuid.uuid4().hex[:8]})
    assert "does not exist" in err, err
    env = dict(os.environ)
    env.update(s3_env("x"))
    env.pop("KOHAKU_HUB_S3_BUCKET")
    r = subprocess.run([KOHAKU, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "s3_bucket" in r.stderr


def test_storage_check(hub):
    r = hub.cli("storage", "check", "--json")
    out = json.loads(r.stdout)
    assert out["ok"] and [s["step"] for s in out["steps"]][:2] == ["list bucket", "write object"]
    assert len(out["steps"]) == 6 and all(s["ok"] for s in out["steps"])
    # Presigned URLs signed for a public endpoint nobody listens on: the round trip says so.
    env = dict(hub.env, KOHAKU_HUB_S3_PUBLIC_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    r = subprocess.run([KOHAKU, "storage", "check", "--json"], env=env, capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout)
    assert r.returncode != 0 and not out["ok"]
    assert out["steps"][-1]["step"] == "presigned GET (public endpoint)" and not out["steps"][-1]["ok"]


def test_storage_migrate_round_trip(tmp_path):
    # A hub on local storage, with LFS and regular files and some history.
    h = start_hub({"KOHAKU_HUB_STORAGE": "local"})
    api = HfApi(endpoint=h.endpoint, token=h.tokens["carol"])
    rid = f"carol/mig-{uuid.uuid4().hex[:6]}"
    api.create_repo(rid)
    weights = os.urandom(300_000)
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=rid)
    api.upload_file(path_or_fileobj=b'{"a": 1}', path_in_repo="config.json", repo_id=rid)
    files = sorted(api.list_repo_files(rid))
    sha = api.model_info(rid).sha
    h.stop()
    bucket_dir = h.storage_dir
    assert not os.listdir(bucket_dir)  # nothing in the bucket yet
    first = json.loads(h.cli("storage", "migrate", "--to", "s3", "--yes", "--json").stdout)
    assert first["copied"] == first["objects"] == first["verified"] > 5 and first["skipped"] == 0
    # Resumable: a second run copies nothing; a lost object is copied again.
    again = json.loads(h.cli("storage", "migrate", "--to", "s3", "--yes", "--json").stdout)
    assert again["copied"] == 0 and again["skipped"] == first["objects"]
    oid = hashlib.sha256(weights).hexdigest()
    os.remove(os.path.join(bucket_dir, "lfs", oid[:2], oid[2:4], oid))
    third = json.loads(h.cli("storage", "migrate", "--to", "s3", "--yes", "--json").stdout)
    assert third["copied"] == 1 and third["copied_bytes"] == len(weights)
    assert h.cli("storage", "migrate", "--to", "s3", check=False).returncode != 0  # no --yes, no terminal
    # The same hub, now serving from the bucket.
    shutil.rmtree(os.path.join(h.data_dir, "storage"))
    h.env["KOHAKU_HUB_STORAGE"] = "s3"
    h.start()
    try:
        assert sorted(api.list_repo_files(rid)) == files and api.model_info(rid).sha == sha
        p = api.hf_hub_download(rid, "model.safetensors", cache_dir=tmp_path / "c")
        assert open(p, "rb").read() == weights
        host = h.endpoint.split("://")[1]
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", HOME=str(tmp_path))
        subprocess.run(["git", "lfs", "install", "--skip-repo"], env=env, check=True, capture_output=True)
        url = f"http://carol:{h.tokens['carol']}@{host}/{rid}"
        subprocess.run(["git", "clone", "-q", url, str(tmp_path / "clone")], env=env, check=True, timeout=120)
        assert (tmp_path / "clone" / "model.safetensors").read_bytes() == weights
        assert (tmp_path / "clone" / "config.json").read_bytes() == b'{"a": 1}'
    finally:
        h.stop()


def test_gc_collects_abandoned_direct_uploads(hub, http):
    rid = f"alice/s3gc-{uuid.uuid4().hex[:6]}"
    http.post("/api/repos/create", json={"name": rid.split("/")[1]}, headers=auth(hub)).raise_for_status()
    data = os.urandom(4000)
    oid = hashlib.sha256(data).hexdigest()
    obj = lfs_batch(http, hub, rid, "upload", data, who="alice")
    assert http.put(obj["actions"]["upload"]["href"], content=data).status_code == 200  # never verified
    d = os.path.join(hub.storage_dir, "lfs", oid[:2], oid[2:4])
    assert len([f for f in os.listdir(d) if f.startswith(oid)]) == 1
    rep = json.loads(hub.cli("gc", "--yes", "--json", "--grace", "1h").stdout)
    assert len([f for f in os.listdir(d) if f.startswith(oid)]) == 1  # young: kept
    rep = json.loads(hub.cli("gc", "--yes", "--json", "--grace", "0s").stdout)
    assert [f for f in os.listdir(d) if f.startswith(oid)] == []
    assert rep["abandoned_uploads"]["objects"] + rep["lfs_unreferenced"]["objects"] >= 1
    # The upload is over: verifying it now finds nothing to admit.
    r = http.post(obj["actions"]["verify"]["href"], json={"oid": oid, "size": len(data)})
    assert r.status_code == 404 and r.headers["x-error-code"]


def test_concurrent_direct_uploads_of_the_same_bytes(hub, http):
    """Two users upload the same object at once: one copy stays, both may use it."""
    import concurrent.futures

    data = os.urandom(50_000)
    oid = hashlib.sha256(data).hexdigest()
    repos = {}
    for who in ("alice", "bob"):
        name = f"dup-{uuid.uuid4().hex[:6]}"
        http.post("/api/repos/create", json={"name": name}, headers=auth(hub, who)).raise_for_status()
        repos[who] = f"{who}/{name}"
    objs = {who: lfs_batch(http, hub, repos[who], "upload", data, who=who) for who in repos}
    for obj in objs.values():
        assert httpx2.put(obj["actions"]["upload"]["href"], content=data).status_code == 200

    def verify(who):
        return httpx2.post(objs[who]["actions"]["verify"]["href"], json={"oid": oid, "size": len(data)}).status_code

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        assert list(ex.map(verify, repos)) == [200, 200]
    d = os.path.join(hub.storage_dir, "lfs", oid[:2], oid[2:4])
    assert len([f for f in os.listdir(d) if f.startswith(oid)]) == 1
    for who, rid in repos.items():
        body = "\n".join(json.dumps(x) for x in [
            {"key": "header", "value": {"summary": "dup"}},
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ]) + "\n"
        r = http.post(f"/api/models/{rid}/commit/main", content=body, headers=auth(hub, who))
        assert r.status_code == 200, r.text
        loc = http.get(f"/{rid}/resolve/main/w.bin", headers=auth(hub, who)).headers["location"]
        assert httpx2.get(loc).content == data
