"""Files through huggingface_hub: uploads (regular and LFS), listings, downloads, deletions."""
import hashlib
import os
import subprocess
import uuid

import httpx2
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RevisionNotFoundError

from conftest import S3_ENDPOINT, auth


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "up"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello world\n")
    (root / "sub" / "b.json").write_bytes(b'{"x": 1}\n')
    (root / "sub" / "deep" / "c.txt").write_bytes(b"deep\n")
    (root / "weights.safetensors").write_bytes(os.urandom(4096))  # LFS by suffix rule
    (root / "big.dat").write_bytes(os.urandom(10_500_000))  # LFS by size (> 10 MB)
    return root


def test_upload_folder_listing_and_download(api, repo_id, folder, tmp_path):
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="add folder")
    files = set(api.list_repo_files(repo_id))
    assert files == {".gitattributes", "a.txt", "sub/b.json", "sub/deep/c.txt", "weights.safetensors", "big.dat"}

    tree = {e.path: e for e in api.list_repo_tree(repo_id, recursive=True)}
    assert "sub" in tree and "sub/deep" in tree  # directories are listed too
    assert tree["a.txt"].blob_id == git_blob_sha1(b"hello world\n")
    assert tree["a.txt"].lfs is None
    big = (folder / "big.dat").read_bytes()
    assert tree["big.dat"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert tree["big.dat"].size == len(big) == tree["big.dat"].lfs.size
    assert tree["weights.safetensors"].lfs is not None

    top = [e.path for e in api.list_repo_tree(repo_id)]
    assert "sub/b.json" not in top and "sub" in top
    assert [e.path for e in api.list_repo_tree(repo_id, path_in_repo="sub")] == ["sub/b.json", "sub/deep"]

    info = api.model_info(repo_id, files_metadata=True)
    sib = {s.rfilename: s for s in info.siblings}
    assert sib["big.dat"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert sib["big.dat"].size == len(big)
    assert sib["a.txt"].blob_id == git_blob_sha1(b"hello world\n")

    p = hf_hub_download(repo_id, "big.dat", cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == big
    # The cache names blobs by etag: sha256 for LFS files, git blob sha1 for the others.
    assert os.path.basename(os.path.realpath(p)) == hashlib.sha256(big).hexdigest()
    p = hf_hub_download(repo_id, "sub/deep/c.txt", cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == b"deep\n"
    assert os.path.basename(os.path.realpath(p)) == git_blob_sha1(b"deep\n")

    snap = snapshot_download(repo_id, cache_dir=tmp_path / "s", allow_patterns=["sub/*", "*.txt"])
    got = sorted(os.path.relpath(os.path.join(d, f), snap) for d, _, fs in os.walk(snap) for f in fs)
    assert got == ["a.txt", "sub/b.json", "sub/deep/c.txt"]
    full = snapshot_download(repo_id, cache_dir=tmp_path / "s2")
    assert open(os.path.join(full, "big.dat"), "rb").read() == big


def test_paths_info_and_expand(api, repo_id, folder, tmp_path):
    api.upload_folder(repo_id=repo_id, folder_path=str(folder))
    infos = api.get_paths_info(repo_id, ["a.txt", "sub", "missing.txt", "big.dat"])
    by = {i.path: i for i in infos}
    assert set(by) == {"a.txt", "sub", "big.dat"}
    assert by["big.dat"].lfs.size == 10_500_000
    expanded = api.get_paths_info(repo_id, ["a.txt"], expand=True)
    assert expanded[0].last_commit is not None
    tree = list(api.list_repo_tree(repo_id, expand=True))
    assert all(e.last_commit is not None for e in tree)
    # big.dat (LFS by size, no suffix rule) was added to .gitattributes so git clones smudge it.
    ga = [e for e in tree if e.path == ".gitattributes"][0]
    assert ga.last_commit.title != "initial commit"
    attrs = open(hf_hub_download(repo_id, ".gitattributes", cache_dir=tmp_path), "rb").read().decode()
    assert "/big.dat filter=lfs diff=lfs merge=lfs -text" in attrs and "safetensors" in attrs


def test_upload_file_and_overwrite_and_noop(api, repo_id):
    c1 = api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id=repo_id)
    c2 = api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=repo_id)
    assert c1.oid != c2.oid
    assert c2.commit_url == f"{api.endpoint}/{repo_id}/commit/{c2.oid}"
    # Same content again: preupload reports the remote oid and the client skips the commit.
    c3 = api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=repo_id)
    assert c3.oid == c2.oid
    assert len(api.list_repo_commits(repo_id)) == 3
    last = {e.path: e.last_commit for e in api.list_repo_tree(repo_id, expand=True)}
    assert last[".gitattributes"].title == "initial commit"
    assert last["f.txt"].oid == c2.oid


def test_lfs_file_overwrite_and_history(api, repo_id, tmp_path):
    a, b = os.urandom(2000), os.urandom(3000)
    api.upload_file(path_or_fileobj=a, path_in_repo="m.bin", repo_id=repo_id)
    first = api.list_repo_commits(repo_id)[0].commit_id
    api.upload_file(path_or_fileobj=b, path_in_repo="m.bin", repo_id=repo_id)
    assert open(hf_hub_download(repo_id, "m.bin", cache_dir=tmp_path), "rb").read() == b
    assert open(hf_hub_download(repo_id, "m.bin", revision=first, cache_dir=tmp_path), "rb").read() == a


def test_multipart_lfs_upload(api, repo_id, tmp_path):
    from conftest import MULTIPART_THRESHOLD

    data = os.urandom(MULTIPART_THRESHOLD + 5_000_123)
    (tmp_path / "huge.bin").write_bytes(data)
    api.upload_file(path_or_fileobj=str(tmp_path / "huge.bin"), path_in_repo="huge.bin", repo_id=repo_id)
    p = hf_hub_download(repo_id, "huge.bin", cache_dir=tmp_path / "c")
    assert hashlib.sha256(open(p, "rb").read()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_delete_file_and_folder(api, repo_id, folder):
    api.upload_folder(repo_id=repo_id, folder_path=str(folder))
    api.delete_file("a.txt", repo_id)
    api.delete_folder("sub", repo_id)
    assert set(api.list_repo_files(repo_id)) == {".gitattributes", "weights.safetensors", "big.dat"}
    with pytest.raises(EntryNotFoundError):
        api.delete_file("a.txt", repo_id)
    with pytest.raises(EntryNotFoundError):
        api.delete_folder("nope", repo_id)


def test_create_commit_mixed_ops_and_copy(api, repo_id):
    api.create_commit(
        repo_id,
        operations=[
            CommitOperationAdd("x/one.txt", b"1"),
            CommitOperationAdd("x/lfs.bin", os.urandom(100)),
            CommitOperationAdd("gone.txt", b"bye"),
        ],
        commit_message="mixed",
        commit_description="a longer description",
    )
    api.create_commit(
        repo_id,
        operations=[
            CommitOperationCopy("x/one.txt", "y/one-copy.txt"),
            CommitOperationCopy("x/lfs.bin", "y/lfs-copy.bin"),
            CommitOperationDelete("gone.txt"),
        ],
        commit_message="copy",
    )
    files = set(api.list_repo_files(repo_id))
    assert {"y/one-copy.txt", "y/lfs-copy.bin", "x/one.txt"} <= files and "gone.txt" not in files
    commits = api.list_repo_commits(repo_id)
    assert commits[1].title == "mixed" and "a longer description" in commits[1].message
    assert commits[0].authors == ["alice"]


def test_parent_commit_stale_is_412(api, repo_id):
    head = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id, parent_commit=head)
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo_id, parent_commit=head)
    assert e.value.response.status_code == 412
    assert "The branch was updated since you opened this page" in str(e.value)
    assert "b.txt" not in api.list_repo_files(repo_id)


