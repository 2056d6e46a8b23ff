"""Bad input, endpoint family by endpoint family: a clear 4xx with the HF error headers, and
nothing changed."""
import base64
import hashlib
import json
import os
import uuid

import pytest

from conftest import S3_ENDPOINT, auth


def head_of(http, repo_id, hub):
    return http.get(f"/api/models/{repo_id}/revision/main", headers=auth(hub)).json()["sha"]


def assert_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("x-error-code"), r.headers
    assert r.headers.get("x-error-message")
    assert "x-request-id" in r.headers
    if code:
        assert r.headers["x-error-code"] == code
    assert "error" in r.json()


def ndjson(*lines):
    return ("\n".join(json.dumps(l) for l in lines) + "\n").encode()


HEADER = {"key": "header", "value": {"summary": "bad", "description": ""}}


def commit(http, hub, repo_id, body, who="alice", rev="main"):
    return http.post(
        f"/api/models/{repo_id}/commit/{rev}",
        content=body,
        headers={**auth(hub, who), "content-type": "application/x-ndjson"},
    )


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a..b", "-lead", "trail-", "sp ace", "x" * 97, "dot.git", "ünïcode"])
def test_create_bad_repo_names(http, hub, name):
    r = http.post("/api/repos/create", json={"name": name, "organization": "alice", "type": "model"}, headers=auth(hub))
    assert_error(r, 400)


def test_create_bad_type_and_json(http, hub):
    assert_error(http.post("/api/repos/create", json={"name": "ok", "type": "kernelz"}, headers=auth(hub)), 400)
    assert_error(http.post("/api/repos/create", content=b"{not json", headers=auth(hub)), 400)
    assert_error(http.post("/api/repos/create", json={"name": "ok"}), 401)


def test_move_bad_ids(http, hub, repo_id):
    r = http.post("/api/repos/move", json={"fromRepo": repo_id, "toRepo": "alice/../x", "type": "model"}, headers=auth(hub))
    assert_error(r, 400)
    r = http.post("/api/repos/move", json={"fromRepo": repo_id, "toRepo": "noslash", "type": "model"}, headers=auth(hub))
    assert_error(r, 400)


# --- commit paths and NDJSON -----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["../escape.txt", "a/../../b", "/etc/passwd", ".git/config", "x/.git/hooks/pre-commit", "..\\ddd", "a//b", "."]
)
def test_commit_bad_paths(http, hub, repo_id, path):
    before = head_of(http, repo_id, hub)
    body = ndjson(HEADER, {"key": "file", "value": {"path": path, "content": "eA==", "encoding": "base64"}})
    r = commit(http, hub, repo_id, body)
    assert r.status_code in (400, 422)
    assert_error(r, r.status_code)
    assert head_of(http, repo_id, hub) == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all\n",
        b'{"key": "file", "value": {"path": "a", "content": "eA=="}}\n',  # no header first
        ndjson(HEADER, {"key": "file", "value": {"path": "a.txt", "content": "!!!notbase64", "encoding": "base64"}}),
        ndjson(HEADER, {"key": "file", "value": {"path": "a.txt", "content": "eA==", "encoding": "utf-9"}}),
        ndjson(HEADER, {"key": "explode", "value": {}}),
        ndjson(HEADER, HEADER),
        ndjson({"key": "header", "value": {"summary": ""}}),
        ndjson({"key": "header", "value": {"summary": "x", "parentCommit": "zzz"}}),
        ndjson(HEADER, {"key": "lfsFile", "value": {"path": "m.bin", "algo": "sha256", "oid": "nothex", "size": 3}}),
        ndjson(HEADER, {"key": "file", "value": {"content": "eA=="}}),
        b"",
    ],
)
def test_commit_malformed_ndjson(http, hub, repo_id, body):
    before = head_of(http, repo_id, hub)
    assert_error(commit(http, hub, repo_id, body), 400)
    assert head_of(http, repo_id, hub) == before


def test_commit_partial_failure_changes_nothing(http, hub, repo_id):
    before = head_of(http, repo_id, hub)
    body = ndjson(
        HEADER,
        {"key": "file", "value": {"path": "good.txt", "content": "eA==", "encoding": "base64"}},
        {"key": "deletedFile", "value": {"path": "does-not-exist.txt"}},
    )
    r = commit(http, hub, repo_id, body)
    assert_error(r, 404, "EntryNotFound")
    assert head_of(http, repo_id, hub) == before
    files = [e["path"] for e in http.get(f"/api/models/{repo_id}/tree/main").json()]
    assert "good.txt" not in files


