"""The JavaScript client (@huggingface/hub 2.17.5, pinned in tests/package.json) with its defaults.

Each client call runs `node js/hub.cjs <operation> <params>` (a process of its own, as a user's
script would be) against the session hub; the assertions are here. scripts/test.sh installs the
client with `npm ci` into its cache; KOHAKU_TEST_NODE_MODULES names another node_modules.

Also here: what the JS client needed from the hub and any client may use — `raw` URLs, revision
`HEAD`, `hash_algo: "sha_256"` and Xet negotiated in the LFS batch, the Xet file info on
`resolve` — checked over plain HTTP.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import S3_ENDPOINT, auth

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "js", "hub.cjs")
CACHE = os.environ.get("KOHAKU_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kohaku-ci")
NODE_MODULES = os.environ.get("KOHAKU_TEST_NODE_MODULES") or os.path.join(CACHE, "node", "node_modules")
PIN = json.load(open(os.path.join(HERE, "..", "package.json")))["dependencies"]["@huggingface/hub"]

BIG = 20 * 1024 * 1024  # above the suite's multipart threshold (20,000,000 bytes)
POINTER = re.compile(r"version https://git-lfs.github.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n")


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed: the JavaScript client cannot run")
    pkg = os.path.join(NODE_MODULES, "@huggingface", "hub", "package.json")
    assert os.path.exists(pkg), (
        f"@huggingface/hub is not installed in {NODE_MODULES}: scripts/test.sh installs it "
        "(or run `npm ci` with tests/package.json and set KOHAKU_TEST_NODE_MODULES)"
    )
    assert json.load(open(pkg))["version"] == PIN
    return exe


def run_js(node, hub, op, who="alice", **params):
    """Run one client call; its outcome `{"ok", "result" | "error"}`."""
    env = dict(os.environ, NODE_PATH=NODE_MODULES, KOHAKU_JS_HUB_URL=hub.endpoint)
    env.pop("KOHAKU_JS_TOKEN", None)
    if who is not None:
        env["KOHAKU_JS_TOKEN"] = hub.tokens[who]
    r = subprocess.run([node, SCRIPT, op, json.dumps(params)], env=env, capture_output=True, text=True, timeout=600)
    lines = r.stdout.strip().splitlines()
    assert lines, f"node {op} printed nothing: {r.stderr}"
    out = json.loads(lines[-1])
    out["stderr"] = r.stderr
    return out


def js(node, hub, op, who="alice", **params):
    out = run_js(node, hub, op, who, **params)
    assert out["ok"], f"{op} failed: {out['error']}\n{out['stderr']}"
    return out["result"]


def sha(data):
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def files(tmp_path):
    """A small config file and a 20 MiB random one, on disk."""
    small = b'{"model_type": "js-test"}\n'
    big = os.urandom(BIG)
    (tmp_path / "config.json").write_bytes(small)
    (tmp_path / "big.bin").write_bytes(big)
    return {"small": small, "big": big, "dir": tmp_path}


def new_repo(node, hub, who="alice", kind="model", private=False):
    name = f"{who}/js-{uuid.uuid4().hex[:10]}"
    repo = name if kind == "model" else {"type": kind, "name": name}
    js(node, hub, "createRepo", who, repo=repo, private=private)
    return name, repo


def upload(node, hub, repo, files, who="alice", **kw):
    d = files["dir"]
    return js(
        node, hub, "uploadFiles", who, repo=repo,
        files=[{"path": "config.json", "file": str(d / "config.json")}, {"path": "weights/big.bin", "file": str(d / "big.bin")}],
        title="JS upload", **kw,
    )


def test_whoami(node, hub):
    me = js(node, hub, "whoAmI")
    assert me["type"] == "user" and me["name"] == "alice"
    out = run_js(node, hub, "whoAmI", who="bob")
    assert out["ok"] and out["result"]["name"] == "bob"


def test_defaults_upload_through_xet_and_everything_after(node, hub, files, http, tmp_path):
    """Create, upload (Xet on, the default), list, info, download (Xet), ranges, raw,
    fileExists, snapshot, commits, delete: each with the client's defaults."""
    name, repo = new_repo(node, hub)
    commit = upload(node, hub, repo, files)
    assert re.fullmatch(r"[0-9a-f]{40}", commit["oid"])
    big, small = files["big"], files["small"]

    # The 20 MiB file came through Xet: stored as a Xet file, not as an LFS object.
    r = http.head(f"/{name}/resolve/main/weights/big.bin", headers=auth(hub))
    assert r.status_code == 200, r.text
    assert r.headers["x-xet-hash"] and r.headers["x-linked-size"] == str(BIG)
    assert r.headers["x-linked-etag"] == f'"{sha(big)}"'
    assert hub.sql("SELECT xet_hash FROM lfs_objects WHERE oid = ?", sha(big))[0][0] == r.headers["x-xet-hash"]

    listed = {f["path"]: f for f in js(node, hub, "listFiles", repo=repo, recursive=True)}
    assert set(listed) == {".gitattributes", "config.json", "weights", "weights/big.bin"}
    assert listed["weights/big.bin"]["size"] == BIG and listed["weights/big.bin"]["lfs"]["oid"] == sha(big)
    assert listed["weights/big.bin"]["xetHash"] == r.headers["x-xet-hash"]
    assert listed["config.json"]["size"] == len(small) and listed["config.json"]["oid"] == git_blob_id(small)

    # modelInfo asks /revision/HEAD by default.
    info = js(node, hub, "modelInfo", name=name, additionalFields=["sha", "siblings"])
    assert info["name"] == name and info["sha"] == commit["oid"]
    assert {s["rfilename"] for s in info["siblings"]} == {".gitattributes", "config.json", "weights/big.bin"}

    # Downloads: the big file through Xet (the client's XetBlob), whole and a range; the small
    # one through resolve.
    whole = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin")
    assert whole["kind"] == "XetBlob" and whole["size"] == BIG and whole["sha256"] == sha(big)
    part = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin", range=[5_000_000, 5_000_100])
    assert part["kind"] == "XetBlob" and part["partSize"] == 100 and part["sha256"] == sha(big[5_000_000:5_000_100])
    tail = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin", range=[BIG - 10, BIG])
    assert tail["sha256"] == sha(big[-10:])
    plain = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin", xet=False, range=[1000, 3_000_000])
    assert plain["kind"] == "WebBlob" and plain["sha256"] == sha(big[1000:3_000_000])
    cfg = js(node, hub, "downloadFile", repo=repo, path="config.json", text=True)
    assert cfg["text"] == small.decode() and cfg["sha256"] == sha(small)
    assert js(node, hub, "downloadFile", repo=repo, path="nope.txt") is None

    # raw: the git blob as stored, i.e. the pointer of an LFS file.
    pointer = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin", raw=True, text=True)
    assert POINTER.fullmatch(pointer["text"]).groups() == (sha(big), str(BIG))
    raw_info = js(node, hub, "fileDownloadInfo", repo=repo, path="weights/big.bin", raw=True)
    assert raw_info.get("xet") is None and raw_info["size"] == len(pointer["text"])
    xet_info = js(node, hub, "fileDownloadInfo", repo=repo, path="weights/big.bin")
    assert xet_info["size"] == BIG and xet_info["xet"]["hash"] == r.headers["x-xet-hash"]

    assert js(node, hub, "fileExists", repo=repo, path="weights/big.bin") is True
    assert js(node, hub, "fileExists", repo=repo, path="config.json") is True
    assert js(node, hub, "fileExists", repo=repo, path="weights") is False
    assert js(node, hub, "fileExists", repo=repo, path="missing.bin") is False

    snap = js(node, hub, "snapshotDownload", repo=repo, cacheDir=str(tmp_path / "cache"))
    assert snap["folder"].endswith(commit["oid"])
    assert snap["files"] == {
        ".gitattributes": snap["files"][".gitattributes"],
        "config.json": {"size": len(small), "sha256": sha(small)},
        os.path.join("weights", "big.bin"): {"size": BIG, "sha256": sha(big)},
    }

    deleted = js(node, hub, "deleteFile", repo=repo, path="config.json")
    assert js(node, hub, "fileExists", repo=repo, path="config.json") is False
    assert js(node, hub, "fileExists", repo=repo, path="config.json", revision=commit["oid"]) is True
    commits = js(node, hub, "listCommits", repo=repo)
    assert [c["oid"] for c in commits] == [deleted["oid"], commit["oid"], commits[2]["oid"]]
    assert [c["title"] for c in commits] == ["Delete config.json", "JS upload", "initial commit"]
    assert js(node, hub, "modelInfo", name=name, additionalFields=["sha"])["sha"] == deleted["oid"]


