"""Several `kohaku serve` processes on one PostgreSQL database and one bucket.

Runs in the PostgreSQL + S3 pass of scripts/test.sh: two processes on different ports share
everything; clients talk to both at once, and one process is killed with SIGKILL mid-work.
"""
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from conftest import PG_URL, S3_ENDPOINT, Hub, free_port

pytestmark = pytest.mark.skipif(
    not (PG_URL and S3_ENDPOINT), reason="several processes need PostgreSQL and a bucket (the PostgreSQL+S3 pass)"
)

CLIENTS = 8


@pytest.fixture
def pair():
    a = Hub(tempfile.mkdtemp(prefix="kohaku-mp-a-"), port=free_port())
    b = Hub(tempfile.mkdtemp(prefix="kohaku-mp-b-"), port=free_port(), share=a)
    a.cli("user", "create", "alice", "--email", "alice@example.com", "--password", "alice-password")
    a.tokens["alice"] = a.cli("token", "create", "--user", "alice").stdout.strip()
    for i in range(CLIENTS):
        a.cli("user", "create", f"user{i}", "--email", f"user{i}@example.com", "--password", "user-password")
        a.tokens[f"user{i}"] = a.cli("token", "create", "--user", f"user{i}").stdout.strip()
    b.tokens = a.tokens
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()
    shutil.rmtree(a.data_dir, ignore_errors=True)
    shutil.rmtree(b.data_dir, ignore_errors=True)


def clone_history(hub, rid, token, dest):
    """`git clone` without LFS content; returns [(commit, parents)] newest first."""
    url = f"http://alice:{token}@127.0.0.1:{hub.port}/{rid}"
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1", "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(["git", "clone", "-q", url, dest], check=True, env=env, capture_output=True, timeout=120)
    out = subprocess.run(
        ["git", "-C", dest, "rev-list", "--parents", "HEAD"], check=True, capture_output=True, text=True
    ).stdout
    return [(line.split()[0], line.split()[1:]) for line in out.splitlines()]


