"""`kohaku fsck` finds damaged repositories (run in both storage modes)."""
import glob
import hashlib
import json
import os
import uuid

import tempfile

from huggingface_hub import HfApi

from conftest import Hub, free_port


def blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def fsck(hub, *args):
    r = hub.cli("fsck", "--json", *args, check=False)
    return r.returncode, json.loads(r.stdout)


def test_fsck_reports_missing_objects():
    # A hub of its own: the test damages its storage on purpose.
    hub = Hub(tempfile.mkdtemp(prefix="kohaku-e2e-fsck-"), port=free_port())
    hub.cli("user", "create", "alice", "--email", "alice@example.com", "--password", "alice-password")
    token = hub.cli("token", "create", "--user", "alice").stdout.strip()
    hub.start()
    try:
        check_damage_is_found(hub, HfApi(endpoint=hub.endpoint, token=token))
    finally:
        hub.stop()


def check_damage_is_found(hub, api):
    rid = f"alice/fsck-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    text = f"unique text {uuid.uuid4()}".encode()
    weights = os.urandom(3000)
    api.upload_file(path_or_fileobj=text, path_in_repo="notes.txt", repo_id=rid)
    api.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=rid)
    api.create_tag(rid, tag="v1")
    code, rep = fsck(hub, "--repo", f"model/{rid}")
    assert code == 0 and rep["problems"] == [] and rep["refs"] == 2 and rep["lfs_objects"] == 1
    assert rep["objects"] >= 7  # 3 commits, trees, blobs
    code, rep = fsck(hub)
    assert code == 0 and rep["repos"] >= 1
    # Lose the LFS object and a git blob: both are reported, the exit status says so.
    oid = hashlib.sha256(weights).hexdigest()
    for f in glob.glob(os.path.join(hub.storage_dir, "lfs", oid[:2], oid[2:4], oid + "*")):
        os.remove(f)
    sha = blob_sha1(text)
    [blob] = glob.glob(os.path.join(hub.storage_dir, "repos", "*", "objects", sha[:2], sha[2:]))
    os.remove(blob)
    code, rep = fsck(hub, "--repo", f"model/{rid}")
    assert code != 0
    problems = " | ".join(p["what"] for p in rep["problems"])
    assert f"LFS object {oid} of w.bin is missing from storage" in problems, problems
    assert sha in problems, problems