def test_upload_without_xet_uses_lfs_multipart(node, hub, files, http):
    """useXet: false: the LFS batch with `hash_algo: "sha_256"`, a multipart upload (20 MiB is
    above the suite's threshold), then downloads through resolve."""
    name, repo = new_repo(node, hub)
    commit = upload(node, hub, repo, files, useXet=False)
    big = files["big"]
    assert hub.sql("SELECT COUNT(*) FROM lfs_objects WHERE oid = ? AND xet_hash IS NULL", sha(big)) == [(1,)]
    r = http.head(f"/{name}/resolve/{commit['oid']}/weights/big.bin", headers=auth(hub))
    assert r.status_code in (200, 302) and "x-xet-hash" not in r.headers
    whole = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin")
    assert whole["kind"] == "WebBlob" and whole["sha256"] == sha(big)
    part = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin", range=[BIG - 4096, BIG])
    assert part["sha256"] == sha(big[-4096:])
    pointer = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin", raw=True, text=True)
    assert POINTER.fullmatch(pointer["text"]).groups() == (sha(big), str(BIG))


def test_dataset_private_and_other_users(node, hub, files, tmp_path):
    """A private dataset: its owner uploads and reads it; bob and anonymous callers see
    nothing of it (fileExists false, downloads and info refused); bob's own upload of the same
    bytes works (he sends them: he may not dedup against alice's xorbs)."""
    name, repo = new_repo(node, hub, kind="dataset", private=True)
    upload(node, hub, repo, files)
    big = files["big"]
    assert js(node, hub, "fileExists", repo=repo, path="weights/big.bin") is True
    got = js(node, hub, "downloadFile", repo=repo, path="weights/big.bin")
    assert got["kind"] == "XetBlob" and got["sha256"] == sha(big)
    assert js(node, hub, "datasetInfo", name=name, additionalFields=["sha"])["private"] is True
    for who in ("bob", None):
        assert js(node, hub, "fileExists", who, repo=repo, path="weights/big.bin") is False
        assert js(node, hub, "fileExists", who, repo=repo, path="config.json") is False
        for op, params in [
            ("downloadFile", {"path": "weights/big.bin"}),
            ("downloadFile", {"path": "weights/big.bin", "raw": True}),
            ("listFiles", {}),
        ]:
            out = run_js(node, hub, op, who, repo=repo, **params)
            assert not out["ok"] and out["status"] in (401, 404), out
        out = run_js(node, hub, "datasetInfo", who, name=name)
        assert not out["ok"] and out["status"] in (401, 404), out

    bob_name, bob_repo = new_repo(node, hub, who="bob", kind="dataset")
    before = received_xorb_bytes(hub)
    upload(node, hub, bob_repo, files, who="bob")
    assert received_xorb_bytes(hub) - before >= BIG
    got = js(node, hub, "downloadFile", "bob", repo=bob_repo, path="weights/big.bin")
    assert got["kind"] == "XetBlob" and got["sha256"] == sha(big)


