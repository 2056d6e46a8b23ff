"""LFS files of a repository through the real client (issue 14, part 2, item 4):
`list_lfs_files`, `permanently_delete_lfs_files` (with and without `rewriteHistory`), and the
server-side duplication `copy_files` uses between repositories. GC and fsck run over the
result, so this module has a hub of its own."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import uuid

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from conftest import auth, own_hub

hub = own_hub()


def new_id(prefix="l", ns="alice"):
    return f"{ns}/{prefix}-{uuid.uuid4().hex[:10]}"


def object_path(hub, oid):
    """Where the hub stores an LFS object's bytes (None when it has no row for it)."""
    rows = hub.sql("SELECT storage_key FROM lfs_objects WHERE oid = ?", oid)
    if not rows:
        return None
    key = rows[0][0] or f"lfs/{oid[0:2]}/{oid[2:4]}/{oid}"
    return os.path.join(hub.storage_dir, key)


def used_bytes(hub, rid):
    ns, name = rid.split("/")
    return hub.sql("SELECT used_bytes FROM repos WHERE namespace = ? AND name = ?", ns, name)[0][0]


def sha256(data):
    import hashlib

    return hashlib.sha256(data).hexdigest()


def gc_and_fsck(hub):
    rep = json.loads(hub.cli("gc", "--yes", "--json", "--grace", "0s").stdout)
    r = hub.cli("fsck", "--json", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return rep


def test_list_lfs_files_paginated(api, bob_api, anon_api, http, hub):
    rid = new_id()
    api.create_repo(rid, private=True)
    a1, a2, b1 = os.urandom(3000), os.urandom(3100), os.urandom(3200)
    api.upload_file(path_or_fileobj=a1, path_in_repo="w/a.bin", repo_id=rid)
    api.upload_file(path_or_fileobj=a2, path_in_repo="w/a.bin", repo_id=rid)
    api.upload_file(path_or_fileobj=b1, path_in_repo="b.bin", repo_id=rid)
    api.upload_file(path_or_fileobj=b"regular", path_in_repo="r.txt", repo_id=rid)
    files = list(api.list_lfs_files(rid))
    assert [(f.file_oid, f.filename, f.size) for f in files] == [
        (sha256(b1), "b.bin", 3200),
        (sha256(a2), "w/a.bin", 3100),
        (sha256(a1), "w/a.bin", 3000),
    ]
    assert all(f.pushed_at is not None and f.ref is None and len(f.oid) == 40 for f in files)
    # Its pointer blob's id, as in the tree.
    tree = {e.path: e for e in api.list_repo_tree(rid, recursive=True)}
    assert files[0].oid == tree["b.bin"].blob_id
    # Pages of one: the client follows `Link` (checked raw here).
    r = http.get(f"/api/models/{rid}/lfs-files?limit=1", headers=auth(hub))
    assert len(r.json()) == 1 and 'rel="next"' in r.headers["link"]
    seen = []
    url = f"/api/models/{rid}/lfs-files?limit=2"
    while url:
        r = http.get(url, headers=auth(hub))
        seen += [f["fileOid"] for f in r.json()]
        url = r.links.get("next", {}).get("url")
    assert seen == [f.file_oid for f in files]
    for client in (bob_api, anon_api):
        with pytest.raises(RepositoryNotFoundError):
            list(client.list_lfs_files(rid))


def test_delete_without_rewrite_refuses_tip_objects(api, http, hub):
    rid = new_id()
    api.create_repo(rid)
    old, new = os.urandom(4000), os.urandom(4100)
    api.upload_file(path_or_fileobj=old, path_in_repo="w.bin", repo_id=rid)
    old_commit = api.list_repo_commits(rid)[0].commit_id
    api.upload_file(path_or_fileobj=new, path_in_repo="w.bin", repo_id=rid)
    head = api.model_info(rid).sha
    files = {f.file_oid: f for f in api.list_lfs_files(rid)}
    used = used_bytes(hub, rid)
    # The current version is at the tip of main: refused, nothing changes.
    with pytest.raises(HfHubHTTPError) as e:
        api.permanently_delete_lfs_files(rid, [files[sha256(new)]], rewrite_history=False)
    assert e.value.response.status_code == 409 and "w.bin" in e.value.response.headers["x-error-message"]
    assert api.model_info(rid).sha == head and len(list(api.list_lfs_files(rid))) == 2
    assert object_path(hub, sha256(new)) and os.path.exists(object_path(hub, sha256(new)))
    # The old version only lives in history: it goes, bytes and all, and stops counting.
    old_path = object_path(hub, sha256(old))
    assert os.path.exists(old_path)
    api.permanently_delete_lfs_files(rid, [files[sha256(old)]], rewrite_history=False)
    assert [f.file_oid for f in api.list_lfs_files(rid)] == [sha256(new)]
    assert api.model_info(rid).sha == head  # history untouched
    assert object_path(hub, sha256(old)) is None and not os.path.exists(old_path)
    assert used_bytes(hub, rid) == used - 4000
    r = http.get(f"/{rid}/resolve/{old_commit}/w.bin", follow_redirects=True)
    assert r.status_code == 410
    assert http.get(f"/{rid}/resolve/main/w.bin", follow_redirects=True).content == new
    # Unknown or malformed ids: a clear refusal, nothing changed.
    r = http.post(f"/api/models/{rid}/lfs-files/batch", json={"deletions": {"sha": [sha256(b"nope")], "rewriteHistory": False}}, headers=auth(hub))
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    r = http.post(f"/api/models/{rid}/lfs-files/batch", json={"deletions": {"sha": ["xyz"], "rewriteHistory": True}}, headers=auth(hub))
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    assert api.model_info(rid).sha == head
    gc_and_fsck(hub)
    assert http.get(f"/{rid}/resolve/main/w.bin", follow_redirects=True).content == new


def test_delete_with_rewrite_history(api, http, hub, tmp_path):
    rid, other = new_id(), new_id("other")
    api.create_repo(rid)
    api.create_repo(other)
    secret, keep, shared = os.urandom(5000), os.urandom(5100), os.urandom(5200)
    api.create_commit(rid, operations=[
        CommitOperationAdd("secret.bin", secret),
        CommitOperationAdd("d/keep.bin", keep),
        CommitOperationAdd("notes.txt", b"notes"),
    ], commit_message="first")
    api.upload_file(path_or_fileobj=shared, path_in_repo="shared.bin", repo_id=rid, commit_message="second")
    api.create_tag(rid, tag="v1", tag_message="annotated")
    api.create_branch(rid, branch="dev")
    api.upload_file(path_or_fileobj=b"dev only", path_in_repo="dev.txt", repo_id=rid, revision="dev")
    # The same bytes in another repository: only `rid` loses them.
    api.upload_file(path_or_fileobj=shared, path_in_repo="s.bin", repo_id=other)
    before = {b.name: b.target_commit for b in api.list_repo_refs(rid).branches}
    files = {f.file_oid: f for f in api.list_lfs_files(rid)}
    doomed = [files[sha256(secret)], files[sha256(shared)]]
    secret_path = object_path(hub, sha256(secret))
    api.permanently_delete_lfs_files(rid, doomed)  # rewrite_history=True, the client's default
    refs = api.list_repo_refs(rid)
    after = {b.name: b.target_commit for b in refs.branches}
    assert after["main"] != before["main"] and after["dev"] != before["dev"]
    # Every revision of every ref lost the two files and nothing else.
    for branch in ("main", "dev"):
        for c in api.list_repo_commits(rid, revision=branch):
            paths = set(api.list_repo_files(rid, revision=c.commit_id))
            assert "secret.bin" not in paths and "shared.bin" not in paths, (branch, c.title)
            if c.title != "initial commit":
                assert {"d/keep.bin", "notes.txt"} <= paths
    assert [c.title for c in api.list_repo_commits(rid)] == ["second", "first", "initial commit"]
    tag = next(t for t in refs.tags if t.name == "v1")
    assert tag.target_commit == after["main"]
    assert "dev.txt" in api.list_repo_files(rid, revision="dev")
    assert [f.file_oid for f in api.list_lfs_files(rid)] == [sha256(keep)]
    assert object_path(hub, sha256(secret)) is None and not os.path.exists(secret_path)
    assert os.path.exists(object_path(hub, sha256(shared)))  # still `other`'s
    assert http.get(f"/{other}/resolve/main/s.bin", follow_redirects=True).content == shared
    assert http.get(f"/{rid}/resolve/main/d/keep.bin", follow_redirects=True).content == keep
    # The old commits are still addressable by id until GC, but their deleted files are gone,
    # even the one whose bytes `other` still stores.
    for path in ("secret.bin", "shared.bin"):
        r = http.get(f"/{rid}/resolve/{before['main']}/{path}", follow_redirects=True)
        assert r.status_code == 410, (path, r.status_code)
    # A clone sees the rewritten history, and git agrees it is whole.
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1")
    subprocess.run(["git", "clone", "-q", f"{hub.endpoint}/{rid}", str(tmp_path / "c")], env=env, check=True, capture_output=True)
    subprocess.run(["git", "fsck", "--strict"], cwd=tmp_path / "c", check=True, capture_output=True)
    log = subprocess.run(["git", "log", "--all", "--name-only", "--format="], cwd=tmp_path / "c", capture_output=True, text=True, check=True).stdout
    assert "secret.bin" not in log and "d/keep.bin" in log
    gc_and_fsck(hub)
    assert http.get(f"/{rid}/resolve/v1/d/keep.bin", follow_redirects=True).content == keep


def test_lfs_file_deletion_permissions(api, bob_api, http, hub):
    rid, priv = new_id(), new_id("p")
    api.create_repo(rid)
    api.create_repo(priv, private=True)
    data = os.urandom(3000)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=rid)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=priv)
    f = list(api.list_lfs_files(rid))
    with pytest.raises(HfHubHTTPError) as e:
        bob_api.permanently_delete_lfs_files(rid, f)
    assert e.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):
        bob_api.permanently_delete_lfs_files(priv, f)
    ro = HfApi(endpoint=hub.endpoint, token=hub.tokens["alice_ro"])
    with pytest.raises(HfHubHTTPError) as e:
        ro.permanently_delete_lfs_files(rid, f)
    assert e.value.response.status_code == 403
    assert len(list(api.list_lfs_files(rid))) == 1 and len(list(api.list_lfs_files(priv))) == 1
    # Listing is for writers too (it names every object ever committed, deleted paths included).
    for client, status in ((bob_api, 403), (ro, 403), (HfApi(endpoint=hub.endpoint, token=False), 401)):
        with pytest.raises(HfHubHTTPError) as e:
            list(client.list_lfs_files(rid))
        assert e.value.response.status_code == status
    # The single-file form.
    r = http.delete(f"/api/models/{priv}/lfs-files/{f[0].file_oid}?rewriteHistory=true", headers=auth(hub))
    assert r.status_code == 200, r.text
    assert list(api.list_lfs_files(priv)) == [] and "w.bin" not in api.list_repo_files(priv)
    assert http.get(f"/{rid}/resolve/main/w.bin", follow_redirects=True).content == data


