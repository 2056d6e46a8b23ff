"""Xet: a user learns nothing of chunks it may not read (issue 13, item 1).

The chain a security review ran: alice uploads `known.bin` and `secret.bin` to a private repo
in one commit (one xorb holds both); bob uploads the same `known.bin` to his own repo with the
stock client; then, as an attacker would, bob asks every CAS question he can and posts
hand-made shards that name the rest of the shared xorb, learning from each refusal what to fix.
No byte of `secret.bin`, no chunk hash of it, and nothing the hub computed from it may come
back; bob's own file still uploads and downloads with the stock client.
"""
import hashlib
import json
import os
import re
import struct
import uuid

import httpx2

from conftest import auth
from test_bad_input import HEADER, ndjson
from test_xet import cas_token, client

SHARD_TAG = b"HFRepoMetaData\x00UigEj{\x81W\x83\xa5\xbd\xd9\\\xcd\xd1J\xa9"
BOOKEND = b"\xff" * 32


def raw(h):
    """A Xet hash as hex → its 32 stored bytes (four little-endian words)."""
    b = bytes.fromhex(h)
    return b"".join(b[i : i + 8][::-1] for i in range(0, 32, 8))


def hexof(b):
    return b"".join(b[i : i + 8][::-1] for i in range(0, 32, 8)).hex()


def make_shard(file_hash, sha256, segments, before=()):
    """A shard with one file (`segments`: (xorb, chunk_start, chunk_end, bytes)) and its sha256,
    after the files of `before` ((file_hash, sha256, segments) each), laid out as hf_xet writes
    them (no xorb sections, no footer)."""
    out = SHARD_TAG + struct.pack("<QQ", 2, 0)
    for fh, sha, segs in [*before, (file_hash, sha256, segments)]:
        out += raw(fh) + struct.pack("<IIQ", 1 << 30, len(segs), 0)
        for xorb, start, end, n in segs:
            out += raw(xorb) + struct.pack("<IIII", 0, n, start, end)
        out += raw(sha) + b"\0" * 16
    out += BOOKEND + struct.pack("<IIQ", 0, 0, 0)
    out += BOOKEND + struct.pack("<IIII", 0, 0, 0, 0)
    return out


def parse_shard(data):
    """({sha256: [(xorb, chunk_start, chunk_end)]}, {xorb: [chunk hashes]}) of a stored shard."""
    o = 48
    files = {}
    while True:
        h = data[o : o + 32]
        flags, n, _ = struct.unpack("<IIQ", data[o + 32 : o + 48])
        o += 48
        if h == BOOKEND:
            break
        segs = []
        for i in range(n):
            e = data[o + 48 * i : o + 48 * i + 48]
            _, _, start, end = struct.unpack("<IIII", e[32:48])
            segs.append((hexof(e[:32]), start, end))
        o += 48 * n
        o += 48 * n if flags & (1 << 31) else 0
        if flags & (1 << 30):
            files[hexof(data[o : o + 32])] = segs
            o += 48
    xorbs = {}
    while o + 48 <= len(data):
        h = data[o : o + 32]
        _, n, _, _ = struct.unpack("<IIII", data[o + 32 : o + 48])
        o += 48
        if h == BOOKEND:
            break
        xorbs[hexof(h)] = [hexof(data[o + 48 * i : o + 48 * i + 32]) for i in range(n)]
        o += 48 * n
    return files, xorbs


def stored_shards(hub):
    root = os.path.join(hub.storage_dir, "xet", "shards")
    out = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            out.append(open(os.path.join(dirpath, f), "rb").read())
    return out


def upload_private(hub, tmp_path, rid, files):
    """alice creates private `rid` and uploads `files` ({name: bytes}) in one commit with the
    stock client (one Xet session, so their chunks share xorbs)."""
    folder = tmp_path / "alice"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    client(
        hub,
        f"""
        api.create_repo({rid!r}, private=True)
        api.upload_folder(folder_path={str(folder)!r}, repo_id={rid!r})
        """,
        hub.tokens["alice"],
    )


