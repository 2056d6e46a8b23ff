"""Likes, download statistics, trending, and the repo/stats/db admin commands."""
import concurrent.futures
import json
import os
import sqlite3
import subprocess
import uuid

import httpx2
from huggingface_hub import HfApi, hf_hub_download, snapshot_download

from conftest import PG_URL, auth


def test_likes_paths_and_counts(hub, http, api):
    rid = f"alice/lk-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    for who in ("bob", "hubadmin", "alice"):
        r = http.post(f"/api/models/{rid}/like", headers=auth(hub, who))
        assert r.status_code == 200
    assert http.post(f"/api/models/{rid}/like", headers=auth(hub, "bob")).json()["likes_count"] == 3  # idempotent
    assert http.get(f"/api/models/{rid}/like", headers=auth(hub, "bob")).json() == {"liked": True}
    assert http.get(f"/api/models/{rid}/like").json() == {"liked": False}
    assert api.model_info(rid).likes == 3
    likers = {u.username for u in api.list_repo_likers(rid)}
    assert likers == {"alice", "bob", "hubadmin"}
    bob = HfApi(endpoint=hub.endpoint, token=hub.tokens["bob"])
    liked = bob.list_liked_repos()
    assert rid in liked.models
    bob.unlike(rid)
    assert api.model_info(rid).likes == 2
    assert rid not in bob.list_liked_repos("bob").models
    assert http.post(f"/api/models/{rid}/like").status_code == 401
    assert http.post(f"/api/models/{rid}/like", headers=auth(hub, "alice_ro")).status_code == 403
    # Private repos: invisible likes.
    priv = f"alice/lkp-{uuid.uuid4().hex[:8]}"
    api.create_repo(priv, private=True)
    http.post(f"/api/models/{priv}/like", headers=auth(hub, "alice")).raise_for_status()
    assert http.post(f"/api/models/{priv}/like", headers=auth(hub, "bob")).status_code == 404
    assert priv not in HfApi(endpoint=hub.endpoint, token=False).list_liked_repos("alice").models
    assert priv in api.list_liked_repos("alice").models


def test_likes_under_concurrency(hub, http, api):
    rid = f"alice/lkc-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    users = [f"fan{uuid.uuid4().hex[:6]}" for _ in range(8)]
    tokens = {}
    for u in users:
        hub.cli("user", "create", u, "--email", f"{u}@example.com", "--password", "a-good-password")
        tokens[u] = hub.cli("token", "create", "--user", u).stdout.strip()

    def hammer(u):
        with httpx2.Client(base_url=hub.endpoint, headers={"authorization": f"Bearer {tokens[u]}"}) as c:
            for i in range(10):
                c.post(f"/api/models/{rid}/like").raise_for_status()
                if i % 2 == 0:
                    c.delete(f"/api/models/{rid}/like").raise_for_status()
            c.post(f"/api/models/{rid}/like").raise_for_status()

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(hammer, users))
    assert api.model_info(rid).likes == 8
    assert len(list(api.list_repo_likers(rid))) == 8


def avoid_bucket_edge(margin=20):
    """Downloads count once per 15-minute bucket: keep the test inside one bucket."""
    import time

    left = 900 - time.time() % 900
    if left < margin:
        time.sleep(left + 1)


def test_download_counting_and_stats(hub, http, api, tmp_path):
    avoid_bucket_edge()
    rid = f"alice/dl-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=rid)
    api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=rid)
    # A snapshot of several files is one download; HEADs do not count.
    snapshot_download(rid, cache_dir=tmp_path / "s1", token=hub.tokens["bob"])
    assert api.model_info(rid).downloads == 1
    hf_hub_download(rid, "a.txt", cache_dir=tmp_path / "s2", token=hub.tokens["bob"], force_download=True)
    assert api.model_info(rid).downloads == 1  # same token, same 15-minute bucket
    # Another client (anonymous, new session) counts once more; its cookie keeps it one session.
    with httpx2.Client(base_url=hub.endpoint, timeout=60) as anon:
        anon.get(f"/{rid}/resolve/main/a.txt").raise_for_status()
        assert "hf_download_session" in anon.cookies
        anon.get(f"/{rid}/resolve/main/b.txt").raise_for_status()
    assert http.get(f"/api/models/{rid}/stats").json()["downloads"] == 2
    recent = http.get(f"/api/models/{rid}/stats/recent?days=7").json()
    assert len(recent["stats"]) == 7 and recent["period"]["days"] == 7
    today = recent["stats"][-1]
    assert today["downloads"] == 2 and today["authenticated"] == 1 and today["anonymous"] == 1
    assert today["files"] >= 4
    assert http.get(f"/api/models/{rid}/stats/recent?days=0").status_code == 400
    # A git clone is one download too.
    host = hub.endpoint.split("://")[1]
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1")
    subprocess.run(["git", "clone", "-q", f"http://x:{hub.tokens['hubadmin']}@{host}/{rid}", str(tmp_path / "g")], env=env, check=True)
    assert http.get(f"/api/models/{rid}/stats").json()["downloads"] == 3


