"""`kohaku gc` over real data, while the hub serves."""
import concurrent.futures
import hashlib
import json
import os
import subprocess
import threading
import time
import uuid

import httpx2
from huggingface_hub import HfApi, hf_hub_download

from conftest import auth, own_hub

# Hub-wide collections walk every repository: a hub of this module's own keeps them small.
hub = own_hub()


def gc(hub, *args):
    r = hub.cli("gc", "--yes", "--json", *args)
    return json.loads(r.stdout)


def test_keep_versions_and_collected_revisions(hub, http, api, tmp_path):
    rid = f"alice/gc-{uuid.uuid4().hex[:8]}"
    other = f"alice/gc-other-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    api.create_repo(other)
    http.put(f"/api/models/{rid}/settings", json={"lfs_keep_versions": 3}, headers=auth(hub)).raise_for_status()
    versions, commits = [], []
    for i in range(8):
        data = f"version {i} ".encode() + os.urandom(1000)
        versions.append(data)
        commits.append(api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=rid, commit_message=f"v{i}").oid)
    # Version 1 is also a current file elsewhere: it must survive.
    api.upload_file(path_or_fileobj=versions[1], path_in_repo="copy.bin", repo_id=other)
    dry = json.loads(hub.cli("gc", "--dry-run", "--json", "--grace", "0s", "--repo", f"model/{rid}").stdout)
    assert dry["dry_run"] and dry["lfs_old_versions"]["objects"] == 4
    rep = gc(hub, "--grace", "0s", "--repo", f"model/{rid}")
    assert rep["lfs_old_versions"]["objects"] == 4  # 5 oldest minus the one used elsewhere
    assert rep["lfs_old_versions"]["bytes"] == sum(len(versions[i]) for i in (0, 2, 3, 4))
    for i in (5, 6, 7, 1):
        p = hf_hub_download(rid, "w.bin", revision=commits[i], cache_dir=tmp_path / f"c{i}")
        assert open(p, "rb").read() == versions[i]
    r = http.get(f"/{rid}/resolve/{commits[0]}/w.bin")
    assert r.status_code == 410 and "no longer stored" in r.headers["x-error-message"]
    assert gc(hub, "--grace", "0s", "--repo", f"model/{rid}")["lfs_old_versions"]["objects"] == 0  # nothing left to do


def test_unreachable_git_objects_and_deleted_repos(hub, http, api, tmp_path):
    rid = f"alice/gcg-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"keep", path_in_repo="keep.txt", repo_id=rid)
    api.create_branch(rid, branch="tmp")
    api.upload_file(path_or_fileobj=b"only on a deleted branch", path_in_repo="gone.txt", repo_id=rid, revision="tmp")
    api.delete_branch(rid, branch="tmp")
    rep = gc(hub, "--grace", "0s", "--repo", f"model/{rid}")
    assert rep["git_unreachable"]["objects"] >= 3  # commit, tree, blob
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    host = hub.endpoint.split("://")[1]
    subprocess.run(["git", "clone", "-q", f"http://{host}/{rid}", str(tmp_path / "c")], env=env, check=True)
    subprocess.run(["git", "fsck", "--strict"], cwd=tmp_path / "c", env=env, check=True, capture_output=True)
    assert (tmp_path / "c" / "keep.txt").read_text() == "keep"
    # A deleted repo's storage goes at the next run.
    dead = f"alice/gcd-{uuid.uuid4().hex[:8]}"
    api.create_repo(dead)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=dead)
    api.delete_repo(dead)
    rep = gc(hub, "--grace", "0s")
    assert rep["deleted_repos"]["objects"] >= 4
    assert api.list_repo_files(rid) == [".gitattributes", "keep.txt"]