def test_revisions_branch_tag_sha(api, repo_id, tmp_path):
    api.upload_file(path_or_fileobj=b"main-1", path_in_repo="f.txt", repo_id=repo_id)
    api.create_branch(repo_id, branch="dev")
    api.create_tag(repo_id, tag="v1", tag_message="release one")
    sha1 = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"dev-2", path_in_repo="f.txt", repo_id=repo_id, revision="dev")
    api.upload_file(path_or_fileobj=b"main-2", path_in_repo="f.txt", repo_id=repo_id)
    read = lambda rev: open(hf_hub_download(repo_id, "f.txt", revision=rev, cache_dir=tmp_path), "rb").read()
    assert read("main") == b"main-2"
    assert read("dev") == b"dev-2"
    assert read("v1") == b"main-1"
    assert read(sha1) == b"main-1"
    assert api.model_info(repo_id, revision="v1").sha == sha1
    assert [e.path for e in api.list_repo_tree(repo_id, revision=sha1)] == [".gitattributes", "f.txt"]
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "f.txt", revision="0" * 40, cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "nope.txt", cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(repo_id, path_in_repo="no/such/dir"))


def test_refs_branches_tags(api, repo_id):
    api.create_branch(repo_id, branch="feature/x")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(repo_id, branch="feature/x")
    assert e.value.response.status_code == 409
    api.create_branch(repo_id, branch="feature/x", exist_ok=True)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(repo_id, branch="main")
    assert "already exists" in str(e.value)
    head = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="1.txt", repo_id=repo_id)
    api.create_branch(repo_id, branch="from-old", revision=head)
    api.create_tag(repo_id, tag="t1")
    api.create_tag(repo_id, tag="t-old", revision=head)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(repo_id, tag="t1")
    assert e.value.response.status_code == 409
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="t2", revision="nope")
    refs = api.list_repo_refs(repo_id)
    branches = {b.name: b.target_commit for b in refs.branches}
    tags = {t.name: t.target_commit for t in refs.tags}
    assert branches["from-old"] == head and tags["t-old"] == head
    assert set(branches) == {"main", "feature/x", "from-old"}
    assert tags["t1"] == branches["main"]
    # A branch may share its name with a tag.
    api.create_branch(repo_id, branch="t1")
    api.delete_branch(repo_id, branch="feature/x")
    api.delete_tag(repo_id, tag="t1")
    with pytest.raises(HfHubHTTPError) as e:
        api.delete_branch(repo_id, branch="main")
    assert "Cannot delete refs/heads/main" in str(e.value)
    with pytest.raises(HfHubHTTPError) as e:
        api.delete_branch(repo_id, branch="never")
    assert "Invalid rev id" in str(e.value)
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(repo_id, tag="never")
    refs = api.list_repo_refs(repo_id)
    assert "feature/x" not in [b.name for b in refs.branches]
    assert [t.name for t in refs.tags] == ["t-old"]


