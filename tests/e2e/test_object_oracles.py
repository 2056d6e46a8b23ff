"""Stored-but-not-possessed looks exactly like unknown (issue 13, item 2), and LFS batch answers
stay small whatever a caller announces (item 3).

alice keeps an LFS object in a private repo; bob, who cannot read it, asks about it every way
the LFS and commit APIs allow, and every answer must be the one an oid nobody ever stored gets.
"""
import hashlib
import json
import os
import re
import uuid

import httpx2

from conftest import S3_ENDPOINT, auth
from test_bad_input import HEADER, assert_error, batch, commit, ndjson
from test_xet import client


def shape(obj, oid):
    """An LFS batch object with the oid (and signatures, expiries) taken out."""
    text = json.dumps(obj, sort_keys=True).replace(oid, "OID")
    text = re.sub(r"/lfs/[0-9a-f]{2}/[0-9a-f]{2}/OID", "/lfs/XX/XX/OID", text)  # bucket keys
    text = re.sub(r"(sig|exp|X-Amz-[A-Za-z]+|upload|expires_at)=[^&\"]+", r"\1=X", text)
    text = re.sub(r'"expires_at": "[^"]+"', '"expires_at": "X"', text)
    text = re.sub(r"[0-9a-f]{32}", "ID", text)
    return json.loads(text)


def private_object(api, tmp_path, size=4018):
    rid = f"alice/priv-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid, private=True)
    data = os.urandom(size)
    (tmp_path / "w.bin").write_bytes(data)
    api.upload_file(path_or_fileobj=str(tmp_path / "w.bin"), path_in_repo="w.bin", repo_id=rid)
    return rid, data, hashlib.sha256(data).hexdigest()


