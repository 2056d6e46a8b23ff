"""Xet: the unmodified huggingface_hub 2.4.0 + hf_xet 1.8.0, with its defaults.

The rest of the suite runs with HF_HUB_DISABLE_XET=1 (set for this pytest process); here every
client runs in a process of its own without it, as a user's would, with an HF_HOME of its own
(so dedup comes from the hub, not from a local cache).
"""
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import httpx2
import pytest

from conftest import KOHAKU, S3_ENDPOINT, auth, own_hub

# Its GC test runs hub-wide gc and fsck: a hub of this module's own keeps them small.
hub = own_hub()

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "xet")
FIXTURE_XORB = "c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324"
FIXTURE_SHA256 = hashlib.sha256(bytes((i * 7 + i // 4096) % 251 for i in range(300_000))).hexdigest()


def xet_env(hub, home=None):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env["HF_HOME"] = home or tempfile.mkdtemp(prefix="kohaku-xet-home-")
    env["HF_ENDPOINT"] = hub.endpoint
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    return env


def client(hub, code, token, **kw):
    """Run `code` in a fresh Python with Xet on; `api` is an HfApi for the hub."""
    prelude = textwrap.dedent(
        f"""
        import os, sys, json, hashlib
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download, constants
        assert not constants.HF_HUB_DISABLE_XET
        import hf_xet  # the default client has it
        api = HfApi(endpoint={hub.endpoint!r}, token={token!r})
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        env=xet_env(hub, kw.get("home")),
        capture_output=True,
        text=True,
        timeout=900,
        cwd=kw.get("cwd"),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def served(hub, path_part):
    """How many requests the hub logged whose path contains `path_part`."""
    return open(os.path.join(hub.data_dir, "serve.log")).read().count(f"path={path_part}")


def received_xorb_bytes(hub):
    """Bytes of xorb data the hub has received so far (its log says each xorb's)."""
    log = open(os.path.join(hub.data_dir, "serve.log")).read()
    return sum(int(m) for m in re.findall(r"xorb received.*?received_bytes=(\d+)", log))


def pattern(n, seed=0):
    return bytes((i * 7 + i // 4096 + seed) % 251 for i in range(n))


def xorb_rows(hub):
    return {h: n for h, n in hub.sql("SELECT hash, stored_bytes FROM xet_xorbs")}


def test_upload_and_download_with_default_client(hub, tmp_path):
    token = hub.tokens["alice"]
    rid = f"alice/xet-{uuid.uuid4().hex[:8]}"
    data = os.urandom(3_000_000) + pattern(2_500_000)
    (tmp_path / "w.bin").write_bytes(data)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.safetensors").write_bytes(os.urandom(1_500_000))
    (folder / "sub" / "b.bin").write_bytes(pattern(2_000_000, seed=3))
    (folder / "config.json").write_text('{"x": 1}')
    before = served(hub, "/api/xet/v1/xorbs/")
    out = client(
        hub,
        f"""
        api.create_repo({rid!r})
        info = api.upload_file(path_or_fileobj={str(tmp_path / 'w.bin')!r}, path_in_repo="w.bin", repo_id={rid!r})
        api.upload_folder(folder_path={str(folder)!r}, repo_id={rid!r})
        print(json.dumps({{"oid": info.oid}}))
        """,
        token,
    )
    assert json.loads(out.splitlines()[-1])["oid"]
    assert served(hub, "/api/xet/v1/xorbs/") > before, "the upload went through the CAS"
    assert served(hub, "/api/xet/v2/shards") >= 1

    # An ordinary LFS file for every other path: commit line, resolve, Range, tree, git lfs.
    h = {"authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=hub.endpoint, timeout=120) as http:
        head = http.head(f"/{rid}/resolve/main/w.bin", headers=h)
        assert head.status_code in (200, 302), head.text
        xet_hash = head.headers["x-xet-hash"]
        assert len(xet_hash) == 64
        assert "xet-read-token" in head.headers["x-xet-refresh-route"]
        assert head.headers["x-linked-size"] == str(len(data))
        assert head.headers["etag"].strip('"') == hashlib.sha256(data).hexdigest()
        full = http.get(f"/{rid}/resolve/main/w.bin", headers=h)
        assert full.status_code == 200 and full.content == data
        part = http.get(f"/{rid}/resolve/main/w.bin", headers={**h, "range": "bytes=2999000-3100999"})
        assert part.status_code == 206 and part.content == data[2_999_000:3_101_000]
        tail = http.get(f"/{rid}/resolve/main/w.bin", headers={**h, "range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        tree = http.get(f"/api/models/{rid}/tree/main", params={"recursive": "true"}, headers=h).json()
        entries = {e["path"]: e for e in tree}
        assert entries["w.bin"]["xetHash"] == xet_hash
        assert entries["w.bin"]["lfs"]["oid"] == hashlib.sha256(data).hexdigest()
        assert entries["sub/b.bin"]["xetHash"] and "xetHash" not in entries["config.json"]
        infos = http.post(
            f"/api/models/{rid}/paths-info/main", data={"paths": ["a.safetensors"], "expand": "false"}, headers=h
        ).json()
        assert infos[0]["xetHash"] and infos[0]["lfs"]["size"] == 1_500_000

    # Downloads with the default client go through the CAS (reconstruction + xorb ranges).
    recon = served(hub, "/api/xet/v2/reconstructions/")
    out = client(
        hub,
        f"""
        p = hf_hub_download({rid!r}, "w.bin")
        snap = snapshot_download({rid!r})
        print(json.dumps({{"w": hashlib.sha256(open(p, "rb").read()).hexdigest(),
                           "b": hashlib.sha256(open(os.path.join(snap, "sub", "b.bin"), "rb").read()).hexdigest(),
                           "a": hashlib.sha256(open(os.path.join(snap, "a.safetensors"), "rb").read()).hexdigest(),
                           "c": open(os.path.join(snap, "config.json")).read()}}))
        """,
        token,
    )
    got = json.loads(out.splitlines()[-1])
    assert got["w"] == hashlib.sha256(data).hexdigest()
    assert got["b"] == hashlib.sha256(pattern(2_000_000, seed=3)).hexdigest()
    assert got["a"] == hashlib.sha256((folder / "a.safetensors").read_bytes()).hexdigest()
    assert got["c"] == '{"x": 1}'
    assert served(hub, "/api/xet/v2/reconstructions/") >= recon + 3

    # git lfs: the object is rebuilt by the hub.
    dest = tmp_path / "clone"
    url = f"http://alice:{token}@127.0.0.1:{hub.port}/{rid}"
    subprocess.run(["git", "lfs", "install", "--skip-repo"], check=True, capture_output=True)
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True, capture_output=True, timeout=300)
    assert (dest / "w.bin").read_bytes() == data
    assert (dest / "sub" / "b.bin").read_bytes() == pattern(2_000_000, seed=3)


def test_hf_cli_upload_and_download(hub, tmp_path):
    token = hub.tokens["alice"]
    rid = f"alice/xetcli-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(os.urandom(4_000_000))
    env = {**xet_env(hub), "HF_TOKEN": token}
    env.pop("HF_HUB_DISABLE_IMPLICIT_TOKEN", None)
    hf = os.path.join(os.path.dirname(sys.executable), "hf")
    for args in (["repos", "create", rid], ["upload", rid, str(src), "."], ["download", rid, "--local-dir", str(tmp_path / "dl")]):
        r = subprocess.run([hf, *args], env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "dl" / "model.bin").read_bytes() == (src / "model.bin").read_bytes()
    assert hub.sql(
        "SELECT COUNT(*) FROM lfs_objects WHERE oid = ? AND xet_hash IS NOT NULL",
        hashlib.sha256((src / "model.bin").read_bytes()).hexdigest(),
    )[0][0] == 1


def test_near_duplicate_upload_sends_and_stores_only_the_change(hub, tmp_path):
    token = hub.tokens["alice"]
    rid = f"alice/dedup-{uuid.uuid4().hex[:8]}"
    size = 200 << 20
    base = tmp_path / "base.bin"
    with open(base, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    changed = tmp_path / "tuned.bin"
    shutil.copy(base, changed)
    with open(changed, "r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(1 << 20))
    client(hub, f"api.create_repo({rid!r}); api.upload_file(path_or_fileobj={str(base)!r}, path_in_repo='base.bin', repo_id={rid!r})", token)
    after_base = xorb_rows(hub)
    received_before = received_xorb_bytes(hub)
    assert received_before >= size, "the base file was sent whole"
    rid_used = hub.sql("SELECT used_bytes FROM repos WHERE namespace = 'alice' AND name = ?", rid.split("/")[1])[0][0]
    # The repository may grow by 16 MB only: the near-duplicate fits, counted after dedup.
    hub.cli("quota", "set-repo", f"model/{rid}", str(rid_used + (16 << 20)))
    # A fresh client (no local cache): only what the hub's dedup answers tells it.
    client(hub, f"api.upload_file(path_or_fileobj={str(changed)!r}, path_in_repo='tuned.bin', repo_id={rid!r})", token)
    after = xorb_rows(hub)
    new = {h: n for h, n in after.items() if h not in after_base}
    stored = sum(new.values())
    received = received_xorb_bytes(hub) - received_before
    print(f"near-duplicate upload: {received} bytes received, {stored} stored, for a {size}-byte file", file=sys.stderr)
    assert 0 < received < 6 << 20, received
    assert 0 < stored < 6 << 20, stored
    # Quota counts stored bytes after dedup: the second file added only its new xorbs.
    used = hub.sql("SELECT used_bytes FROM repos WHERE namespace = 'alice' AND name = ?", rid.split("/")[1])[0][0]
    assert rid_used >= size and used - rid_used < 8 << 20, (rid_used, used)
    # 20 MB of new bytes do not fit: refused at the commit, nothing committed.
    (tmp_path / "new.bin").write_bytes(os.urandom(20 << 20))
    out = client(
        hub,
        f"""
        from huggingface_hub.errors import HfHubHTTPError
        try:
            api.upload_file(path_or_fileobj={str(tmp_path / 'new.bin')!r}, path_in_repo='new.bin', repo_id={rid!r})
            print("status 200")
        except HfHubHTTPError as e:
            print("status", e.response.status_code, str(e).replace(chr(10), " "))
        """,
        token,
    )
    assert "status 413" in out and "Quota exceeded" in out, out
    from huggingface_hub import HfApi

    assert "new.bin" not in HfApi(endpoint=hub.endpoint, token=token).list_repo_files(rid)
    hub.cli("quota", "set-repo", f"model/{rid}", "unlimited")
    out = client(
        hub,
        f"""
        for f in ("base.bin", "tuned.bin"):
            h = hashlib.sha256()
            with open(hf_hub_download({rid!r}, f), "rb") as fh:
                for b in iter(lambda: fh.read(1 << 20), b""):
                    h.update(b)
            print(f, h.hexdigest())
        """,
        token,
    )

    def sha(p):
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for b in iter(lambda: fh.read(1 << 20), b""):
                h.update(b)
        return h.hexdigest()

    assert f"base.bin {sha(base)}" in out and f"tuned.bin {sha(changed)}" in out


def cas_token(hub, rid, who="alice", kind="write"):
    r = httpx2.get(f"{hub.endpoint}/api/models/{rid}/xet-{kind}-token/main", headers=auth(hub, who), timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["casUrl"] == r.headers["x-xet-cas-url"] == f"{hub.endpoint}/api/xet"
    assert body["accessToken"] == r.headers["x-xet-access-token"]
    assert int(r.headers["x-xet-token-expiration"]) == body["exp"] > time.time()
    return body["accessToken"]


def forge(hub, token, **change):
    """Re-sign `token` with changed claims using the hub's key (what only the hub can do)."""
    key = bytes.fromhex(hub.sql("SELECT value FROM server_settings WHERE key = 'url_signing_key'")[0][0])
    version, repo, user, scope, exp, _ = token.split(".")
    claims = {"repo": repo, "user": user, "scope": scope, "exp": exp, **change}
    body = f"{version}.{claims['repo']}.{claims['user']}.{claims['scope']}.{claims['exp']}"
    sig = hmac.new(key, b"kohaku-xet-cas-v1\n" + body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{sig}"


def test_bad_xorbs_shards_and_tokens_change_nothing(hub, api, bob_api, tmp_path):
    from test_bad_input import HEADER, assert_error, ndjson

    rid = f"alice/xetbad-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    write = cas_token(hub, rid)
    read = cas_token(hub, rid, kind="read")
    cas = f"{hub.endpoint}/api/xet"
    xorb = open(os.path.join(FIXTURES, FIXTURE_XORB + ".xorb"), "rb").read()
    shard = open(os.path.join(FIXTURES, "upload.shard"), "rb").read()
    bearer = lambda t: {"authorization": f"Bearer {t}"}  # noqa: E731
    with httpx2.Client(timeout=120) as http:
        post_xorb = lambda body, t=write, h=FIXTURE_XORB: http.post(f"{cas}/v1/xorbs/default/{h}", content=body, headers=bearer(t))  # noqa: E731
        stored = lambda: http.head(f"{cas}/v1/xorbs/default/{FIXTURE_XORB}", headers=bearer(read)).status_code  # noqa: E731
        # Tokens: none, garbage, expired, claims changed without the key, read-only for a write.
        assert_error(http.post(f"{cas}/v1/xorbs/default/{FIXTURE_XORB}", content=xorb), 401)
        assert_error(post_xorb(xorb, t="xet1.garbage"), 401)
        assert_error(post_xorb(xorb, t=forge(hub, write, exp=str(int(time.time()) - 5))), 401)
        assert_error(post_xorb(xorb, t=write.replace(".w.", ".r.")), 401)
        assert_error(post_xorb(xorb, t=read), 403)
        assert_error(post_xorb(xorb, t=hub.tokens["alice"]), 401)  # a Hub token is not a CAS token
        # A shard naming a xorb the hub does not have.
        assert_error(http.post(f"{cas}/v2/shards", content=shard, headers=bearer(write)), 400)
        # Truncated, misaddressed, bit-flipped, malformed hash, oversized.
        assert_error(post_xorb(xorb[: len(xorb) // 2]), 400)
        assert_error(post_xorb(xorb, h="ab" * 32), 400)
        flipped = bytearray(xorb)
        flipped[len(flipped) // 3] ^= 0xFF
        assert_error(post_xorb(bytes(flipped)), 400)
        assert_error(post_xorb(xorb, h="nothex"), 400)
        assert_error(post_xorb(b"\0" * (90 << 20)), 413)  # declared too large
        assert_error(post_xorb(b"\0" * 4096), 400)  # empty chunks
        assert stored() == 404, "nothing stored"
        assert hub.sql("SELECT COUNT(*) FROM xet_xorbs WHERE hash = ?", FIXTURE_XORB)[0][0] == 0

        r = post_xorb(xorb)
        assert r.status_code == 200 and r.json() == {"was_inserted": True}
        assert post_xorb(xorb).json() == {"was_inserted": False}
        assert stored() == 200
        grant = http.post(f"{cas}/v1/xorb-grants/default/{FIXTURE_XORB}", json={"length": 1}, headers=bearer(write))
        assert grant.status_code == 200  # already stored: the client skips it

        # A shard whose file claims a sha256 its chunks do not rebuild to.
        sha_raw = bytes.fromhex(FIXTURE_SHA256)
        at = shard.find(sha_raw)
        if at < 0:  # stored as four little-endian words
            sha_raw = b"".join(sha_raw[i : i + 8][::-1] for i in range(0, 32, 8))
            at = shard.find(sha_raw)
        assert at >= 0
        forged = bytearray(shard)
        forged[at] ^= 0x01
        r = http.post(f"{cas}/v2/shards", content=bytes(forged), headers=bearer(write))
        assert_error(r, 400)
        assert "sha256" in r.json()["error"]
        assert hub.sql("SELECT COUNT(*) FROM xet_files")[0][0] >= 0
        assert hub.sql("SELECT COUNT(*) FROM lfs_objects WHERE oid = ?", FIXTURE_SHA256)[0][0] == 0
        assert_error(http.post(f"{cas}/v2/shards", content=shard[:-40], headers=bearer(write)), 400)
        assert_error(http.post(f"{cas}/v2/shards", content=b"not a shard", headers=bearer(write)), 400)
        assert hub.sql("SELECT COUNT(*) FROM lfs_objects WHERE oid = ?", FIXTURE_SHA256)[0][0] == 0

        # The real shard registers the file; the uploader may then commit it as an LFS file.
        r = http.post(f"{cas}/v2/shards", content=shard, headers=bearer(write))
        assert r.status_code == 200 and json.loads(r.text.splitlines()[-1]) == {"type": "result"}, r.text
        file_hash = hub.sql("SELECT xet_hash FROM lfs_objects WHERE oid = ?", FIXTURE_SHA256)[0][0]
        # Its dedup sample now finds the xorb (for uploaders only).
        chunk = hub.sql("SELECT chunk_hash FROM xet_dedup_entries WHERE shard_key = ?", hashlib.sha256(shard).hexdigest())[0][0]
        found = http.get(f"{cas}/v1/chunks/default/{chunk}", headers=bearer(write))
        assert found.status_code == 200 and len(found.content) > 0
        assert_error(http.get(f"{cas}/v1/chunks/default/{chunk}", headers=bearer(read)), 403)
        assert_error(http.get(f"{cas}/v1/chunks/default/{'0' * 64}", headers=bearer(write)), 404)
        assert_error(http.get(f"{cas}/v1/chunks/default/xyz", headers=bearer(write)), 400)
        body = ndjson(HEADER, {"key": "lfsFile", "value": {"path": "p.bin", "algo": "sha256", "oid": FIXTURE_SHA256, "size": 300_000}})
        # Bob (no upload, no access) cannot commit it into his repo by knowing the sha256.
        bob_rid = f"bob/xetbob-{uuid.uuid4().hex[:8]}"
        bob_api.create_repo(bob_rid)
        r = http.post(f"{hub.endpoint}/api/models/{bob_rid}/commit/main", content=body, headers={**auth(hub, "bob"), "content-type": "application/x-ndjson"})
        assert r.status_code >= 400
        r = http.post(f"{hub.endpoint}/api/models/{rid}/commit/main", content=body, headers={**auth(hub), "content-type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        got = http.get(f"{hub.endpoint}/{rid}/resolve/main/p.bin", headers=auth(hub))
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == FIXTURE_SHA256

        # Reconstruction: only with a token of a repository holding the file.
        ok = http.get(f"{cas}/v2/reconstructions/{file_hash}", headers=bearer(read))
        assert ok.status_code == 200 and ok.json()["terms"][0]["hash"] == FIXTURE_XORB
        ranged = http.get(f"{cas}/v1/reconstructions/{file_hash}", headers={**bearer(read), "range": "bytes=100000-100099"})
        assert ranged.status_code == 200 and ranged.json()["fetch_info"]
        assert_error(http.get(f"{cas}/v2/reconstructions/{file_hash}", headers={**bearer(read), "range": "bytes=300000-300010"}), 416)
        other = f"alice/xetother-{uuid.uuid4().hex[:8]}"
        api.create_repo(other)
        assert_error(http.get(f"{cas}/v2/reconstructions/{file_hash}", headers=bearer(cas_token(hub, other, kind="read"))), 404)
        assert_error(http.get(f"{cas}/v2/reconstructions/{file_hash}", headers=bearer(forge(hub, read, repo="999999"))), 404)
        # A private repository: no token at all for who cannot read it.
        api.update_repo_settings(rid, private=True)
        assert_error(httpx2.get(f"{hub.endpoint}/api/models/{rid}/xet-read-token/main", headers=auth(hub, "bob")), 404)
        assert_error(httpx2.get(f"{hub.endpoint}/api/models/{rid}/xet-read-token/main"), 404)
        assert_error(httpx2.get(f"{hub.endpoint}/api/models/{rid}/xet-write-token/main", headers=auth(hub, "alice_ro")), 403)
        # Signed xorb range URLs: a changed hash or signature is refused.
        url = ok.json()["xorbs"][FIXTURE_XORB][0]["url"]
        if not S3_ENDPOINT:
            assert http.get(url, headers={"range": "bytes=0-99"}).status_code == 206
            assert_error(http.get(url.replace("sig=", "sig=0"), headers={"range": "bytes=0-99"}), 403)


def kohaku(hub, *args):
    """The CLI without conftest's 60 s limit: a hub-wide gc walks every repository and object of
    the whole session (about a minute in S3 mode on this machine)."""
    return subprocess.run([KOHAKU, *args], env=hub.env, capture_output=True, text=True, timeout=900)


def test_gc_keeps_xorbs_a_kept_file_needs(hub, tmp_path):
    token = hub.tokens["alice"]
    one, two = (f"alice/xetgc{i}-{uuid.uuid4().hex[:8]}" for i in (1, 2))
    base = os.urandom(6 << 20)
    tuned = base[: 3 << 20] + os.urandom(300_000) + base[(3 << 20) + 300_000 :]
    (tmp_path / "base.bin").write_bytes(base)
    (tmp_path / "tuned.bin").write_bytes(tuned)
    before = set(xorb_rows(hub))
    home = tempfile.mkdtemp(prefix="kohaku-xet-home-")
    client(hub, f"api.create_repo({one!r}); api.upload_file(path_or_fileobj={str(tmp_path / 'base.bin')!r}, path_in_repo='m.bin', repo_id={one!r})", token, home=home)
    client(hub, f"api.create_repo({two!r}); api.upload_file(path_or_fileobj={str(tmp_path / 'tuned.bin')!r}, path_in_repo='m.bin', repo_id={two!r})", token, home=home)
    ours = set(xorb_rows(hub)) - before
    assert len(ours) >= 2
    tuned_xorbs = {
        x for (x,) in hub.sql(
            "SELECT u.xorb_hash FROM xet_file_xorbs u JOIN lfs_objects o ON o.xet_hash = u.file_hash WHERE o.oid = ?",
            hashlib.sha256(tuned).hexdigest(),
        )
    }
    assert len(tuned_xorbs & ours) >= 2, "the tuned file reuses the base's xorb"
    from huggingface_hub import HfApi

    HfApi(endpoint=hub.endpoint, token=token).delete_repo(one)
    r = kohaku(hub, "gc", "--yes", "--json", "--grace", "0s")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    left = set(xorb_rows(hub))
    assert tuned_xorbs <= left, "xorbs the kept file needs stay"
    assert not ((ours - tuned_xorbs) & left), "xorbs only the deleted file used are gone"
    assert rep["xet_xorbs"]["objects"] >= len(ours - tuned_xorbs)
    with httpx2.Client(timeout=120) as http:
        got = http.get(f"{hub.endpoint}/{two}/resolve/main/m.bin", headers=auth(hub))
        assert got.status_code == 200 and got.content == tuned
    HfApi(endpoint=hub.endpoint, token=token).delete_repo(two)
    r = kohaku(hub, "gc", "--yes", "--json", "--grace", "0s")
    assert r.returncode == 0, r.stderr
    assert not (ours & set(xorb_rows(hub))), "no file needs them any more"
    assert hub.sql("SELECT COUNT(*) FROM xet_files WHERE file_hash NOT IN (SELECT xet_hash FROM lfs_objects WHERE xet_hash IS NOT NULL)")[0][0] == 0
    r = kohaku(hub, "fsck", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