def test_a_shared_xorb_reveals_nothing_of_a_private_file(hub, api, bob_api, tmp_path):
    known = os.urandom(3_000_000)
    secret = os.urandom(2_000_000)
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    samples = [secret[i : i + 24] for i in range(0, len(secret) - 24, len(secret) // 97)]

    def leaks(body):
        return any(s in body for s in samples)

    # 1. alice: both files in one commit to a private repo (the stock client, one session).
    private = f"alice/private-{uuid.uuid4().hex[:8]}"
    upload_private(hub, tmp_path, private, {"known.bin": known, "secret.bin": secret})
    rows = hub.sql("SELECT f.sha256, u.xorb_hash FROM xet_files f JOIN xet_file_xorbs u ON u.file_hash = f.file_hash")
    shared = {x for s, x in rows if s == sha(known)} & {x for s, x in rows if s == sha(secret)}
    assert shared, "precondition: one xorb holds chunks of both files"
    secret_chunks = set()
    for data in stored_shards(hub):
        files, xorbs = parse_shard(data)
        for x, start, end in files.get(sha(secret), []):
            secret_chunks.update(xorbs.get(x, [])[start:end])
    assert secret_chunks, "precondition: alice's shard lists secret.bin's chunks"

    # 2. bob uploads the same known.bin to his own repo with the stock client.
    mine = f"bob/mine-{uuid.uuid4().hex[:8]}"
    (tmp_path / "known.bin").write_bytes(known)
    client(
        hub,
        f"""
        api.create_repo({mine!r})
        api.upload_file(path_or_fileobj={str(tmp_path / 'known.bin')!r}, path_in_repo="known.bin", repo_id={mine!r})
        """,
        hub.tokens["bob"],
    )
    bearer = lambda t: {"authorization": f"Bearer {t}"}  # noqa: E731
    cas = f"{hub.endpoint}/api/xet"
    write = cas_token(hub, mine, "bob", "write")
    read = cas_token(hub, mine, "bob", "read")
    sent_hashes = set()  # every hash bob puts in a request: the hub may echo those only

    def learned(text):
        """Hashes in an answer that bob did not send himself."""
        return {h for h in re.findall(r"[0-9a-f]{64}", text)} - sent_hashes - {sha(known)}

    with httpx2.Client(timeout=120) as http:
        # 3a. Dedup: bob asks for every chunk of secret.bin (as if he had guessed them).
        for c in sorted(secret_chunks)[:64]:
            r = http.get(f"{cas}/v1/chunks/default/{c}", headers=bearer(write))
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                for x in shared:
                    assert raw(x) not in r.content, "a dedup answer named the shared xorb"
                for s in secret_chunks:
                    assert raw(s) not in r.content, "a dedup answer listed a chunk of another user's xorb"
        # 3b. "Already stored?" answers the same as for a xorb nobody has.
        for x in shared:
            sent_hashes.add(x)
            nobody = "ab" * 32
            for path in ("xorb-grants", "xorbs"):
                method = http.post if path == "xorb-grants" else http.head
                kw = {"json": {"length": 1}} if path == "xorb-grants" else {}
                a = method(f"{cas}/v1/{path}/default/{x}", headers=bearer(write), **kw)
                b = method(f"{cas}/v1/{path}/default/{nobody}", headers=bearer(write), **kw)
                assert a.status_code == b.status_code == 404, (path, a.status_code, b.status_code)

        # 3c. bob's own reconstruction, and every byte its URLs give, however asked.
        info = http.post(
            f"{hub.endpoint}/api/models/{mine}/paths-info/main", data={"paths": ["known.bin"]}, headers=auth(hub, "bob")
        ).json()
        file_hash = info[0]["xetHash"]
        sent_hashes.add(file_hash)
        rec = http.get(f"{cas}/v2/reconstructions/{file_hash}", headers=bearer(read))
        assert rec.status_code == 200, rec.text
        recon = rec.json()
        terms = [(t["hash"], t["range"]["start"], t["range"]["end"]) for t in recon["terms"]]
        # known.bin as bob may describe it (he can read it): a first file that a shard may
        # carry to make the rest of its xorb look readable.
        known_file = (
            file_hash,
            sha(known),
            [(t["hash"], t["range"]["start"], t["range"]["end"], t["unpacked_length"]) for t in recon["terms"]],
        )
        for x, fetches in recon["xorbs"].items():
            sent_hashes.add(x)
            for f in fetches:
                for rng in (None, "bytes=0-", "bytes=0-100000000", f"bytes={f['ranges'][0]['bytes']['end'] + 1}-"):
                    r = http.get(f["url"], headers={"range": rng} if rng else {})
                    assert not leaks(r.content), f"xorb URL gave secret bytes for range {rng}"
                    if r.status_code in (200, 206):
                        b = f["ranges"][0]["bytes"]
                        assert len(r.content) <= b["end"] - b["start"] + 1, "more than the granted range"

        # 4. Hand-made shards naming the chunks around known.bin's in each xorb bob was shown,
        # fixed up from each refusal as far as the refusals allow.
        landed = None
        attempts = [(x, lo, hi, before) for x, start, end in terms for lo, hi in ((end, 1 << 20), (0, start)) for before in ((), (known_file,)) if hi > lo]
        assert attempts
        for x, lo, hi, before in attempts:
            seg = [x, lo, hi, 1]
            fh, claimed = "00" * 32, "11" * 32
            for _ in range(8):
                sent_hashes.update({fh, claimed, x})
                r = http.post(f"{cas}/v2/shards", content=make_shard(fh, claimed, [tuple(seg)], before), headers=bearer(write))
                if r.status_code == 200:
                    landed = claimed
                    break
                assert r.status_code == 400, r.text
                msg = r.json()["error"]
                assert not learned(msg), f"a refusal told bob a hash computed from others' content: {msg}"
                assert not re.search(r"\(\d+ chunks\)|chunks hold \d+", msg), f"a refusal told bob a count or size: {msg}"
                assert not leaks(r.content)
                m = re.search(r"\((\d+) chunks\)", msg)
                if m and seg[2] != int(m.group(1)):
                    seg[2] = int(m.group(1))
                    continue
                m = re.search(r"its chunks hold (\d+)", msg)
                if m and seg[3] != int(m.group(1)):
                    seg[3] = int(m.group(1))
                    continue
                m = re.search(r"hash to ([0-9a-f]{64})", msg)
                if m and fh != m.group(1):
                    fh = m.group(1)
                    continue
                m = re.search(r"sha256 ([0-9a-f]{64}), not", msg)
                if m and claimed != m.group(1):
                    claimed = m.group(1)
                    continue
                break
            if landed:
                break
        assert landed is None, "a hand-made shard registered a file from another user's chunks"

        # 5. Whatever he learned, bob cannot commit the secret by its sha256 nor read it.
        body = ndjson(
            HEADER, {"key": "lfsFile", "value": {"path": "s.bin", "algo": "sha256", "oid": sha(secret), "size": len(secret)}}
        )
        r = http.post(
            f"{hub.endpoint}/api/models/{mine}/commit/main",
            content=body,
            headers={**auth(hub, "bob"), "content-type": "application/x-ndjson"},
        )
        assert r.status_code == 400, r.text
        got = http.get(f"{hub.endpoint}/{mine}/resolve/main/s.bin", headers=auth(hub, "bob"))
        assert got.status_code == 404 and not leaks(got.content)
        assert http.get(f"{hub.endpoint}/{private}/resolve/main/secret.bin", headers=auth(hub, "bob")).status_code == 404

    # bob's own file still downloads with the stock client (through the range-bound URLs), and
    # alice still has hers.
    out = client(
        hub,
        f"""
        from huggingface_hub import hf_hub_download
        p = hf_hub_download({mine!r}, "known.bin")
        print(hashlib.sha256(open(p, "rb").read()).hexdigest())
        """,
        hub.tokens["bob"],
    )
    assert out.split()[-1] == sha(known)
    out = client(
        hub,
        f"""
        p = hf_hub_download({private!r}, "secret.bin", token=api.token)
        print(hashlib.sha256(open(p, "rb").read()).hexdigest())
        """,
        hub.tokens["alice"],
    )
    assert out.split()[-1] == sha(secret)


def test_a_dedup_answer_never_confirms_a_chunk_bob_cannot_read(hub, api, bob_api, tmp_path):
    """alice's one upload session holds a big file she also publishes and a private one; bob may
    read every chunk of the first xorb, but asking for a chunk of the private file must still
    be answered as for a chunk nobody has."""
    big = os.urandom(72 << 20)  # hf_xet fills xorbs up to 64 MiB: this takes two
    secret = os.urandom(1_000_000)
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    private = f"alice/two-{uuid.uuid4().hex[:8]}"
    upload_private(hub, tmp_path, private, {"big.bin": big, "secret.bin": secret})
    public = f"alice/pub-{uuid.uuid4().hex[:8]}"
    api.create_repo(public)
    body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": sha(big), "size": len(big)}})
    with httpx2.Client(timeout=120) as http:
        r = http.post(
            f"{hub.endpoint}/api/models/{public}/commit/main",
            content=body,
            headers={**auth(hub), "content-type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
        readable_whole, secret_chunks, big_hashes = set(), set(), set()
        for data in stored_shards(hub):
            files, xorbs = parse_shard(data)
            if sha(secret) not in files:
                continue
            big_chunks = {(x, i) for x, a, b in files.get(sha(big), []) for i in range(a, b)}
            for x, chunks in xorbs.items():
                if all((x, i) in big_chunks for i in range(len(chunks))):
                    readable_whole.add(x)
            for x, a, b in files[sha(secret)]:
                secret_chunks.update(xorbs[x][a:b])
            for x, a, b in files.get(sha(big), []):
                big_hashes.update(xorbs[x][a:b])
        assert readable_whole and secret_chunks, "precondition: one shard, a xorb wholly of big.bin, secret chunks elsewhere"
        indexed = {c for (c,) in hub.sql("SELECT chunk_hash FROM xet_dedup_entries")} & secret_chunks
        assert indexed, "precondition: a chunk of secret.bin is in the dedup index"
        mine = f"bob/dd-{uuid.uuid4().hex[:8]}"
        bob_api.create_repo(mine)
        write = cas_token(hub, mine, "bob", "write")
        for c in indexed:
            r = http.get(f"{hub.endpoint}/api/xet/v1/chunks/default/{c}", headers={"authorization": f"Bearer {write}"})
            assert r.status_code == 404, "the answer confirmed that someone stored this chunk"
        # A chunk of big.bin itself is answered (bob may read it).
        big_indexed = {c for (c,) in hub.sql("SELECT chunk_hash FROM xet_dedup_entries")} & big_hashes - secret_chunks
        answered = [
            http.get(f"{hub.endpoint}/api/xet/v1/chunks/default/{c}", headers={"authorization": f"Bearer {write}"}).status_code
            for c in sorted(big_indexed)[:8]
        ]
        assert 200 in answered


def test_xorb_range_urls_grant_their_range_only(hub, api, tmp_path):
    """A reconstruction's xorb URL serves the term's bytes and nothing around them."""
    rid = f"alice/ranges-{uuid.uuid4().hex[:8]}"
    data = os.urandom(2_500_000)
    (tmp_path / "f.bin").write_bytes(data)
    client(
        hub,
        f"""
        api.create_repo({rid!r})
        api.upload_file(path_or_fileobj={str(tmp_path / 'f.bin')!r}, path_in_repo="f.bin", repo_id={rid!r})
        """,
        hub.tokens["alice"],
    )
    h = auth(hub)
    with httpx2.Client(timeout=120) as http:
        xh = http.head(f"{hub.endpoint}/{rid}/resolve/main/f.bin", headers=h).headers["x-xet-hash"]
        read = cas_token(hub, rid, kind="read")
        rec = http.get(
            f"{hub.endpoint}/api/xet/v2/reconstructions/{xh}",
            headers={"authorization": f"Bearer {read}", "range": "bytes=1000000-1000099"},
        ).json()
        for fetches in rec["xorbs"].values():
            for f in fetches:
                b = f["ranges"][0]["bytes"]
                if "/api/xet/xorb/" not in f["url"]:
                    continue  # a presigned bucket URL: the whole xorb is this repo's
                inside = http.get(f["url"], headers={"range": f"bytes={b['start']}-{b['end']}"})
                assert inside.status_code == 206 and len(inside.content) == b["end"] - b["start"] + 1
                before = http.get(f["url"], headers={"range": f"bytes={max(b['start'] - 1, 0)}-{b['end']}"})
                if b["start"] > 0:
                    assert before.status_code == 416, before.status_code
                after = http.get(f["url"], headers={"range": f"bytes={b['start']}-{b['end'] + 1000000}"})
                assert after.status_code == 206 and len(after.content) == b["end"] - b["start"] + 1
                forged = f["url"].replace("end=", "end=9")
                assert http.get(forged, headers={"range": f"bytes={b['start']}-{b['end']}"}).status_code == 403