def commit_subjects(hub, rid, token, dest):
    """{commit: subject} of the branch, from a fresh clone."""
    clone_history(hub, rid, token, dest)
    out = subprocess.run(
        ["git", "-C", dest, "log", "--format=%H %s", "HEAD"], check=True, capture_output=True, text=True
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def check_history(hub, rid, token, acked, tmp):
    history = clone_history(hub, rid, token, os.path.join(tmp, uuid.uuid4().hex[:6]))
    ids = [c for c, _ in history]
    assert all(len(parents) <= 1 for _, parents in history), "history is linear"
    assert len(history[-1][1]) == 0 and all(len(p) == 1 for _, p in history[:-1])
    missing = [oid for oid in acked if oid not in ids]
    assert not missing, f"acknowledged commits missing from history: {missing}"
    return ids


def test_commits_through_two_processes_chain(pair, tmp_path):
    a, b = pair
    token = a.tokens["alice"]
    apis = [HfApi(endpoint=h.endpoint, token=token) for h in (a, b)]
    rid = f"alice/mp-{uuid.uuid4().hex[:8]}"
    apis[0].create_repo(rid)
    rounds = 6
    acked = {}  # commit id -> (client, round)
    lock = threading.Lock()
    blobs = {i: os.urandom(150_000) for i in range(CLIENTS)}

    def client(i):
        api = apis[i % 2]
        for k in range(rounds):
            ops = [
                CommitOperationAdd(f"c{i}.txt", f"{i}-{k}".encode()),
                CommitOperationAdd("shared.txt", f"{i}-{k}".encode()),
            ]
            if k == 0:
                ops.append(CommitOperationAdd(f"w{i}.bin", blobs[i]))  # LFS, straight to the bucket
            info = api.create_commit(rid, operations=ops, commit_message=f"c{i} r{k}")
            with lock:
                acked[info.oid] = (i, k)

    # Maintenance runs while both processes serve.
    def maintenance():
        for _ in range(2):
            a.cli("gc", "--yes", "--grace", "1h", "--json")
            b.cli("stats", "rollup", "--json")

    with concurrent.futures.ThreadPoolExecutor(CLIENTS + 1) as pool:
        jobs = [pool.submit(client, i) for i in range(CLIENTS)] + [pool.submit(maintenance)]
        for j in jobs:
            j.result()
    assert len(acked) == CLIENTS * rounds
    ids = check_history(b, rid, token, acked, str(tmp_path))
    assert len(ids) == CLIENTS * rounds + 1  # plus the repository's initial commit
    head = ids[0]
    for h, api in ((a, apis[0]), (b, apis[1])):
        assert api.model_info(rid).sha == head
        for i in range(CLIENTS):
            p = hf_hub_download(rid, f"c{i}.txt", endpoint=h.endpoint, token=token, cache_dir=str(tmp_path / h.schema / "c"))
            assert open(p).read() == f"{i}-{rounds - 1}"
        shared = hf_hub_download(rid, "shared.txt", endpoint=h.endpoint, token=token, cache_dir=str(tmp_path / h.schema / "s"))
        i, k = acked[head]
        assert open(shared).read() == f"{i}-{k}", "shared file holds the last acknowledged write"
    for i in range(CLIENTS):
        p = hf_hub_download(rid, f"w{i}.bin", endpoint=b.endpoint, token=token, cache_dir=str(tmp_path / "lfs"))
        assert hashlib.sha256(open(p, "rb").read()).hexdigest() == hashlib.sha256(blobs[i]).hexdigest()
    # A stale parentCommit is refused, whichever process answers.
    old = ids[3]
    for api in apis:
        with pytest.raises(HfHubHTTPError) as e:
            api.create_commit(rid, operations=[CommitOperationAdd("x.txt", b"x")], commit_message="stale", parent_commit=old)
        assert e.value.response.status_code == 412
    r = a.cli("fsck", "--json", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)
    # The stored usage is the one of the final head, whichever process measured last.
    ns, name = rid.split("/")
    used = a.sql("SELECT used_bytes FROM repos WHERE namespace = ? AND name = ?", ns, name)[0][0]
    a.cli("quota", "recalculate", "alice")
    assert a.sql("SELECT used_bytes FROM repos WHERE namespace = ? AND name = ?", ns, name)[0][0] == used
    assert used > CLIENTS * 150_000


def test_creation_likes_and_downloads_are_exact(pair):
    a, b = pair
    hubs = [a, b]
    name = f"alice/clash-{uuid.uuid4().hex[:8]}"

    def create(i):
        try:
            HfApi(endpoint=hubs[i % 2].endpoint, token=a.tokens["alice"]).create_repo(name)
            return "created"
        except HfHubHTTPError as e:
            return e.response.status_code

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = list(pool.map(create, range(CLIENTS)))
    assert outcomes.count("created") == 1, outcomes
    assert all(o == 409 for o in outcomes if o != "created"), outcomes
    listed = [m.id for m in HfApi(endpoint=b.endpoint, token=a.tokens["alice"]).list_models(author="alice")]
    assert listed.count(name) == 1
    HfApi(endpoint=a.endpoint, token=a.tokens["alice"]).upload_file(
        path_or_fileobj=b"payload", path_in_repo="f.txt", repo_id=name
    )

    def like(i, method="POST"):
        r = httpx2.request(method, f"{hubs[i % 2].endpoint}/api/models/{name}/like",
                           headers={"Authorization": f"Bearer {a.tokens[f'user{i}']}"}, timeout=30)
        assert r.status_code == 200, r.text

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(like, range(CLIENTS)))
        list(pool.map(like, range(CLIENTS)))  # liking twice counts once
    for h in hubs:
        assert HfApi(endpoint=h.endpoint).model_info(name).likes == CLIENTS
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda i: like(i, "DELETE"), range(3)))
    for h in hubs:
        assert HfApi(endpoint=h.endpoint).model_info(name).likes == CLIENTS - 3

    per_user = 3

    def download(i):
        for k in range(per_user):
            h = hubs[(i + k) % 2]
            r = httpx2.get(f"{h.endpoint}/{name}/resolve/main/f.txt",
                           headers={"Authorization": f"Bearer {a.tokens[f'user{i}']}"}, timeout=30)
            assert r.status_code == 200 and r.content == b"payload"

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(download, range(CLIENTS)))
    # One download session per user, every request counted in its session.
    for h in hubs:
        assert HfApi(endpoint=h.endpoint).model_info(name).downloads == CLIENTS
    rid = a.sql("SELECT id FROM repos WHERE namespace = ? AND name = ?", *name.split("/"))[0][0]
    assert a.sql("SELECT COUNT(*), SUM(file_count) FROM download_sessions WHERE repo_id = ?", rid)[0] == (
        CLIENTS,
        CLIENTS * per_user,
    )