def test_reupload_same_bytes_dedups(node, hub, files):
    """The same file into a second repo of the same user: the client finds its chunks through
    the hub's dedup answer and sends no xorb again."""
    _, first = new_repo(node, hub)
    before = received_xorb_bytes(hub)
    upload(node, hub, first, files)
    sent = received_xorb_bytes(hub)
    assert sent - before >= BIG
    _, second = new_repo(node, hub)
    upload(node, hub, second, files)
    assert received_xorb_bytes(hub) == sent
    got = js(node, hub, "downloadFile", repo=second, path="weights/big.bin")
    assert got["kind"] == "XetBlob" and got["sha256"] == sha(files["big"])


def received_xorb_bytes(hub):
    """Bytes of xorb data the hub has received so far (its log says each xorb's)."""
    log = open(os.path.join(hub.data_dir, "serve.log")).read()
    return sum(int(m) for m in re.findall(r"xorb received.*?received_bytes=(\d+)", log))


# --- over plain HTTP: what the JS client needed, for any client -----------------------------


def assert_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("x-error-code") and r.headers.get("x-error-message"), r.headers
    if code:
        assert r.headers["x-error-code"] == code
    assert "error" in r.json()


def head_sha(http, hub, repo_id, kind="model"):
    return http.get(f"/api/{kind}s/{repo_id}/revision/main", headers=auth(hub)).json()["sha"]


