"""Quotas (namespace and repo, enforced at every entry point) and per-repo LFS settings."""
import hashlib
import json
import os
import subprocess
import uuid

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from conftest import auth


@pytest.fixture
def quser(hub):
    name = f"q{uuid.uuid4().hex[:8]}"
    hub.cli("user", "create", name, "--email", f"{name}@example.com", "--password", "a-good-password")
    tok = hub.cli("token", "create", "--user", name).stdout.strip()
    hub.tokens[name] = tok
    return name, HfApi(endpoint=hub.endpoint, token=tok)


def status(e):
    return e.value.response.status_code


def test_quota_enforced_everywhere(hub, http, quser, tmp_path):
    name, api = quser
    rid = f"{name}/m"
    api.create_repo(rid)
    api.create_repo(f"{name}/p", private=True)
    hub.cli("quota", "set", name, "--public", "60KB", "--private", "1MB")
    shown = json.loads(hub.cli("quota", "show", name, "--json").stdout)
    assert shown["public_quota_bytes"] == 60_000 and shown["private_quota_bytes"] == 1_000_000
    api.upload_file(path_or_fileobj=os.urandom(30_000), path_in_repo="a.bin", repo_id=rid)  # LFS (suffix)
    # preupload / LFS batch: refused with a message saying used and allowed.
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=os.urandom(40_000), path_in_repo="b.bin", repo_id=rid)
    assert status(e) == 413 and "Quota exceeded" in str(e.value) and "allowed" in str(e.value)
    data = os.urandom(40_000)
    oid = hashlib.sha256(data).hexdigest()
    r = http.post(f"/{rid}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [{"oid": oid, "size": 40_000}]}, headers=auth(hub, name))
    assert r.status_code == 413
    # Commit of a regular file (NDJSON directly).
    import base64
    body = json.dumps({"key": "header", "value": {"summary": "big"}}) + "\n" + json.dumps({"key": "file", "value": {"path": "big.txt", "content": base64.b64encode(b"x" * 40_000).decode(), "encoding": "base64"}}) + "\n"
    r = http.post(f"/api/models/{rid}/commit/main", content=body, headers=auth(hub, name))
    assert r.status_code == 413
    # git push.
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path))
    host = hub.endpoint.split("://")[1]
    d = tmp_path / "c"
    subprocess.run(["git", "clone", "-q", f"http://x:{hub.tokens[name]}@{host}/{rid}", str(d)], env=env, check=True)
    (d / "big.txt").write_bytes(os.urandom(40_000))
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b.c", "commit", "-qam", "x"], cwd=d, env=env)
    subprocess.run(["git", "add", "big.txt"], cwd=d, env=env, check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b.c", "commit", "-qm", "big"], cwd=d, env=env, check=True)
    r = subprocess.run(["git", "push", "origin", "main"], cwd=d, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "Quota exceeded" in r.stderr
    # Visibility change of a public repo into a full private bucket, and move into it.
    hub.cli("quota", "set", name, "--private", "1KB")
    with pytest.raises(HfHubHTTPError) as e:
        api.update_repo_settings(rid, private=True)
    assert status(e) == 413
    assert api.model_info(rid).private is False
    # Raising the quota lets everything through.
    hub.cli("quota", "set", name, "--public", "unlimited", "--private", "unlimited")
    r = subprocess.run(["git", "push", "origin", "main"], cwd=d, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    api.upload_file(path_or_fileobj=os.urandom(40_000), path_in_repo="b.bin", repo_id=rid)
    api.update_repo_settings(rid, private=True)
    q = http.get(f"/api/quota/{name}", headers=auth(hub, name)).json()
    assert q["private_used_bytes"] >= 110_000 and q["public_quota_bytes"] is None
    # Per-repo quota (enforced, unlike KohakuHub).
    hub.cli("quota", "set-repo", f"model/{rid}", "1KB")
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"y" * 2000, path_in_repo="c.txt", repo_id=rid)
    assert status(e) == 413 and "this repository" in str(e.value)
    rq = http.get(f"/api/quota/repo/model/{rid}", headers=auth(hub, name)).json()
    assert rq["quota_bytes"] == 1000 and rq["is_inheriting"] is False
    # Move into another namespace whose bucket is full.
    other = f"o{uuid.uuid4().hex[:6]}"
    http.post("/org/create", json={"name": other}, headers=auth(hub, name)).raise_for_status()
    hub.cli("quota", "set", other, "--private", "10KB")
    with pytest.raises(HfHubHTTPError) as e:
        api.move_repo(rid, f"{other}/m")
    assert status(e) == 413
    assert api.repo_exists(rid)


def test_quota_http_and_cli(hub, http, quser):
    name, api = quser
    api.create_repo(f"{name}/x")
    assert http.put(f"/api/quota/{name}", json={"private_quota_bytes": "2GB"}, headers=auth(hub, name)).status_code == 403
    r = http.put(f"/api/quota/{name}", json={"private_quota_bytes": "2GB", "public_quota_bytes": 1000}, headers=auth(hub, "hubadmin"))
    assert r.status_code == 200 and r.json()["private_quota_bytes"] == 2_000_000_000
    assert http.get(f"/api/quota/{name}", headers=auth(hub, "bob")).status_code == 403
    assert http.get(f"/api/quota/{name}/public").json()["public_quota_bytes"] == 1000
    repos = http.get(f"/api/quota/{name}/repos", headers=auth(hub, name)).json()
    assert repos["total_repos"] == 1 and repos["repositories"][0]["is_inheriting"] is True
    assert http.post(f"/api/quota/{name}/recalculate", headers=auth(hub, name)).status_code == 200
    assert http.put(f"/api/quota/{name}", json={"private_quota_bytes": "lots"}, headers=auth(hub, "hubadmin")).status_code == 400
    assert http.put(f"/api/quota/{name}", json={"private_quota_bytes": -1}, headers=auth(hub, "hubadmin")).status_code == 400
    assert http.get("/api/quota/nobody-here-x", headers=auth(hub, "hubadmin")).status_code == 404
    out = json.loads(hub.cli("quota", "recalculate", "--all", "--json").stdout)
    assert out["repos"] >= 1
    assert hub.cli("quota", "set", name, "--private", "12 parsecs", check=False).returncode != 0
    assert hub.cli("quota", "recalculate", check=False).returncode != 0


def test_lfs_settings(hub, http, quser):
    name, api = quser
    rid = f"{name}/lfs"
    api.create_repo(rid)
    s = http.get(f"/api/models/{rid}/lfs/settings").json()
    assert s["lfs_threshold_bytes_source"] == "server" and s["lfs_keep_versions_effective"] == 5
    r = http.put(f"/api/models/{rid}/settings", json={"lfs_threshold_bytes": 2_000_000, "lfs_keep_versions": 3, "lfs_suffix_rules": ["csv", ".TXT"]}, headers=auth(hub, name))
    assert r.status_code == 200, r.text
    s = http.get(f"/api/models/{rid}/lfs/settings").json()
    assert s["lfs_threshold_bytes_effective"] == 2_000_000 and s["lfs_threshold_bytes_source"] == "repository"
    assert s["lfs_keep_versions_effective"] == 3 and ".csv" in s["lfs_suffix_rules_effective"] and ".safetensors" in s["lfs_suffix_rules_effective"]
    pre = http.post(f"/api/models/{rid}/preupload/main", json={"files": [{"path": "t.csv", "size": 10}, {"path": "n.txt", "size": 10}, {"path": "m.json", "size": 2_500_000}, {"path": "s.json", "size": 1_500_000}]}, headers=auth(hub, name)).json()
    modes = {f["path"]: f["uploadMode"] for f in pre["files"]}
    assert modes == {"t.csv": "lfs", "n.txt": "lfs", "m.json": "lfs", "s.json": "regular"}
    # The seed's path too, and resets.
    assert http.put(f"/models/{rid}/settings", json={"lfs_threshold_bytes": None, "lfs_suffix_rules": None}, headers=auth(hub, name)).status_code == 200
    s = http.get(f"/api/models/{rid}/lfs/settings").json()
    assert s["lfs_threshold_bytes_source"] == "server" and ".csv" not in s["lfs_suffix_rules_effective"]
    for bad in ({"lfs_threshold_bytes": 100}, {"lfs_keep_versions": 1}, {"lfs_suffix_rules": ["../x"]}, {"lfs_suffix_rules": "csv"}, {"nonsense": 1}):
        assert http.put(f"/api/models/{rid}/settings", json=bad, headers=auth(hub, name)).status_code == 400, bad
    assert http.put(f"/api/models/{rid}/settings", json={"lfs_keep_versions": 4}, headers=auth(hub, "bob")).status_code == 403


def test_usage_kept_from_changes_equals_full_walk(hub, http, quser, tmp_path):
    """Usage is updated from each change (commits, pushes, ref deletions, LFS-file deletion,
    squash); after every step it equals what the full walk (`quota recalculate`) computes."""
    from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete

    name, api = quser
    rid = f"{name}/usage"
    api.create_repo(rid)

    def used():
        return http.get(f"/api/quota/repo/model/{rid}", headers=auth(hub, name)).json()["used_bytes"]

    def check(step):
        kept = used()
        walked = json.loads(hub.cli("quota", "recalculate", name, "--json").stdout)["used_bytes"]
        assert kept == walked == used(), f"after {step}: kept {kept}, full walk {walked}"
        return kept

    check("create")
    lfs_a, lfs_b = os.urandom(3000), os.urandom(5000)
    api.create_commit(rid, commit_message="mix", operations=[
        CommitOperationAdd("a.txt", b"a" * 100),
        CommitOperationAdd("d/b.txt", b"b" * 200),
        CommitOperationAdd("d/e/c.txt", b"c" * 300),
        CommitOperationAdd("w.bin", lfs_a),
        CommitOperationAdd("d/w2.bin", lfs_a),
    ])
    check("first commit")
    api.create_commit(rid, commit_message="edit", operations=[
        CommitOperationAdd("a.txt", b"A" * 1000),
        CommitOperationDelete("d/b.txt"),
        CommitOperationCopy("d/e/c.txt", "copy/c.txt"),
        CommitOperationAdd("x.bin", lfs_b),
    ])
    check("edit, delete, copy")
    api.create_commit(rid, commit_message="folder", operations=[CommitOperationDelete("d/")])
    check("folder delete")
    api.create_branch(rid, branch="dev")
    api.upload_file(path_or_fileobj=b"dev only" * 50, path_in_repo="dev.txt", repo_id=rid, revision="dev")
    api.upload_file(path_or_fileobj=os.urandom(4000), path_in_repo="dev.bin", repo_id=rid, revision="dev")
    check("commits on a branch")

    # Pushes: a fast-forward of main, a new branch, a forced main, a branch deletion.
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path))
    host = hub.endpoint.split("://")[1]
    d = tmp_path / "c"
    remote = f"http://x:{hub.tokens[name]}@{host}/{rid}"
    subprocess.run(["git", "clone", "-q", remote, str(d)], env=env, check=True)

    def git(*args):
        r = subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b.c", *args], cwd=d, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout

    (d / "pushed.txt").write_bytes(b"p" * 777)
    (d / "sub").mkdir()
    (d / "sub" / "q.txt").write_bytes(b"q" * 333)
    (d / "a.txt").write_bytes(b"short")
    git("add", "-A")
    git("commit", "-qm", "push")
    git("push", "-q", "origin", "main")
    check("push to main")
    git("checkout", "-q", "-b", "feature")
    (d / "feature.txt").write_bytes(b"f" * 4444)
    git("add", "-A")
    git("commit", "-qm", "feature")
    git("push", "-q", "origin", "feature")
    check("push of a new branch")
    git("checkout", "-q", "main")
    git("reset", "-q", "--hard", "HEAD~1")
    (d / "other.txt").write_bytes(b"o" * 1234)
    git("add", "-A")
    git("commit", "-qm", "rewrite")
    git("push", "-q", "--force", "origin", "main")
    check("forced push to main")
    git("push", "-q", "origin", "feature:main", "--force")
    check("main replaced by another branch")
    git("push", "-q", "origin", ":feature")
    api.delete_branch(rid, branch="dev")
    check("branch deletions")

    # LFS-file deletion with history rewrite, then a squash of main.
    files = {f.file_oid: f for f in api.list_lfs_files(rid)}
    doomed = [f for f in files.values() if f.filename == "x.bin"]
    api.permanently_delete_lfs_files(rid, doomed, rewrite_history=True)
    check("LFS-file deletion")
    api.super_squash_history(rid, commit_message="squashed")
    check("squash")
    assert used() > 0