def test_abandoned_uploads_and_cli_behaviour(hub):
    tmpdir = os.path.join(hub.storage_dir, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    stale = os.path.join(tmpdir, "stale-upload-" + uuid.uuid4().hex)
    with open(stale, "wb") as f:
        f.write(b"x" * 1234)
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = os.path.join(tmpdir, "fresh-upload-" + uuid.uuid4().hex)
    open(fresh, "wb").write(b"y")
    rep = gc(hub)  # default grace 1h
    assert rep["abandoned_uploads"]["objects"] >= 1 and not os.path.exists(stale) and os.path.exists(fresh)
    os.remove(fresh)
    r = hub.cli("gc", check=False)  # no terminal, no --yes: refuses
    assert r.returncode != 0 and "--yes" in r.stderr
    r = hub.cli("gc", "--dry-run")
    assert r.returncode == 0 and "LFS old versions" in r.stdout
    assert hub.cli("gc", "--yes", "--grace", "ten", check=False).returncode != 0


def test_gc_racing_with_uploads_loses_nothing(hub, api, tmp_path):
    rid = f"alice/gcr-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    stop = threading.Event()
    runs = []

    def collector():
        while not stop.is_set():
            runs.append(gc(hub, "--grace", "1m"))

    uploaded = {}

    def uploader(i):
        data = os.urandom(3000) + bytes([i])
        c = HfApi(endpoint=hub.endpoint, token=hub.tokens["alice"])
        c.upload_file(path_or_fileobj=data, path_in_repo=f"u{i}.bin", repo_id=rid)
        uploaded[i] = data

    t = threading.Thread(target=collector)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            list(ex.map(uploader, range(12)))
    finally:
        stop.set()
        t.join()
    assert runs, "gc never ran"
    for i, data in uploaded.items():
        p = hf_hub_download(rid, f"u{i}.bin", cache_dir=tmp_path / "d")
        assert hashlib.sha256(open(p, "rb").read()).digest() == hashlib.sha256(data).digest()


def test_gc_runs_one_at_a_time(hub):
    """A deleting collection holds a lease in the database: a second one (another machine's
    cron) is refused while it is held, dry runs are not; an expired lease is taken over."""
    held = "someone-else 2999-01-01T00:00:00.000Z 2026-01-01T00:00:00.000Z"
    hub.sql("INSERT INTO server_settings (key, value) VALUES ('lease:gc', ?)", held)
    try:
        r = hub.cli("gc", "--yes", "--json", check=False)
        assert r.returncode != 0 and "another gc has been running since 2026-01-01" in r.stderr, r.stderr
        assert hub.cli("gc", "--dry-run", "--json", check=False).returncode == 0
        assert hub.sql("SELECT value FROM server_settings WHERE key = 'lease:gc'") == [(held,)]
        hub.sql("UPDATE server_settings SET value = 'gone 2001-01-01T00:00:00.000Z 2001-01-01T00:00:00.000Z' WHERE key = 'lease:gc'")
        assert hub.cli("gc", "--yes", "--json", check=False).returncode == 0
        assert hub.sql("SELECT value FROM server_settings WHERE key = 'lease:gc'") == []  # released
    finally:
        hub.sql("DELETE FROM server_settings WHERE key = 'lease:gc'")


def test_abandoned_multipart_upload_counted_by_dry_run_then_removed(hub, http):
    """A multipart upload that was started and never completed (the client gave up, or the hub
    process answering it was killed) is reported by a dry run and removed by a real run."""
    from conftest import MULTIPART_THRESHOLD

    rid = f"alice/mp-gc-{uuid.uuid4().hex[:6]}"
    http.post("/api/repos/create", json={"name": rid.split("/")[1]}, headers=auth(hub)).raise_for_status()
    oid = uuid.uuid4().hex * 2
    r = http.post(
        f"/{rid}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic", "multipart"], "objects": [{"oid": oid, "size": MULTIPART_THRESHOLD + 1}]},
        headers=auth(hub),
    )
    r.raise_for_status()
    up = r.json()["objects"][0]["actions"]["upload"]
    assert http.put(up["header"]["1"], content=os.urandom(1000)).status_code in (200, 400)  # a part, then silence
    rows = lambda: hub.sql("SELECT COUNT(*) FROM multipart_uploads WHERE oid = ?", oid)[0][0]
    assert rows() == 1
    time.sleep(0.01)
    dry = json.loads(hub.cli("gc", "--dry-run", "--json", "--grace", "0s").stdout)
    assert dry["abandoned_uploads"]["objects"] >= 1
    assert rows() == 1, "a dry run changes nothing"
    young = json.loads(hub.cli("gc", "--yes", "--json", "--grace", "1h").stdout)
    assert rows() == 1, "younger than the grace period: kept"
    real = json.loads(hub.cli("gc", "--yes", "--json", "--grace", "0s").stdout)
    assert real["abandoned_uploads"]["objects"] >= 1 and young is not None
    assert rows() == 0