def test_sigkill_one_process_mid_work(pair, tmp_path):
    a, b = pair
    token = a.tokens["alice"]
    rid = f"alice/kill-{uuid.uuid4().hex[:8]}"
    HfApi(endpoint=b.endpoint, token=token).create_repo(rid)
    acked = {}  # commit id -> (client, seq)
    last = {}  # client -> seq of its last acknowledged write
    lfs = {}  # path -> bytes, for acknowledged LFS uploads
    lock = threading.Lock()
    stop = threading.Event()
    killed = threading.Event()
    after_kill_via_b = []

    def client(i):
        seq = 0
        while not stop.is_set():
            seq += 1
            h = (a, b)[i % 2]
            if killed.is_set() and h is a:
                h = b  # the load balancer takes the dead process out
            api = HfApi(endpoint=h.endpoint, token=token)
            ops = [CommitOperationAdd(f"c{i}.txt", f"{i}-{seq}".encode())]
            blob = None
            if seq % 3 == 0:
                blob = os.urandom(100_000 + seq)
                ops.append(CommitOperationAdd(f"w{i}-{seq}.bin", blob))
            try:
                info = api.create_commit(rid, operations=ops, commit_message=f"c{i} s{seq}")
            except Exception:
                continue  # not acknowledged: the process died under it
            with lock:
                acked[info.oid] = (i, seq)
                last[i] = seq
                if blob is not None:
                    lfs[f"w{i}-{seq}.bin"] = blob
                if killed.is_set() and h is b:
                    after_kill_via_b.append(info.oid)

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        jobs = [pool.submit(client, i) for i in range(CLIENTS)]
        deadline = time.time() + 60
        while len(acked) < 12 and time.time() < deadline:
            time.sleep(0.05)
        a.proc.kill()  # SIGKILL, mid-commit for some clients
        a.proc.wait(timeout=10)
        killed.set()
        deadline = time.time() + 60
        while len(after_kill_via_b) < 12 and time.time() < deadline:
            time.sleep(0.05)
        stop.set()
        for j in jobs:
            j.result()
    assert len(after_kill_via_b) >= 12, "the surviving process kept serving"
    a.start()  # restart on the same database and bucket
    ids = check_history(a, rid, token, acked, str(tmp_path))
    # A commit the killed process made durable just before dying was never acknowledged: it may
    # be in the history (its client saw a broken connection), at most one per client of A.
    subjects = commit_subjects(a, rid, token, str(tmp_path / "subjects"))
    acked_pairs = set(acked.values())
    landed_unacked = set()
    for oid in ids[:-1]:
        if oid in acked:
            continue
        i, seq = (int(x[1:]) for x in subjects[oid].split())
        assert i % 2 == 0 and (i, seq) not in acked_pairs, f"unexpected commit {oid}: {subjects[oid]}"
        landed_unacked.add((i, seq))
    assert len(ids) == len(acked) + len(landed_unacked) + 1
    assert len({i for i, _ in landed_unacked}) == len(landed_unacked) <= CLIENTS // 2
    api = HfApi(endpoint=a.endpoint, token=token)
    for i, seq in last.items():
        p = hf_hub_download(rid, f"c{i}.txt", endpoint=a.endpoint, token=token, cache_dir=str(tmp_path / "c"))
        newest = max([seq] + [s for j, s in landed_unacked if j == i])
        assert open(p).read() == f"{i}-{newest}"
    for path, blob in lfs.items():
        p = hf_hub_download(rid, path, endpoint=a.endpoint, token=token, cache_dir=str(tmp_path / "l"))
        assert open(p, "rb").read() == blob
    assert api.model_info(rid).sha == ids[0]
    r = a.cli("fsck", "--json", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
