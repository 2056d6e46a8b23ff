"""Malformed git traffic: refused with a clear message, nothing changed."""
import hashlib
import struct
import zlib

import pytest

from conftest import auth

ZERO = "0" * 40


def oid(kind, data):
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def pack(objs):
    codes = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}
    out = b"PACK" + struct.pack(">II", 2, len(objs))
    for kind, data in objs:
        n = len(data)
        c = (codes[kind] << 4) | (n & 15)
        n >>= 4
        hdr = b""
        while n:
            hdr += bytes([c | 0x80])
            c = n & 0x7F
            n >>= 7
        out += hdr + bytes([c]) + zlib.compress(data)
    return out + hashlib.sha1(out).digest()


def tree(entries):
    return b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(o) for mode, name, o in entries)


def commit(tree_id, parents, msg="m"):
    s = f"tree {tree_id}\n" + "".join(f"parent {p}\n" for p in parents)
    s += "author A <a@x> 1700000000 +0000\ncommitter A <a@x> 1700000000 +0000\n\n" + msg + "\n"
    return s.encode()


def pkt(b):
    b = b if isinstance(b, bytes) else b.encode()
    return b"%04x" % (len(b) + 4) + b


def push(http, hub, repo_id, commands, pack_bytes=b"", who="alice"):
    body = b""
    for i, (old, new, ref) in enumerate(commands):
        line = f"{old} {new} {ref}"
        body += pkt(line.encode() + (b"\0report-status side-band-64k" if i == 0 else b"") + b"\n")
    body += b"0000" + pack_bytes
    r = http.post(f"/{repo_id}.git/git-receive-pack", content=body, headers={**auth(hub, who), "content-type": "application/x-git-receive-pack-request"})
    return r


def report(r):
    """Decode a side-band report-status response into its lines."""
    data, i = r.content, 0
    inner = b""
    while i + 4 <= len(data):
        n = int(data[i:i + 4], 16)
        if n == 0:
            i += 4
            continue
        if data[i + 4] == 1:
            inner += data[i + 5:i + n]
        i += n
    lines, j = [], 0
    while j + 4 <= len(inner):
        n = int(inner[j:j + 4], 16)
        if n == 0:
            break
        lines.append(inner[j + 4:j + n].decode().rstrip("\n"))
        j += n
    return lines


def head(http, hub, repo_id):
    return http.get(f"/api/models/{repo_id}/revision/main", headers=auth(hub)).json()["sha"]


def new_commit_objects(parent, name="f.txt", content=b"x\n"):
    blob = (("blob", content))
    t = tree([("100644", name, oid("blob", content))])
    c = commit(oid("tree", t), [parent])
    return [blob, ("tree", t), ("commit", c)], oid("commit", c)


def test_valid_raw_push_works(http, hub, repo_id):
    before = head(http, hub, repo_id)
    objs, cid = new_commit_objects(before)
    r = push(http, hub, repo_id, [(before, cid, "refs/heads/main")], pack(objs))
    assert r.status_code == 200
    assert report(r) == ["unpack ok", "ok refs/heads/main"]
    assert head(http, hub, repo_id) == cid


def test_bad_pkt_lines(http, hub, repo_id):
    before = head(http, hub, repo_id)
    for body in (b"zzzz", b"0010short", b"0003", b"00"):
        r = http.post(f"/{repo_id}.git/git-receive-pack", content=body, headers=auth(hub))
        assert r.status_code == 400 and "pkt-line" in r.headers["x-error-message"]
        r = http.post(f"/{repo_id}.git/git-upload-pack", content=body, headers={"git-protocol": "version=2"})
        assert r.status_code == 400
    r = http.post(f"/{repo_id}.git/git-receive-pack", content=pkt("not a command\n") + b"0000", headers=auth(hub))
    assert r.status_code == 400
    assert head(http, hub, repo_id) == before