def test_commits_listing_and_pagination(api, repo_id, hub, http):
    for i in range(7):
        api.upload_file(path_or_fileobj=str(i).encode(), path_in_repo="n.txt", repo_id=repo_id, commit_message=f"c{i}")
    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == [f"c{i}" for i in reversed(range(7))] + ["initial commit"]
    assert commits[-1].authors == ["system"]
    ids = []
    url = f"/api/models/{repo_id}/commits/main?limit=3"
    while url:
        r = http.get(url)
        ids += [c["id"] for c in r.json()]
        url = r.links.get("next", {}).get("url")
        assert url is None or url.startswith(hub.endpoint)
    assert ids == [c.commit_id for c in commits]


def test_tree_pagination_over_1000_entries(api, repo_id):
    ops = [CommitOperationAdd(f"many/f{i:04d}.txt", f"{i}".encode()) for i in range(1105)]
    api.create_commit(repo_id, operations=ops, commit_message="many files")
    files = [f for f in api.list_repo_files(repo_id) if f.startswith("many/")]
    assert len(files) == 1105 and len(set(files)) == 1105


def test_super_squash(api, repo_id):
    for i in range(3):
        api.upload_file(path_or_fileobj=str(i).encode(), path_in_repo=f"{i}.txt", repo_id=repo_id)
    api.super_squash_history(repo_id, commit_message="squashed!")
    commits = api.list_repo_commits(repo_id)
    assert len(commits) == 1 and commits[0].title == "squashed!"
    assert set(api.list_repo_files(repo_id)) == {".gitattributes", "0.txt", "1.txt", "2.txt"}


def test_dataset_repo_files(api, tmp_path):
    rid = f"alice/ds-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid, repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data/train.csv", repo_id=rid, repo_type="dataset")
    api.upload_file(path_or_fileobj=os.urandom(500), path_in_repo="data/x.parquet", repo_id=rid, repo_type="dataset")
    assert set(api.list_repo_files(rid, repo_type="dataset")) == {".gitattributes", "data/train.csv", "data/x.parquet"}
    p = hf_hub_download(rid, "data/train.csv", repo_type="dataset", token=api.token, cache_dir=tmp_path)
    assert open(p).read() == "a,b\n1,2\n"
    snap = snapshot_download(rid, repo_type="dataset", token=api.token, cache_dir=tmp_path / "s")
    assert os.path.getsize(os.path.join(snap, "data/x.parquet")) == 500