def test_commit_unknown_revision_and_tag(http, hub, repo_id):
    body = ndjson(HEADER, {"key": "file", "value": {"path": "a.txt", "content": "eA==", "encoding": "base64"}})
    assert_error(commit(http, hub, repo_id, body, rev="nope"), 404, "RevisionNotFound")
    http.post(f"/api/models/{repo_id}/tag/main", json={"tag": "v1"}, headers=auth(hub)).raise_for_status()
    assert_error(commit(http, hub, repo_id, body, rev="v1"), 404, "RevisionNotFound")


def test_commit_to_missing_or_foreign_repo(http, hub, repo_id):
    body = ndjson(HEADER)
    assert_error(commit(http, hub, f"alice/missing-{uuid.uuid4().hex[:6]}", body), 404, "RepoNotFound")
    assert_error(commit(http, hub, repo_id, body, who="bob"), 403)
    r = http.post(f"/api/models/{repo_id}/commit/main", content=body)
    assert_error(r, 401)


def test_commit_oversized_line(http, hub, repo_id):
    huge = base64.b64encode(b"\0" * (23 * 1024 * 1024)).decode()
    body = ndjson(HEADER, {"key": "file", "value": {"path": "huge.txt", "content": huge, "encoding": "base64"}})
    assert_error(commit(http, hub, repo_id, body), 413)


def test_preupload_bad_input(http, hub, repo_id):
    url = f"/api/models/{repo_id}/preupload/main"
    assert_error(http.post(url, content=b"[", headers=auth(hub)), 400)
    assert_error(http.post(url, json={"files": [{"path": "../x", "size": 1}]}, headers=auth(hub)), 422)
    assert_error(http.post(url, json={"files": [{"path": "x", "size": -1}]}, headers=auth(hub)), 400)
    assert_error(http.post(f"/api/models/{repo_id}/preupload/nope", json={"files": []}, headers=auth(hub)), 404, "RevisionNotFound")
    r = http.post(url, json={"files": [{"path": "a.log", "size": 3}, {"path": "w.bin", "size": 3}, {"path": "t.txt", "size": 20_000_000}], "gitIgnore": "*.log\n"}, headers=auth(hub))
    files = {f["path"]: f for f in r.json()["files"]}
    assert files["a.log"]["shouldIgnore"] is True and files["w.bin"]["shouldIgnore"] is False
    assert files["w.bin"]["uploadMode"] == "lfs" and files["t.txt"]["uploadMode"] == "lfs"
    assert files["a.log"]["uploadMode"] == "regular"


# --- reads -----------------------------------------------------------------------------


def test_unknown_revisions_and_entries(http, hub, repo_id):
    assert_error(http.get(f"/api/models/{repo_id}/revision/nope"), 404, "RevisionNotFound")
    assert_error(http.get(f"/api/models/{repo_id}/tree/nope"), 404, "RevisionNotFound")
    assert_error(http.get(f"/api/models/{repo_id}/tree/main/no-dir"), 404, "EntryNotFound")
    assert_error(http.get(f"/{repo_id}/resolve/main/missing.txt"), 404, "EntryNotFound")
    assert_error(http.get(f"/{repo_id}/resolve/{'a' * 40}/.gitattributes"), 404, "RevisionNotFound")
    assert_error(http.get(f"/api/models/{repo_id}/commits/nope"), 404, "RevisionNotFound")
    assert_error(http.get(f"/api/models/alice/never-{uuid.uuid4().hex[:6]}"), 404, "RepoNotFound")
    assert_error(http.get(f"/{repo_id}/resolve/main/..%2F..%2Fetc%2Fpasswd"), 404, "EntryNotFound")
    assert_error(http.get(f"/api/models/{repo_id}/tree/main?cursor=abc"), 400)


def test_branch_and_tag_bad_names(http, hub, repo_id):
    for bad in ["a..b", "x.lock", "-x", "a%20b", "a~1"]:
        r = http.post(f"/api/models/{repo_id}/branch/{bad}", json={}, headers=auth(hub))
        assert_error(r, 400)
    assert_error(http.post(f"/api/models/{repo_id}/tag/main", json={"tag": "bad..tag"}, headers=auth(hub)), 400)
    assert_error(http.post(f"/api/models/{repo_id}/tag/main", json={}, headers=auth(hub)), 400)
    assert_error(http.post(f"/api/models/{repo_id}/branch/ok", json={"startingPoint": "nope"}, headers=auth(hub)), 404, "RevisionNotFound")


# --- LFS -------------------------------------------------------------------------------


def batch(http, hub, repo_id, objects, op="upload", who="alice"):
    return http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": op, "transfers": ["basic"], "objects": objects, "hash_algo": "sha256"},
        headers={**auth(hub, who), "accept": "application/vnd.git-lfs+json"},
    )