def test_lfs_batch_verify_and_commit_answer_a_stranger_as_for_an_unknown_object(hub, api, bob_api, tmp_path):
    _, data, oid = private_object(api, tmp_path)
    unknown = hashlib.sha256(os.urandom(64)).hexdigest()
    mine = f"bob/o-{uuid.uuid4().hex[:8]}"
    bob_api.create_repo(mine)
    with httpx2.Client(base_url=hub.endpoint, timeout=60) as http:
        for size in (1, len(data)):
            a = batch(http, hub, mine, [{"oid": oid, "size": size}], who="bob")
            b = batch(http, hub, mine, [{"oid": unknown, "size": size}], who="bob")
            assert a.status_code == b.status_code == 200
            oa, ob = a.json()["objects"][0], b.json()["objects"][0]
            assert "error" not in oa, f"a wrong size for a stored object was told apart: {oa}"
            assert "upload" in oa["actions"], "bob must send the bytes of an object he cannot read"
            assert shape(oa, oid) == shape(ob, unknown)
        # verify without sending anything: 404 either way, the same words.
        va = http.post(oa["actions"]["verify"]["href"], json={"oid": oid, "size": len(data)})
        vb = http.post(ob["actions"]["verify"]["href"], json={"oid": unknown, "size": len(data)})
        assert_error(va, 404)
        assert_error(vb, 404)
        assert va.headers["x-error-code"] == vb.headers["x-error-code"]
        assert va.json()["error"].replace(oid, "OID") == vb.json()["error"].replace(unknown, "OID")
        # A commit naming it, with its size or another: the refusal an unknown oid gets.
        for size in (len(data), 1):
            ca = commit(http, hub, mine, ndjson(HEADER, {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": oid, "size": size}}), who="bob")
            cb = commit(http, hub, mine, ndjson(HEADER, {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": unknown, "size": size}}), who="bob")
            assert_error(ca, 400)
            assert (ca.status_code, ca.headers["x-error-code"]) == (cb.status_code, cb.headers["x-error-code"])
            assert ca.json()["error"].replace(oid, "OID") == cb.json()["error"].replace(unknown, "OID")
        # Sending the real bytes is what earns the right to use it (as for a new object).
        obj = batch(http, hub, mine, [{"oid": oid, "size": len(data)}], who="bob").json()["objects"][0]
        assert http.put(obj["actions"]["upload"]["href"], content=data).status_code == 200
        assert http.post(obj["actions"]["verify"]["href"], json={"oid": oid, "size": len(data)}).status_code == 200
        body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": oid, "size": len(data)}})
        assert commit(http, hub, mine, body, who="bob").status_code == 200
        got = http.get(f"/{mine}/resolve/main/x.bin", headers=auth(hub, "bob"), follow_redirects=True)
        assert got.content == data


def test_quota_refusals_count_what_a_stranger_would_send(hub, api, bob_api, tmp_path):
    """A Xet-stored object counts after dedup only for who may read it: for bob, the batch asks
    for what he announces, so a refusal says the same as for an unknown object."""
    rid = f"alice/xq-{uuid.uuid4().hex[:8]}"
    data = os.urandom(1000) + bytes(3_000_000)  # stored after dedup and compression: far less
    (tmp_path / "q.bin").write_bytes(data)
    client(
        hub,
        f"""
        api.create_repo({rid!r}, private=True)
        api.upload_file(path_or_fileobj={str(tmp_path / 'q.bin')!r}, path_in_repo="q.bin", repo_id={rid!r})
        """,
        hub.tokens["alice"],
    )
    oid = hashlib.sha256(data).hexdigest()
    assert hub.sql("SELECT xet_hash FROM lfs_objects WHERE oid = ?", oid)[0][0]
    unknown = hashlib.sha256(os.urandom(64)).hexdigest()
    mine = f"bob/q-{uuid.uuid4().hex[:8]}"
    bob_api.create_repo(mine)
    hub.cli("quota", "set-repo", f"model/{mine}", "2MB")
    with httpx2.Client(base_url=hub.endpoint, timeout=60) as http:
        a = batch(http, hub, mine, [{"oid": oid, "size": len(data)}], who="bob")
        b = batch(http, hub, mine, [{"oid": unknown, "size": len(data)}], who="bob")
        assert_error(a, 413)
        assert_error(b, 413)
        assert a.json()["error"] == b.json()["error"]


def multipart_batch(http, hub, repo_id, objects):
    """A batch as huggingface_hub sends it (multipart offered)."""
    return http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic", "multipart"], "objects": objects, "hash_algo": "sha256"},
        headers={**auth(hub), "accept": "application/vnd.git-lfs+json"},
    )


def test_lfs_batch_answers_are_bounded(hub, api, repo_id):
    with httpx2.Client(base_url=hub.endpoint, timeout=120) as http:
        # Above max_file_bytes (5 TiB): 413 before anything is handed out.
        for size in (100_000_000_000_000, 10**15, 2**63 - 1):
            r = multipart_batch(http, hub, repo_id, [{"oid": "ab" * 32, "size": size}])
            assert_error(r, 413)
            assert len(r.content) < 4096
        # At the limit: at most 10,000 parts, however small the configured part size.
        r = multipart_batch(http, hub, repo_id, [{"oid": "cd" * 32, "size": 5 << 40}])
        assert r.status_code == 200, r.text
        header = r.json()["objects"][0]["actions"]["upload"]["header"]
        parts = [k for k in header if k.isdigit()]
        assert 0 < len(parts) <= 10_000
        assert int(header["chunk_size"]) * len(parts) >= 5 << 40
        # Many huge objects in one request: the whole answer stays bounded (or is refused).
        objs = [{"oid": f"{i:064x}", "size": 5 << 40} for i in range(1, 1001)]
        r = multipart_batch(http, hub, repo_id, objs)
        assert len(r.content) < 32 << 20, len(r.content)
        if r.status_code == 200:
            total = sum(len([k for k in o["actions"]["upload"]["header"] if k.isdigit()]) for o in r.json()["objects"])
            assert total <= 50_000
        else:
            assert_error(r, 413)
            assert S3_ENDPOINT, "only a bucket's 5 GiB part limit may refuse it"