def xet_client(hub, code, token):
    """`code` in a fresh Python with Xet on (as a user's default client); `api` is its HfApi."""
    prelude = textwrap.dedent(
        f"""
        import os, json
        from huggingface_hub import HfApi, constants
        assert not constants.HF_HUB_DISABLE_XET
        api = HfApi(endpoint={hub.endpoint!r}, token={token!r})
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env.update(HF_HOME=tempfile.mkdtemp(prefix="kohaku-xet-home-"), HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_PROGRESS_BARS="1")
    r = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_copy_files_between_repos_duplicates_lfs(api, bob_api, http, hub, tmp_path):
    src, dst = new_id("src"), new_id("dst")
    weights = os.urandom(200_000)
    (tmp_path / "w").write_bytes(weights)
    out = xet_client(hub, f"""
        api.create_repo({src!r}, private=True)
        api.create_repo({dst!r}, private=True)
        api.upload_file(path_or_fileobj={str(tmp_path / "w")!r}, path_in_repo="m/model.safetensors", repo_id={src!r})
        api.upload_file(path_or_fileobj=b'{{"a": 1}}', path_in_repo="m/config.json", repo_id={src!r})
        info = api.get_paths_info({src!r}, ["m/model.safetensors"])[0]
        assert info.xet_hash, info
        api.copy_files("hf://{src}/m/", "hf://{dst}/copied/")
        print(json.dumps({{"xet": info.xet_hash}}))
    """, hub.tokens["alice"])
    xet_hash = json.loads(out.strip().splitlines()[-1])["xet"]
    log = open(os.path.join(hub.data_dir, "serve.log")).read()
    assert f"path=/api/models/{src}/lfs-files/duplicate" in log  # the client's server-side copy
    assert http.get(f"/{dst}/resolve/main/copied/model.safetensors", headers=auth(hub), follow_redirects=True).content == weights
    assert http.get(f"/{dst}/resolve/main/copied/config.json", headers=auth(hub), follow_redirects=True).content == b'{"a": 1}'
    assert [f.file_oid for f in api.list_lfs_files(dst)] == [sha256(weights)]
    # The endpoint itself: the source must be readable, the target writable, and an object
    # must be in the source's history, whoever may know it otherwise.
    oid = sha256(weights)
    body = {"target": {"type": "model", "name": dst}, "files": [{"sha256": oid, "xetHash": xet_hash, "filename": "x"}]}
    r = http.post(f"/api/models/{src}/lfs-files/duplicate", json=body, headers=auth(hub, "bob"))
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    bob_src = new_id("bsrc", "bob")
    bob_api.create_repo(bob_src)
    bob_dst = new_id("bdst", "bob")
    bob_api.create_repo(bob_dst)
    r = http.post(f"/api/models/{bob_src}/lfs-files/duplicate", json={**body, "target": {"type": "model", "name": bob_dst}}, headers=auth(hub, "bob"))
    assert r.status_code == 200 and r.json()["failed"] == [{"sha256": oid, "error": "LFS file not found in the source repository"}]
    # ... so bob still cannot commit a reference to alice's private object.
    r = http.post(
        f"/api/models/{bob_dst}/commit/main",
        content=(json.dumps({"key": "header", "value": {"summary": "steal"}}) + "\n" + json.dumps({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid}}) + "\n").encode(),
        headers={**auth(hub, "bob"), "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 400
    r = http.post(f"/api/models/{dst}/lfs-files/duplicate", json={**body, "target": {"type": "model", "name": bob_dst}}, headers=auth(hub, "alice"))
    assert r.status_code == 403  # alice cannot write bob's repo
    body["files"][0]["xetHash"] = "0" * 64
    r = http.post(f"/api/models/{src}/lfs-files/duplicate", json=body, headers=auth(hub))
    assert r.json()["failed"][0]["error"] == "xetHash does not match the stored file"
    r = http.post(f"/api/models/{src}/lfs-files/duplicate", json={**body, "files": [{"sha256": "nope"}]}, headers=auth(hub))
    assert r.status_code == 400


# --- 13. duplicate_repo ----------------------------------------------------------------------


def test_duplicate_repo_copies_history_refs_and_lfs(api, bob_api, http, hub, tmp_path):
    from huggingface_hub import hf_hub_download

    src = new_id("dsrc")
    api.create_repo(src, private=True)
    v1, v2 = os.urandom(6000), os.urandom(6100)
    api.upload_file(path_or_fileobj=v1, path_in_repo="w.bin", repo_id=src, commit_message="v1")
    api.upload_file(path_or_fileobj=v2, path_in_repo="w.bin", repo_id=src, commit_message="v2")
    api.upload_file(path_or_fileobj=b"---\nlicense: mit\n---\n# card\n", path_in_repo="README.md", repo_id=src)
    api.create_tag(src, tag="v1", revision=api.list_repo_commits(src)[2].commit_id, tag_message="first")
    api.create_branch(src, branch="dev")
    api.upload_file(path_or_fileobj=b"dev", path_in_repo="dev.txt", repo_id=src, revision="dev")
    # A regular (git) file larger than the copy takes through memory.
    big = os.urandom(700_000).hex().encode()
    api.upload_file(path_or_fileobj=big, path_in_repo="big.txt", repo_id=src, revision="dev")
    assert next(f for f in api.list_repo_tree(src, revision="dev") if f.path == "big.txt").lfs is None
    src_refs = api.list_repo_refs(src)

    dup = new_id("dup")
    url = api.duplicate_repo(src, dup)
    assert url == f"{hub.endpoint}/{dup}" and url.files_copy_pending is False
    info = api.model_info(dup)
    assert info.private is True and info.sha == api.model_info(src).sha  # same commits, same ids
    refs = api.list_repo_refs(dup)
    assert {(b.name, b.target_commit) for b in refs.branches} == {(b.name, b.target_commit) for b in src_refs.branches}
    assert {(t.name, t.target_commit) for t in refs.tags} == {(t.name, t.target_commit) for t in src_refs.tags}
    assert [c.title for c in api.list_repo_commits(dup)] == [c.title for c in api.list_repo_commits(src)]
    assert sorted(f.file_oid for f in api.list_lfs_files(dup)) == sorted(f.file_oid for f in api.list_lfs_files(src))
    assert used_bytes(hub, dup) == used_bytes(hub, src)
    # The copy stands on its own: the source can go, GC runs, and every revision still reads.
    api.delete_repo(src)
    gc_and_fsck(hub)
    assert open(hf_hub_download(dup, "w.bin", cache_dir=tmp_path / "a", token=hub.tokens["alice"]), "rb").read() == v2
    assert open(hf_hub_download(dup, "w.bin", revision="v1", cache_dir=tmp_path / "b", token=hub.tokens["alice"]), "rb").read() == v1
    assert "dev.txt" in api.list_repo_files(dup, revision="dev")
    assert http.get(f"/{dup}/resolve/dev/big.txt", headers=auth(hub)).content == big
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    subprocess.run(["git", "clone", "-q", f"http://alice:{hub.tokens['alice']}@127.0.0.1:{hub.port}/{dup}", str(tmp_path / "g")], env=env, check=True, capture_output=True)
    subprocess.run(["git", "fsck", "--strict"], cwd=tmp_path / "g", check=True, capture_output=True)

    # Visibility as asked; the target must not exist; the source must be readable; the caller
    # must be allowed to create in the target namespace.
    pub = new_id("dpub")
    api.duplicate_repo(dup, pub, private=False)
    assert api.model_info(pub).private is False
    with pytest.raises(HfHubHTTPError) as e:
        api.duplicate_repo(dup, pub)
    assert e.value.response.status_code == 409
    assert api.duplicate_repo(dup, pub, exist_ok=True) == f"{hub.endpoint}/{pub}"
    with pytest.raises(RepositoryNotFoundError):
        bob_api.duplicate_repo(dup, new_id("steal", "bob"))
    with pytest.raises(HfHubHTTPError) as e:
        bob_api.duplicate_repo(pub, new_id("into-alice"))
    assert e.value.response.status_code == 403
    mine = bob_api.duplicate_repo(pub, f"bob/{pub.split('/')[1]}")
    assert bob_api.model_info(mine.repo_id).sha == api.model_info(pub).sha
    # The namespace's quota must take the copy: refused before anything is created.
    carl = f"carl{uuid.uuid4().hex[:6]}"
    hub.cli("user", "create", carl, "--email", f"{carl}@example.com", "--password", "carl-password-1")
    carl_api = HfApi(endpoint=hub.endpoint, token=hub.cli("token", "create", "--user", carl).stdout.strip())
    hub.cli("quota", "set", carl, "--public", "5KB")
    with pytest.raises(HfHubHTTPError) as e:
        carl_api.duplicate_repo(pub, f"{carl}/copy")
    assert e.value.response.status_code == 413
    assert not carl_api.repo_exists(f"{carl}/copy")


def test_hand_written_pointer_is_refused(api, bob_api, http, hub):
    """A pointer to an object bob never received cannot be committed, even as a regular file
    whose text is a pointer, even when another repository stores the bytes."""
    priv, mine = new_id("p"), new_id("mine", "bob")
    api.create_repo(priv, private=True)
    secret = os.urandom(4000)
    api.upload_file(path_or_fileobj=secret, path_in_repo="s.bin", repo_id=priv)
    bob_api.create_repo(mine)
    head = bob_api.model_info(mine).sha
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256(secret)}\nsize 4000\n"
    import base64

    ndjson = "\n".join(json.dumps(x) for x in [
        {"key": "header", "value": {"summary": "pointer"}},
        {"key": "file", "value": {"path": "p.bin", "content": base64.b64encode(pointer.encode()).decode(), "encoding": "base64"}},
    ]) + "\n"
    r = http.post(f"/api/models/{mine}/commit/main", content=ndjson, headers={**auth(hub, "bob"), "content-type": "application/x-ndjson"})
    assert r.status_code == 400 and "has not been uploaded" in r.headers["x-error-message"], r.text
    # The refusal says nothing that tells alice's stored object from one nobody has.
    nobody = sha256(os.urandom(16))
    other = base64.b64encode(pointer.replace(sha256(secret), nobody).encode()).decode()
    ndjson2 = ndjson.replace(base64.b64encode(pointer.encode()).decode(), other)
    assert ndjson2 != ndjson
    r2 = http.post(f"/api/models/{mine}/commit/main", content=ndjson2, headers={**auth(hub, "bob"), "content-type": "application/x-ndjson"})
    assert r2.status_code == r.status_code
    assert r2.headers["x-error-message"].replace(nobody, "X") == r.headers["x-error-message"].replace(sha256(secret), "X")
    assert r2.json()["error"].replace(nobody, "X") == r.json()["error"].replace(sha256(secret), "X")
    assert bob_api.model_info(mine).sha == head
    assert http.get(f"/{mine}/resolve/main/p.bin").status_code == 404


def test_deep_trees_are_rewritten_and_edited(api, http, hub, tmp_path):
    """A pushed history may nest trees thousands of levels deep (git pushes 6,000 and more when asked),
    and an API path may have 2,048 levels: rewriting and editing such trees works (both used to
    recurse once per level and overflowed the stack, taking the whole hub down)."""
    rid = new_id("deep")
    api.create_repo(rid)
    doomed = os.urandom(3000)
    api.upload_file(path_or_fileobj=doomed, path_in_repo="w.bin", repo_id=rid)
    # Through the API: the longest path the hub takes (4,096 bytes), one letter per level.
    api_deep = "/".join(["a"] * 2048)
    api.upload_file(path_or_fileobj=b"api", path_in_repo=api_deep, repo_id=rid, commit_message="deep")
    api.upload_file(path_or_fileobj=b"api2", path_in_repo=api_deep[:-1] + "b", repo_id=rid, commit_message="deep")
    # Through git: deeper than any path.
    host = hub.endpoint.split("://", 1)[1]
    remote = f"http://alice:{hub.tokens['alice']}@{host}/{rid}"
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1")
    git = lambda *a, **k: subprocess.run(["git", "-c", "core.maxTreeDepth=100000", *a], cwd=tmp_path / "c", env=env, check=True, capture_output=True, **k)
    # No checkout: 2,048 nested directories are more than Python's rmtree can clean up.
    subprocess.run(["git", "clone", "-q", "--no-checkout", remote, str(tmp_path / "c")], env=env, check=True, capture_output=True)
    deep = "/".join(["d"] * 6000) + "/f.txt"
    stream = (
        "commit refs/heads/main\n"
        "committer A <a@example.com> 1700000000 +0000\n"
        "data 4\ndeep\n"
        "from refs/remotes/origin/main\n"
        f"M 100644 inline {deep}\ndata 2\nx\n\n"
    )
    git("fast-import", "--quiet", input=stream.encode())
    git("push", "-q", "origin", "main")
    before = api.model_info(rid).sha
    api.permanently_delete_lfs_files(rid, list(api.list_lfs_files(rid)))
    assert api.model_info(rid).sha != before and list(api.list_lfs_files(rid)) == []
    assert http.get(f"/{rid}/resolve/main/w.bin").status_code == 404
    assert http.get(f"/{rid}/resolve/main/{api_deep}").content == b"api"
    assert http.get(f"/{rid}/resolve/main/{api_deep[:-1]}b").content == b"api2"
    git("fetch", "-q", "origin")
    tip = git("rev-parse", "origin/main").stdout.decode().strip()
    assert tip == api.model_info(rid).sha
    # The deep subtree was walked (for doomed files) and kept as it was; the root lost w.bin.
    root = lambda rev: dict(line.split("\t", 1)[::-1] for line in git("ls-tree", rev).stdout.decode().splitlines())
    old, new = root(before), root("origin/main")
    assert new["d"] == old["d"] and "w.bin" in old and "w.bin" not in new
