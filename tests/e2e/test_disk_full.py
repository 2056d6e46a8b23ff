"""A full disk: writes answer 507 with the HF error headers, the hub logs one out-of-space
line a minute (not one per request), and once space is freed the same requests succeed without
a restart, with nothing half written left visible.

The hub gets a data directory of its own on a small tmpfs, in two layouts:
- `local` storage: objects and staging on the tmpfs; with SQLite (the first CI pass) the
  database too, so the database is what fails first; with PostgreSQL (the second pass) the
  database has room and the object writes fail after the rows they go with;
- `s3` storage (second pass only): the bucket and the database are elsewhere and only the staging
  area `{data_dir}/tmp` is on the tmpfs, where the hub receives Xet xorbs before putting them in
  the bucket: that upload runs out of space, while commits and repo creation keep working.
"""
import base64
import errno
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
import zlib

import httpx2
import pytest

from conftest import S3_ENDPOINT, Hub, free_port
from test_bad_input import HEADER, assert_error, ndjson

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "xet")
XORB = "c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324"
OUT_OF_SPACE = re.compile(r"ERROR.*out of storage space")
DURING = "a line committed while the disk is full, and again once it is not\n" * 50


@pytest.fixture
def small_disk():
    """A 48 MiB tmpfs mounted for this test, unmounted afterwards."""
    mnt = tempfile.mkdtemp(prefix="kohaku-e2e-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


@pytest.fixture(params=["local", "s3"])
def full_hub(request, small_disk):
    storage = request.param
    if storage == "s3" and not S3_ENDPOINT:
        pytest.skip("S3 layout: runs in the PostgreSQL + S3 pass")
    data = os.path.join(small_disk, "data")
    os.makedirs(data)
    # The log must stay writable while the disk is full: conftest writes it to
    # {data_dir}/serve.log, so that name points off the tmpfs.
    logs = tempfile.mkdtemp(prefix="kohaku-e2e-full-log-")
    os.symlink(os.path.join(logs, "serve.log"), os.path.join(data, "serve.log"))
    h = Hub(data, port=free_port(), extra_env={"KOHAKU_HUB_STORAGE": storage})
    if storage == "local":
        h.storage_dir = os.path.join(data, "storage")
    h.storage = storage
    h.log_path = os.path.join(logs, "serve.log")
    h.cli("user", "create", "dora", "--email", "dora@example.com", "--password", "dora-password")
    h.tokens["dora"] = h.cli("token", "create", "--user", "dora").stdout.strip()
    h.start()
    try:
        yield h
    finally:
        h.stop()
        shutil.rmtree(logs, ignore_errors=True)


def fill(directory):
    """Write a file until the filesystem refuses more; returns its path."""
    path = os.path.join(directory, "filler")
    block = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    f.write(block[:size])
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    return path


def xet_token(hub, http, rid):
    r = http.get(f"/api/models/{rid}/xet-write-token/main", headers=bearer(hub))
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


def bearer(hub):
    return {"authorization": f"Bearer {hub.tokens['dora']}"}


def head(http, hub, rid):
    return http.get(f"/api/models/{rid}/revision/main", headers=bearer(hub)).json()["sha"]


def commit(http, hub, rid, path, text):
    content = base64.b64encode(text.encode()).decode()
    body = ndjson(HEADER, {"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}})
    return http.post(
        f"/api/models/{rid}/commit/main",
        content=body,
        headers={**bearer(hub), "content-type": "application/x-ndjson"},
    )


def lfs_stored(hub, oid):
    """Whether LFS object `oid` is stored; a stored copy must be whole."""
    d = os.path.join(hub.storage_dir, "lfs", oid[:2], oid[2:4])
    copies = [os.path.join(d, f) for f in os.listdir(d) if f.startswith(oid)] if os.path.isdir(d) else []
    for c in copies:
        assert hashlib.sha256(open(c, "rb").read()).hexdigest() == oid, f"partial LFS object {c}"
    return bool(copies)


def assert_objects_whole(hub):
    """Every stored git object inflates to content whose id is its name: nothing half written
    was left under a real key (a truncated object would be reused by later commits)."""
    root = os.path.join(hub.storage_dir, "repos")
    n = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            oid = os.path.basename(dirpath) + name
            data = zlib.decompress(open(path, "rb").read())
            assert hashlib.sha1(data).hexdigest() == oid, f"damaged object {path}"
            n += 1
    assert n > 0


def log_since(hub, offset):
    with open(hub.log_path) as f:
        f.seek(offset)
        return f.read()


def test_full_disk_answers_507_logs_once_and_recovers(full_hub):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    hub = full_hub
    api = HfApi(endpoint=hub.endpoint, token=hub.tokens["dora"])
    rid = f"dora/full-{uuid.uuid4().hex[:8]}"
    new_rid = f"dora/later-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"before\n", path_in_repo="before.txt", repo_id=rid)
    weights = os.urandom(300_000)
    oid = hashlib.sha256(weights).hexdigest()
    xorb = open(os.path.join(FIXTURES, XORB + ".xorb"), "rb").read()

    with httpx2.Client(base_url=hub.endpoint, timeout=120) as http:
        before = head(http, hub, rid)
        cas = xet_token(hub, http, rid)
        log_offset = os.path.getsize(hub.log_path)
        filler = fill(hub.data_dir)

        # --- the disk is full --------------------------------------------------------------
        # A Xet xorb is staged in {data_dir}/tmp in both passes.
        for _ in range(2):
            r = http.post(f"/api/xet/v1/xorbs/default/{XORB}", content=xorb, headers={"authorization": f"Bearer {cas}"})
            assert_error(r, 507, "InsufficientStorage")
            assert "out of storage space" in r.headers["x-error-message"]
            assert "out of storage space" in r.json()["error"]
        assert hub.sql("SELECT COUNT(*) FROM xet_xorbs")[0][0] == 0
        assert not os.path.exists(os.path.join(hub.storage_dir, "xet", "xorbs", XORB[:2], XORB))

        if hub.storage == "local":
            # The objects and LFS staging are on the full disk too (and the database with SQLite).
            r = http.post("/api/repos/create", json={"name": new_rid.split("/")[1]}, headers=bearer(hub))
            assert_error(r, 507, "InsufficientStorage")
            assert http.get(f"/api/models/{new_rid}", headers=bearer(hub)).status_code == 404

            r = commit(http, hub, rid, "during.txt", DURING)
            assert_error(r, 507, "InsufficientStorage")
            assert head(http, hub, rid) == before

            # LFS upload through the real client: its PUT is refused with 507.
            with pytest.raises(Exception) as exc:
                api.upload_file(path_or_fileobj=weights, path_in_repo="weights.bin", repo_id=rid)
            http_error = exc.value  # huggingface_hub wraps it in "Error while uploading ..."
            while not isinstance(http_error, HfHubHTTPError) and http_error.__cause__ is not None:
                http_error = http_error.__cause__
            assert isinstance(http_error, HfHubHTTPError), repr(exc.value)
            assert http_error.response.status_code == 507
            assert http_error.response.headers["x-error-code"] == "InsufficientStorage"
            assert "out of storage space" in str(http_error)
            # And the raw batch + PUT, to see the error headers of the PUT itself.
            r = http.post(
                f"/{rid}.git/info/lfs/objects/batch",
                json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(weights)}]},
                headers={**bearer(hub), "accept": "application/vnd.git-lfs+json"},
            )
            assert r.status_code == 200, r.text
            action = r.json()["objects"][0]["actions"]["upload"]
            r = http.put(action["href"], content=weights, headers=action.get("header", {}))
            assert_error(r, 507, "InsufficientStorage")
            # A whole copy may be left if only the database refused (GC takes it later);
            # it is not recorded, so nothing can use it.
            lfs_stored(hub, oid)
            assert hub.sql("SELECT COUNT(*) FROM lfs_objects WHERE oid = ?", oid)[0][0] == 0
            assert_objects_whole(hub)
            assert head(http, hub, rid) == before
            assert api.list_repo_files(rid) == [".gitattributes", "before.txt"]
        else:
            # The database and the bucket are elsewhere: writes that need no local disk work.
            assert http.post("/api/repos/create", json={"name": "ok-" + uuid.uuid4().hex[:8]}, headers=bearer(hub)).status_code == 200
            assert commit(http, hub, rid, "pg.txt", "fine\n").status_code == 200

        # One out-of-space line for the whole burst, and no per-request server-error lines.
        burst = log_since(hub, log_offset)
        assert len(OUT_OF_SPACE.findall(burst)) == 1, burst
        assert "request failed" not in burst, burst
        assert "status=507" in burst

        # --- space freed: the same requests succeed, without a restart -----------------------
        os.remove(filler)
        r = http.post(f"/api/xet/v1/xorbs/default/{XORB}", content=xorb, headers={"authorization": f"Bearer {cas}"})
        assert r.status_code == 200 and r.json() == {"was_inserted": True}, r.text
        assert hub.sql("SELECT COUNT(*) FROM xet_xorbs")[0][0] == 1

        assert http.post("/api/repos/create", json={"name": new_rid.split("/")[1]}, headers=bearer(hub)).status_code == 200
        assert api.list_repo_files(new_rid) == [".gitattributes"]

        # The same commit: had a short copy of its blob been left under the blob's key, it
        # would be reused now.
        r = commit(http, hub, rid, "during.txt", DURING)
        assert r.status_code == 200, r.text
        api.upload_file(path_or_fileobj=weights, path_in_repo="weights.bin", repo_id=rid)
        files = set(api.list_repo_files(rid))
        assert {".gitattributes", "before.txt", "during.txt", "weights.bin"} <= files
        assert lfs_stored(hub, oid)
        cache = tempfile.mkdtemp(prefix="kohaku-e2e-full-dl-")
        try:
            got = api.hf_hub_download(rid, "weights.bin", cache_dir=cache)
            assert open(got, "rb").read() == weights
            assert open(api.hf_hub_download(rid, "before.txt", cache_dir=cache)).read() == "before\n"
            assert open(api.hf_hub_download(rid, "during.txt", cache_dir=cache)).read() == DURING
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        if hub.storage == "local":
            assert_objects_whole(hub)
        # The history holds the commits that were acknowledged, and no other.
        titles = [c.title for c in api.list_repo_commits(rid)]
        assert len(titles) == (4 if hub.storage == "local" else 5), titles