def test_raw_serves_the_git_blob(api, http, hub):
    """`raw` answers the blob as stored: an LFS file's pointer, a regular file's bytes; with
    X-Repo-Commit, the blob id as ETag, ranges, HEAD, and resolve's refusals."""
    repo_id = f"alice/raw-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id, private=True)
    data = os.urandom(3000)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    api.upload_file(path_or_fileobj=b"0123456789", path_in_repo="dir/small.txt", repo_id=repo_id)
    sha_main = head_sha(http, hub, repo_id)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha(data)}\nsize 3000\n".encode()

    r = http.get(f"/{repo_id}/raw/main/w.bin", headers=auth(hub))
    assert r.status_code == 200 and r.content == pointer
    assert r.headers["x-repo-commit"] == sha_main
    assert r.headers["etag"] == f'"{git_blob_id(pointer)}"'
    assert r.headers["content-length"] == str(len(pointer))
    assert "x-linked-size" not in r.headers and "x-xet-hash" not in r.headers
    h = http.head(f"/{repo_id}/raw/{sha_main}/w.bin", headers=auth(hub))
    assert h.status_code == 200 and h.headers["content-length"] == str(len(pointer)) and h.content == b""
    r = http.get(f"/{repo_id}/raw/main/dir/small.txt", headers={**auth(hub), "range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234" and r.headers["content-range"] == "bytes 2-4/10"
    assert r.headers["etag"] == f'"{git_blob_id(b"0123456789")}"'
    r = http.get(f"/{repo_id}/raw/main/w.bin", headers={**auth(hub), "range": "bytes=0-0"})
    assert r.status_code == 206 and r.headers["content-range"] == f"bytes 0-0/{len(pointer)}"
    r = http.get(f"/{repo_id}/raw/main/dir/small.txt", headers={**auth(hub), "range": "bytes=50-60"})
    assert r.status_code == 416
    r = http.get(f"/{repo_id}/raw/refs%2Fheads%2Fmain/dir%2Fsmall.txt", headers=auth(hub))
    assert r.status_code == 200 and r.content == b"0123456789"

    # Refusals, as on resolve; a private repo is not there for who cannot read it.
    r = http.get(f"/{repo_id}/raw/main/nope.txt", headers=auth(hub))
    assert_error(r, 404, "EntryNotFound")
    assert r.headers["x-repo-commit"] == sha_main
    assert_error(http.get(f"/{repo_id}/raw/main/dir", headers=auth(hub)), 404, "EntryNotFound")
    assert_error(http.get(f"/{repo_id}/raw/no-such-branch/w.bin", headers=auth(hub)), 404, "RevisionNotFound")
    for headers in ({}, auth(hub, "bob")):
        assert_error(http.get(f"/{repo_id}/raw/main/w.bin", headers=headers), 404, "RepoNotFound")
        assert http.head(f"/{repo_id}/raw/main/w.bin", headers=headers).status_code == 404
    assert http.get(f"/{repo_id}/raw/main/w.bin", headers=auth(hub, "alice_ro")).content == pointer
    assert_error(http.post(f"/{repo_id}/raw/main/w.bin", headers=auth(hub)), 400)
    assert_error(http.get("/alice/no-such-repo/raw/main/w.bin", headers=auth(hub)), 404, "RepoNotFound")

    # A moved repository's old id sends raw readers on, like resolve.
    moved = f"alice/raw-moved-{uuid.uuid4().hex[:8]}"
    api.move_repo(repo_id, moved)
    r = http.get(f"/{repo_id}/raw/main/dir/small.txt?x=1", headers=auth(hub))
    assert r.status_code == 307 and r.headers["location"] == f"/{moved}/raw/main/dir/small.txt?x=1"


def test_raw_on_dataset_and_space_paths(api, http, hub):
    for kind in ("dataset", "space"):
        repo_id = f"alice/raw-{kind}-{uuid.uuid4().hex[:8]}"
        api.create_repo(repo_id, repo_type=kind, **({"space_sdk": "static"} if kind == "space" else {}))
        api.upload_file(path_or_fileobj=b"hello", path_in_repo="a/b.txt", repo_id=repo_id, repo_type=kind)
        r = http.get(f"/{kind}s/{repo_id}/raw/main/a/b.txt")
        assert r.status_code == 200 and r.content == b"hello", r.text
        assert r.headers["x-repo-commit"] == head_sha(http, hub, repo_id, kind)
        # The model form of the same id is another repository.
        assert_error(http.get(f"/{repo_id}/raw/main/a/b.txt"), 404, "RepoNotFound")


def test_revision_head_is_the_default_branch(api, http, hub, repo_id):
    """`HEAD` names main on every path that takes a revision, reads and writes alike."""
    api.upload_file(path_or_fileobj=b"one", path_in_repo="f.txt", repo_id=repo_id)
    api.create_branch(repo_id, branch="dev")
    api.upload_file(path_or_fileobj=b"dev", path_in_repo="f.txt", repo_id=repo_id, revision="dev")
    main = head_sha(http, hub, repo_id)
    a = auth(hub)
    assert http.get(f"/api/models/{repo_id}/revision/HEAD", headers=a).json()["sha"] == main
    assert api.model_info(repo_id, revision="HEAD").sha == main
    assert {f["path"] for f in http.get(f"/api/models/{repo_id}/tree/HEAD", headers=a).json()} == {".gitattributes", "f.txt"}
    r = http.post(f"/api/models/{repo_id}/paths-info/HEAD", data={"paths": "f.txt"}, headers=a)
    assert r.status_code == 200 and r.json()[0]["oid"] == git_blob_id(b"one")
    assert http.get(f"/api/models/{repo_id}/commits/HEAD", headers=a).json()[0]["id"] == main
    for view in ("resolve", "raw"):
        r = http.get(f"/{repo_id}/{view}/HEAD/f.txt")
        assert r.status_code == 200 and r.content == b"one" and r.headers["x-repo-commit"] == main
    assert api.file_exists(repo_id, "f.txt", revision="HEAD")
    r = http.post(f"/api/models/{repo_id}/preupload/HEAD", json={"files": [{"path": "x.txt", "size": 3, "sample": ""}]}, headers=a)
    assert r.status_code == 200 and r.json()["files"][0]["uploadMode"] == "regular"

    # Writes: a commit to HEAD lands on main (as on huggingface.co), so do branches and tags
    # made from it; `dev` is untouched.
    info = api.upload_file(path_or_fileobj=b"two", path_in_repo="f.txt", repo_id=repo_id, revision="HEAD")
    assert head_sha(http, hub, repo_id) == info.oid != main
    assert http.get(f"/{repo_id}/resolve/main/f.txt").content == b"two"
    assert http.get(f"/{repo_id}/resolve/dev/f.txt").content == b"dev"
    api.create_branch(repo_id, branch="from-head", revision="HEAD")
    api.create_tag(repo_id, tag="t-head", revision="HEAD")
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches}["from-head"] == info.oid
    assert {t.name: t.target_commit for t in refs.tags}["t-head"] == info.oid
    # Still no branch or tag may be called HEAD, so the alias never hides one.
    assert_error(http.post(f"/api/models/{repo_id}/branch/HEAD", json={}, headers=a), 400)
    assert_error(http.post(f"/api/models/{repo_id}/tag/HEAD", json={"tag": "HEAD"}, headers=a), 400)
    assert_error(http.get(f"/api/models/{repo_id}/revision/head", headers=a), 404, "RevisionNotFound")


def batch(http, hub, repo_id, objects, who="alice", transfers=("basic", "multipart", "xet"), op="upload", **extra):
    body = {"operation": op, "transfers": list(transfers), "objects": objects, "hash_algo": "sha_256", **extra}
    return http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json=body,
        headers={**auth(hub, who), "accept": "application/vnd.git-lfs+json", "content-type": "application/vnd.git-lfs+json"},
    )