def test_rollup_idempotent_and_trending(hub, http, api):
    tag = uuid.uuid4().hex[:6]
    ids = [f"alice/tr-{tag}-{i}" for i in range(3)]
    for i in ids:
        api.create_repo(i)
    priv = f"alice/tr-{tag}-priv"
    api.create_repo(priv, private=True)
    # Seed sessions directly: repo 0 gets many downloads today, repo 1 a few, repo 2 many 6 days ago.
    rows = {r: hub.sql("SELECT id FROM repos WHERE namespace || '/' || name = ?", r)[0][0] for r in ids + [priv]}
    import time

    now_bucket = int(time.time()) // 900
    def seed(repo, n, days_ago):
        for k in range(n):
            hub.sql(
                "INSERT INTO download_sessions VALUES (?, ?, ?, 0, 1, 'f', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
                rows[repo], f"seed-{tag}-{k}", now_bucket - days_ago * 96,
            )
    seed(ids[0], 30, 0)
    seed(ids[1], 5, 0)
    seed(ids[2], 40, 6)
    seed(priv, 100, 0)
    r1 = json.loads(hub.cli("stats", "rollup", "--json").stdout)
    snapshot = hub.sql("SELECT * FROM daily_repo_stats ORDER BY repo_id, date")
    r2 = json.loads(hub.cli("stats", "rollup", "--json").stdout)
    assert hub.sql("SELECT * FROM daily_repo_stats ORDER BY repo_id, date") == snapshot  # idempotent
    assert r1["days_written"] >= 3 and r2["sessions_pruned"] == 0
    week = http.get("/api/trending?repo_type=model&days=7&limit=100").json()["trending"]
    order = [t["id"] for t in week if t["id"].startswith(f"alice/tr-{tag}")]
    assert order == [ids[2], ids[0], ids[1]]  # by downloads over the period; private hidden
    today_only = [t["id"] for t in http.get("/api/trending?days=1&limit=100").json()["trending"] if t["id"].startswith(f"alice/tr-{tag}")]
    assert today_only == [ids[0], ids[1]]
    mine = [t["id"] for t in http.get("/api/trending?days=1&limit=100", headers=auth(hub, "alice")).json()["trending"]]
    assert priv in mine
    # sort=trending: decayed score (6 days ago counts 0.8^6 as much).
    listed = [m.id for m in api.list_models(search=f"tr-{tag}", sort="trending_score")]
    assert listed[:3] == [priv, ids[0], ids[1]]
    assert http.get("/api/trending?days=91").status_code == 400
    assert http.get("/api/trending?limit=101").status_code == 400
    assert [m.id for m in api.list_models(search=f"tr-{tag}", sort="likes")]  # accepted


def test_repo_admin_cli_and_backup(hub, api, tmp_path):
    rid = f"alice/cli-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"12345", path_in_repo="d.txt", repo_id=rid, repo_type="dataset")
    rows = json.loads(hub.cli("repo", "list", "--namespace", "alice", "--json").stdout)
    mine = next(r for r in rows if r["id"] == rid)
    assert mine["type"] == "dataset" and mine["files"] == 2 and mine["size_bytes"] > 5
    info = json.loads(hub.cli("repo", "info", f"dataset/{rid}", "--json").stdout)
    assert info["id"] == rid
    assert "dataset" in hub.cli("repo", "list").stdout
    new = f"alice/cli-moved-{uuid.uuid4().hex[:6]}"
    hub.cli("repo", "move", f"dataset/{rid}", new)
    assert api.dataset_info(new).id == new
    assert hub.cli("repo", "delete", f"dataset/{new}", check=False).returncode != 0  # needs --yes without a terminal
    hub.cli("repo", "delete", f"dataset/{new}", "--yes")
    assert not api.repo_exists(new, repo_type="dataset")
    assert hub.cli("repo", "info", "model/alice/never-was", check=False).returncode != 0
    backup = tmp_path / "backup.db"
    if PG_URL:
        # A PostgreSQL hub is backed up with pg_dump; `db backup` says so.
        r = hub.cli("db", "backup", str(backup), check=False)
        assert r.returncode != 0 and "pg_dump" in r.stderr
        return
    hub.cli("db", "backup", str(backup))
    db = sqlite3.connect(backup)
    assert db.execute("SELECT COUNT(*) FROM users WHERE username = 'alice'").fetchone()[0] == 1
    db.close()
    assert hub.cli("db", "backup", str(backup), check=False).returncode != 0  # no overwrite