def lfs_copies(hub, oid):
    """Files in the storage holding (a copy of) LFS object `oid`."""
    d = os.path.join(hub.storage_dir, "lfs", oid[:2], oid[2:4])
    return [f for f in os.listdir(d) if f.startswith(oid)] if os.path.isdir(d) else []


def test_lfs_wrong_hash_and_size_refused(http, hub, repo_id):
    data = os.urandom(1000)
    oid = hashlib.sha256(data).hexdigest()
    obj = batch(http, hub, repo_id, [{"oid": oid, "size": 1000}]).json()["objects"][0]
    href = obj["actions"]["upload"]["href"]
    body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "m.bin", "algo": "sha256", "oid": oid, "size": 1000}})
    if S3_ENDPOINT:
        # The bytes go straight to the bucket, which takes anything; the hub reads them back at
        # verify (or commit) time, refuses them and deletes them.
        assert href.startswith(S3_ENDPOINT + "/")
        for bad in (os.urandom(1000), data[:999], data + b"x"):
            obj = batch(http, hub, repo_id, [{"oid": oid, "size": 1000}]).json()["objects"][0]
            assert http.put(obj["actions"]["upload"]["href"], content=bad).status_code == 200
            assert_error(http.post(obj["actions"]["verify"]["href"], json={"oid": oid, "size": 1000}), 400)
            assert lfs_copies(hub, oid) == []
        # Uploaded but never verified: the commit checks it, refuses it and deletes it too.
        obj = batch(http, hub, repo_id, [{"oid": oid, "size": 1000}]).json()["objects"][0]
        assert http.put(obj["actions"]["upload"]["href"], content=os.urandom(1000)).status_code == 200
        assert_error(commit(http, hub, repo_id, body), 400)
        assert lfs_copies(hub, oid) == []
        # A tampered presigned URL is refused by the bucket itself.
        obj = batch(http, hub, repo_id, [{"oid": oid, "size": 1000}]).json()["objects"][0]
        href = obj["actions"]["upload"]["href"]
        sig = href.split("X-Amz-Signature=")[1][:64]
        forged = href.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
        assert http.put(forged, content=data).status_code == 403
        # The right bytes succeed, verify admits them, the commit may use them.
        assert http.put(href, content=data).status_code == 200
        assert http.post(obj["actions"]["verify"]["href"], json={"oid": oid, "size": 1000}).status_code == 200
        assert len(lfs_copies(hub, oid)) == 1
        assert commit(http, hub, repo_id, body).status_code == 200
        return
    assert_error(http.put(href, content=os.urandom(1000)), 400)  # wrong bytes for the oid
    assert_error(http.put(href, content=data[:999]), 400)  # short
    assert_error(http.put(href, content=data + b"x"), 400)  # long
    # Nothing was admitted: a commit cannot reference it.
    assert_error(commit(http, hub, repo_id, body), 400)
    # Tampered signature or size in the URL.
    assert_error(http.put(href.replace("size=1000", "size=999"), content=data[:999]), 403)
    assert_error(http.put(href[:-4] + "0000", content=data), 403)
    # The right bytes succeed, then verify answers.
    assert http.put(href, content=data).status_code == 200
    v = obj["actions"]["verify"]
    assert http.post(v["href"], json={"oid": oid, "size": 1000}).status_code == 200
    assert commit(http, hub, repo_id, body).status_code == 200


def test_lfs_batch_bad_objects(http, hub, repo_id):
    r = batch(http, hub, repo_id, [{"oid": "xyz", "size": 1}, {"oid": "a" * 64, "size": -5}])
    objs = r.json()["objects"]
    assert objs[0]["error"]["code"] == 422 and objs[1]["error"]["code"] == 422
    assert_error(http.post(f"/{repo_id}.git/info/lfs/objects/batch", content=b"{", headers=auth(hub)), 400)
    assert_error(batch(http, hub, repo_id, [], who="bob"), 403)
    r = http.post(f"/{repo_id}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": []})
    assert_error(r, 401)


def test_lfs_commit_size_mismatch(http, hub, repo_id):
    data = os.urandom(500)
    oid = hashlib.sha256(data).hexdigest()
    href = batch(http, hub, repo_id, [{"oid": oid, "size": 500}]).json()["objects"][0]["actions"]["upload"]["href"]
    http.put(href, content=data).raise_for_status()
    body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "m.bin", "algo": "sha256", "oid": oid, "size": 501}})
    assert_error(commit(http, hub, repo_id, body), 400)