def test_batch_hash_algo_spellings(http, hub, repo_id):
    obj = [{"oid": sha(b"x" * 10), "size": 10}]
    for algo in ("sha256", "sha_256", None):
        extra = {} if algo is None else {"hash_algo": algo}
        body = {"operation": "upload", "transfers": ["basic"], "objects": obj, **extra}
        r = http.post(f"/{repo_id}.git/info/lfs/objects/batch", json=body, headers=auth(hub))
        assert r.status_code == 200, (algo, r.text)
        assert r.json()["hash_algo"] == "sha256" and r.json()["objects"][0]["actions"]["upload"]
    pending = hub.sql("SELECT COUNT(*) FROM multipart_uploads")
    for algo in ("md5", "sha512", "SHA_256", ""):
        body = {"operation": "upload", "transfers": ["basic"], "objects": obj, "hash_algo": algo}
        r = http.post(f"/{repo_id}.git/info/lfs/objects/batch", json=body, headers=auth(hub))
        assert_error(r, 422)
        assert "sha256" in r.headers["x-error-message"]
    assert hub.sql("SELECT COUNT(*) FROM multipart_uploads") == pending


def test_batch_offers_xet_to_clients_that_ask(http, hub, repo_id):
    """transfers with "xet": the answer is a Xet one — the refresh route as href, a CAS write
    token in the headers — for objects to send; basic otherwise, and never for reads."""
    data = os.urandom(1000)
    obj = [{"oid": sha(data), "size": len(data)}]
    pending = hub.sql("SELECT COUNT(*) FROM multipart_uploads")
    r = batch(http, hub, repo_id, obj, ref={"name": "main"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transfer"] == "xet"
    (o,) = body["objects"]
    assert set(o["actions"]) == {"upload"}
    up = o["actions"]["upload"]
    assert up["href"] == f"{hub.endpoint}/api/models/{repo_id}/xet-write-token/main"
    assert up["header"]["X-Xet-Cas-Url"] == f"{hub.endpoint}/api/xet"
    token = up["header"]["X-Xet-Access-Token"]
    assert int(up["header"]["X-Xet-Token-Expiration"]) > 0
    assert hub.sql("SELECT COUNT(*) FROM multipart_uploads") == pending
    # The token works on the CAS (a write route: 404 "not stored", not 401), and the href
    # renews it with the user's own token, as the client does.
    r = http.post(f"/api/xet/v1/xorb-grants/default/{'ab' * 32}", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 404, r.text
    renewed = http.get(up["href"].removeprefix(hub.endpoint), headers=auth(hub))
    assert renewed.status_code == 200 and renewed.json()["casUrl"] == f"{hub.endpoint}/api/xet"
    r = batch(http, hub, repo_id, obj, ref={"name": "refs/heads/dev branch"})
    assert r.json()["objects"][0]["actions"]["upload"]["href"].endswith("/xet-write-token/dev%20branch")

    # Without "xet", or for downloads: as before.
    r = batch(http, hub, repo_id, obj, transfers=["basic", "multipart"])
    assert r.json()["transfer"] == "basic" and "verify" in r.json()["objects"][0]["actions"]
    r = batch(http, hub, repo_id, obj, op="download")
    assert r.json()["transfer"] == "basic" and r.json()["objects"][0]["error"]["code"] == 404

    # Who may not write gets no token.
    for who, status in (("alice_ro", 403), ("bob", 403)):
        r = batch(http, hub, repo_id, obj, who=who)
        assert r.status_code == status and "X-Xet-Access-Token" not in r.text, (who, r.text)
    r = http.post(f"/{repo_id}.git/info/lfs/objects/batch", json={"operation": "upload", "transfers": ["xet"], "objects": obj})
    assert r.status_code == 401 and "X-Xet-Access-Token" not in r.text


def test_batch_xet_plans_no_parts(http, hub, repo_id):
    """A Xet answer hands out no part URLs, so the multipart limits do not apply to it: 50
    objects of 5 TiB (more parts than an answer may hold with a bucket) get their token."""
    objs = [{"oid": sha(str(i).encode()), "size": 5 << 40} for i in range(50)]
    if S3_ENDPOINT:
        assert_error(batch(http, hub, repo_id, objs, transfers=["basic", "multipart"]), 413)
    r = batch(http, hub, repo_id, objs)
    assert r.status_code == 200 and r.json()["transfer"] == "xet", r.text
    assert all(set(o["actions"]) == {"upload"} for o in r.json()["objects"])


def test_batch_xet_skips_what_is_stored(node, hub, http, files):
    """An object already uploaded (through Xet) by this user gets no upload action; one in a
    private repo bob cannot read is unknown to him."""
    name, repo = new_repo(node, hub, private=True)
    upload(node, hub, repo, files)
    big = files["big"]
    r = batch(http, hub, name, [{"oid": sha(big), "size": BIG}, {"oid": sha(b"new"), "size": 3}])
    assert r.status_code == 200 and r.json()["transfer"] == "xet"
    stored, new = r.json()["objects"]
    assert "actions" not in stored and "error" not in stored
    assert set(new["actions"]) == {"upload"}
    # bob must send the bytes himself.
    bob_repo = f"bob/js-{uuid.uuid4().hex[:8]}"
    assert http.post("/api/repos/create", json={"name": bob_repo.split("/")[1], "type": "model"}, headers=auth(hub, "bob")).status_code == 200
    r = batch(http, hub, bob_repo, [{"oid": sha(big), "size": BIG}], who="bob")
    assert set(r.json()["objects"][0]["actions"]) == {"upload"}


XET_FILEINFO = "application/vnd.xet-fileinfo+json"


def test_resolve_answers_xet_file_info(node, hub, http, files):
    """`Accept: application/vnd.xet-fileinfo+json` on a Xet file: where to read it through Xet
    (the JS client's download path); any other file, or without the Accept, the bytes."""
    name, repo = new_repo(node, hub)
    upload(node, hub, repo, files)
    big = files["big"]
    main = head_sha(http, hub, name)
    xet_hash = hub.sql("SELECT xet_hash FROM lfs_objects WHERE oid = ?", sha(big))[0][0]
    accept = {**auth(hub), "accept": f"{XET_FILEINFO}, */*", "range": "bytes=0-0"}
    r = http.get(f"/{name}/resolve/main/weights/big.bin", headers=accept)
    assert r.status_code == 200 and r.headers["content-type"] == XET_FILEINFO
    assert r.headers["x-xet-hash"] == xet_hash and r.headers["x-linked-size"] == str(BIG)
    assert r.headers["x-repo-commit"] == main and r.headers["x-linked-etag"] == f'"{sha(big)}"'
    refresh = f"{hub.endpoint}/api/models/{name}/xet-read-token/{main}"
    reconstruction = f"{hub.endpoint}/api/xet/v1/reconstructions/{xet_hash}"
    assert r.headers["link"] == f'<{refresh}>; rel="xet-auth", <{reconstruction}>; rel="xet-reconstruction-info"'
    assert r.json() == {
        "hash": xet_hash, "size": BIG, "etag": sha(big), "refreshUrl": refresh,
        "reconstructionUrl": reconstruction, "casUrl": f"{hub.endpoint}/api/xet",
    }
    h = http.head(f"/{name}/resolve/main/weights/big.bin", headers=accept)
    assert h.status_code == 200 and h.headers["content-type"] == XET_FILEINFO and h.content == b""
    # The links work: a read token from the refresh route reads the reconstruction (v2 too).
    token = http.get(refresh.removeprefix(hub.endpoint), headers=auth(hub)).json()["accessToken"]
    for v in ("v1", "v2"):
        rec = http.get(reconstruction.removeprefix(hub.endpoint).replace("/v1/", f"/{v}/"), headers={"authorization": f"Bearer {token}"})
        assert rec.status_code == 200 and rec.json()["terms"], rec.text
    # Without the Accept: the bytes, as before.
    r = http.get(f"/{name}/resolve/main/weights/big.bin", headers={**auth(hub), "range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == big[:10]
    # A regular file ignores the Accept.
    r = http.get(f"/{name}/resolve/main/config.json", headers=accept)
    assert r.status_code == 206 and r.content == files["small"][:1]
    assert "x-xet-hash" not in r.headers
    # So does raw: the pointer, never the Xet info.
    r = http.get(f"/{name}/raw/main/weights/big.bin", headers=accept)
    assert r.status_code == 206 and r.content == b"v" and "x-xet-hash" not in r.headers


def test_resolve_plain_lfs_ignores_xet_accept(api, http, hub, repo_id):
    data = os.urandom(3000)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    r = http.get(f"/{repo_id}/resolve/main/w.bin", headers={"accept": XET_FILEINFO}, follow_redirects=True)
    assert r.status_code == 200 and r.content == data
    assert r.headers.get("content-type") != XET_FILEINFO