@pytest.mark.parametrize("damage", ["truncate", "flip", "count", "garbage"])
def test_truncated_or_corrupt_pack(http, hub, repo_id, damage):
    before = head(http, hub, repo_id)
    objs, cid = new_commit_objects(before, content=b"y" * 5000)
    p = pack(objs)
    if damage == "truncate":
        p = p[: len(p) // 2]
    elif damage == "flip":
        p = p[:40] + bytes([p[40] ^ 0xFF]) + p[41:]
    elif damage == "count":
        p = p[:8] + struct.pack(">I", 9) + p[12:]
    else:
        p = b"NOTAPACK" + p[8:]
    r = push(http, hub, repo_id, [(before, cid, "refs/heads/main")], p)
    lines = report(r)
    assert lines[0].startswith("unpack ") and lines[0] != "unpack ok", lines
    assert lines[1].startswith("ng refs/heads/main")
    assert head(http, hub, repo_id) == before
    assert http.get(f"/api/models/{repo_id}/revision/{cid}").status_code == 404


def test_invalid_ref_names(http, hub, repo_id):
    before = head(http, hub, repo_id)
    objs, cid = new_commit_objects(before)
    for ref in ("refs/heads/bad..name", "refs/heads/x.lock", "refs/other/x", "HEAD", "refs/heads/a b"):
        r = push(http, hub, repo_id, [(ZERO, cid, ref)], pack(objs))
        lines = report(r)
        assert lines[0] == "unpack ok" and lines[1].startswith("ng "), lines
    refs = http.get(f"/api/models/{repo_id}/refs").json()
    assert [b["name"] for b in refs["branches"]] == ["main"]


def test_missing_objects(http, hub, repo_id):
    before = head(http, hub, repo_id)
    missing_blob = "1" * 40
    t = tree([("100644", "ghost.txt", missing_blob)])
    c = commit(oid("tree", t), [before])
    r = push(http, hub, repo_id, [(before, oid("commit", c), "refs/heads/main")], pack([("tree", t), ("commit", c)]))
    lines = report(r)
    assert lines[1].startswith("ng refs/heads/main") and "missing object" in lines[1], lines
    # A ref pointing at nothing at all.
    r = push(http, hub, repo_id, [(ZERO, "2" * 40, "refs/heads/nothing")], pack([("blob", b"z")]))
    assert report(r)[1].startswith("ng refs/heads/nothing")
    assert head(http, hub, repo_id) == before


def test_invalid_objects(http, hub, repo_id):
    before = head(http, hub, repo_id)
    blob = b"evil\n"
    for name in (".git", "..", "a/b"):
        t = tree([("100644", name, oid("blob", blob))])
        c = commit(oid("tree", t), [before])
        r = push(http, hub, repo_id, [(before, oid("commit", c), "refs/heads/main")], pack([("blob", blob), ("tree", t), ("commit", c)]))
        assert report(r)[0] != "unpack ok"
    c = b"this is not a commit"
    r = push(http, hub, repo_id, [(before, oid("commit", c), "refs/heads/main")], pack([("commit", c)]))
    assert report(r)[0] != "unpack ok"
    assert head(http, hub, repo_id) == before


def test_lfs_pointer_to_missing_object(http, hub, repo_id):
    before = head(http, hub, repo_id)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{'c' * 64}\nsize 12345\n".encode()
    objs, cid = new_commit_objects(before, name="w.bin", content=pointer)
    lines = report(push(http, hub, repo_id, [(before, cid, "refs/heads/main")], pack(objs)))
    assert lines[0].startswith("unpack ") and "LFS object" in lines[0]
    assert head(http, hub, repo_id) == before


def test_stale_old_value(http, hub, repo_id):
    before = head(http, hub, repo_id)
    objs, cid = new_commit_objects(before)
    lines = report(push(http, hub, repo_id, [("3" * 40, cid, "refs/heads/main")], pack(objs)))
    assert lines[1].startswith("ng refs/heads/main") and "fetch first" in lines[1]
    assert head(http, hub, repo_id) == before


def test_push_needs_write_access(http, hub, repo_id):
    before = head(http, hub, repo_id)
    objs, cid = new_commit_objects(before)
    r = push(http, hub, repo_id, [(before, cid, "refs/heads/main")], pack(objs), who="bob")
    assert r.status_code == 403
    r = http.post(f"/{repo_id}.git/git-receive-pack", content=b"0000")
    assert r.status_code == 401 and "basic" in r.headers["www-authenticate"].lower()
    r = http.get(f"/{repo_id}.git/info/refs?service=git-receive-pack")
    assert r.status_code == 401
    assert head(http, hub, repo_id) == before


def test_upload_pack_bad_requests(http, hub, repo_id):
    v2 = {"git-protocol": "version=2"}
    body = pkt("command=fetch\n") + b"0001" + pkt(f"want {'4' * 40}\n") + pkt("done\n") + b"0000"
    r = http.post(f"/{repo_id}.git/git-upload-pack", content=body, headers=v2)
    assert r.status_code == 400 and "not our ref" in r.headers["x-error-message"]
    body = pkt("command=explode\n") + b"0000"
    assert http.post(f"/{repo_id}.git/git-upload-pack", content=body, headers=v2).status_code == 400
    body = pkt("command=fetch\n") + b"0001" + pkt("want nothex\n") + b"0000"
    assert http.post(f"/{repo_id}.git/git-upload-pack", content=body, headers=v2).status_code == 400
    assert http.get(f"/{repo_id}.git/info/refs").status_code == 403  # dumb protocol
    assert http.get(f"/{repo_id}.git/info/refs?service=git-upload-pack").headers["content-type"] == "application/x-git-upload-pack-advertisement"