def test_lfs_dedup_never_leaks_private_objects(api, http, hub):
    """Bob knows the sha256 of a file in Alice's private repo; that gives him nothing."""
    private = f"alice/secret-{uuid.uuid4().hex[:6]}"
    api.create_repo(private, private=True)
    secret = os.urandom(2048)
    oid = hashlib.sha256(secret).hexdigest()
    api.upload_file(path_or_fileobj=secret, path_in_repo="secret.bin", repo_id=private)
    bobs = f"bob/mine-{uuid.uuid4().hex[:6]}"
    http.post("/api/repos/create", json={"name": bobs.split("/")[1], "organization": "bob"}, headers=auth(hub, "bob")).raise_for_status()
    # Upload batch: Bob is told to upload (not "already there").
    obj = batch(http, hub, bobs, [{"oid": oid, "size": 2048}], who="bob").json()["objects"][0]
    assert "upload" in obj.get("actions", {})
    # Committing a reference without possession is refused ...
    body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "stolen.bin", "algo": "sha256", "oid": oid, "size": 2048}})
    assert_error(commit(http, hub, bobs, body, who="bob"), 400)
    # ... and so is a regular file whose content is a pointer to it.
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 2048\n".encode()
    body = ndjson(HEADER, {"key": "file", "value": {"path": "p.bin", "content": base64.b64encode(pointer).decode(), "encoding": "base64"}})
    assert_error(commit(http, hub, bobs, body, who="bob"), 400)
    # Download batch on his own repo does not hand out the object.
    obj = batch(http, hub, bobs, [{"oid": oid, "size": 2048}], op="download", who="bob").json()["objects"][0]
    assert obj["error"]["code"] == 404
    # On Alice's private repo Bob sees nothing at all.
    assert_error(batch(http, hub, private, [{"oid": oid, "size": 2048}], op="download", who="bob"), 404, "RepoNotFound")
    # With the real bytes (proof of possession) Bob may commit it.
    http.put(obj_href := batch(http, hub, bobs, [{"oid": oid, "size": 2048}], who="bob").json()["objects"][0]["actions"]["upload"]["href"], content=secret).raise_for_status()
    body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "mine.bin", "algo": "sha256", "oid": oid, "size": 2048}})
    assert commit(http, hub, bobs, body, who="bob").status_code == 200


def test_multipart_bad_parts(http, hub, repo_id):
    from conftest import MULTIPART_CHUNK, MULTIPART_THRESHOLD

    size = MULTIPART_THRESHOLD + 1
    oid = "b" * 64
    r = http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic", "multipart"], "objects": [{"oid": oid, "size": size}]},
        headers=auth(hub),
    )
    up = r.json()["objects"][0]["actions"]["upload"]
    assert int(up["header"]["chunk_size"]) == MULTIPART_CHUNK
    part1 = up["header"]["1"]
    if S3_ENDPOINT:
        # Parts go to the bucket; the hub's completion call is where bad uploads are refused.
        assert part1.startswith(S3_ENDPOINT + "/")
        assert_error(http.post(up["href"], json={"oid": oid, "parts": [{"partNumber": 1, "etag": "x"}]}), 400)
        assert_error(http.post(up["href"], content=b"{"), 400)
        parts = []
        for n in range(1, 4):
            size_n = MULTIPART_CHUNK if n < 3 else size - 2 * MULTIPART_CHUNK
            r = http.put(up["header"][str(n)], content=os.urandom(size_n))
            assert r.status_code == 200
            parts.append({"partNumber": n, "etag": r.headers["etag"]})
        # A wrong ETag is refused: by the storage (S3 checks them), or else by the hub, whose
        # read-back finds bytes that are not those of the oid.
        wrong = [dict(parts[0], etag='"0000"'), *parts[1:]]
        assert_error(http.post(up["href"], json={"oid": oid, "parts": wrong}), 400)
        # Every part right, but the bytes are not those of the oid: refused and deleted (404
        # when the refusal above already ended the upload).
        r = http.post(up["href"], json={"oid": oid, "parts": parts})
        assert r.status_code in (400, 404)
        assert_error(r, r.status_code)
        assert lfs_copies(hub, oid) == []
        assert_error(http.post(up["href"], json={"oid": oid, "parts": parts}), 404)  # upload is gone
        return
    assert_error(http.put(part1, content=b"short"), 400)
    assert_error(http.put(part1.replace("/1?", "/99?"), content=b"x"), 400)
    assert_error(http.post(up["href"], json={"oid": oid, "parts": [{"partNumber": 1, "etag": "x"}]}), 400)
    assert_error(http.post(up["href"], content=b"{"), 400)


def test_signed_url_without_signature(http):
    assert_error(http.put("/api/lfs/upload/" + "a" * 64 + "?size=1&user=1"), 403)