def test_resolve_headers_and_ranges(api, repo_id, http, hub):
    data = os.urandom(3000)
    api.upload_file(path_or_fileobj=data, path_in_repo="r.bin", repo_id=repo_id)
    api.upload_file(path_or_fileobj=b"0123456789", path_in_repo="small.txt", repo_id=repo_id)
    sha = api.model_info(repo_id).sha
    h = http.head(f"/{repo_id}/resolve/main/r.bin")
    assert h.headers["x-repo-commit"] == sha
    assert h.headers["etag"].strip('"') == hashlib.sha256(data).hexdigest()
    assert h.headers["x-linked-size"] == "3000"
    if S3_ENDPOINT:
        # LFS bytes come from the bucket: the metadata rides on a redirect to it.
        assert h.status_code == 302 and h.headers["location"].startswith(S3_ENDPOINT + "/")
        assert h.headers["x-linked-etag"].strip('"') == hashlib.sha256(data).hexdigest()
        r = http.get(f"/{repo_id}/resolve/main/r.bin")
        assert r.status_code == 302 and r.headers["x-repo-commit"] == sha
        assert httpx2.get(r.headers["location"]).content == data
        r = http.get(f"/{repo_id}/resolve/main/r.bin", headers={"range": "bytes=-10"}, follow_redirects=True)
        assert r.status_code == 206 and r.content == data[-10:]
        r = http.get(f"/{repo_id}/resolve/main/r.bin", headers={"range": "bytes=2990-"}, follow_redirects=True)
        assert r.content == data[2990:]
        r = http.get(f"/{repo_id}/resolve/main/r.bin", headers={"range": "bytes=5000-6000"}, follow_redirects=True)
        assert r.status_code == 416
    else:
        assert h.status_code == 200 and h.headers["content-length"] == "3000"
    h = http.head(f"/{repo_id}/resolve/{sha}/small.txt")
    assert h.headers["etag"].strip('"') == git_blob_sha1(b"0123456789")
    r = http.get(f"/{repo_id}/resolve/main/small.txt", headers={"range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234" and r.headers["content-range"] == "bytes 2-4/10"
    if not S3_ENDPOINT:
        r = http.get(f"/{repo_id}/resolve/main/r.bin", headers={"range": "bytes=-10"})
        assert r.status_code == 206 and r.content == data[-10:]
        r = http.get(f"/{repo_id}/resolve/main/r.bin", headers={"range": "bytes=2990-"})
        assert r.content == data[2990:]
        r = http.get(f"/{repo_id}/resolve/main/r.bin", headers={"range": "bytes=5000-6000"})
        assert r.status_code == 416 and r.headers["content-range"] == "bytes */3000"
    r = http.get(f"/models/{repo_id}/resolve/main/small.txt")
    assert r.status_code == 200 and r.content == b"0123456789"  # KohakuHub's typed path
    r = http.get(f"/{repo_id}/resolve/refs%2Fheads%2Fmain/small.txt")
    assert r.status_code == 200 and r.content == b"0123456789"


def test_hf_cli_upload_download(hub, tmp_path):
    env = dict(os.environ, HF_TOKEN=hub.tokens["alice"])
    env.pop("HF_HUB_DISABLE_IMPLICIT_TOKEN", None)
    hf = os.path.join(os.path.dirname(__import__("sys").executable), "hf")
    rid = f"alice/cli-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text('{"a": 1}')
    (src / "model.safetensors").write_bytes(os.urandom(5000))
    r = subprocess.run([hf, "upload", rid, str(src), ".", "--commit-message", "cli upload"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([hf, "upload", rid, str(src / "config.json"), "conf/config.json", "--revision", "newbranch"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    r = subprocess.run([hf, "download", rid, "--local-dir", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (out / "model.safetensors").read_bytes() == (src / "model.safetensors").read_bytes()
    r = subprocess.run([hf, "download", rid, "conf/config.json", "--revision", "newbranch", "--local-dir", str(out / "b")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (out / "b" / "conf" / "config.json").read_text() == '{"a": 1}'


def test_space_repo_roundtrip(api, tmp_path):
    rid = f"alice/sp-{uuid.uuid4().hex[:8]}"
    url = api.create_repo(rid, repo_type="space", space_sdk="static")
    assert url == f"{api.endpoint}/spaces/{rid}"
    api.upload_file(path_or_fileobj=b"<h1>hi</h1>", path_in_repo="index.html", repo_id=rid, repo_type="space")
    assert api.space_info(rid).id == rid
    p = hf_hub_download(rid, "index.html", repo_type="space", cache_dir=tmp_path)
    assert open(p, "rb").read() == b"<h1>hi</h1>"
