"""Concurrency (issue 13, item 4): commits without `parentCommit` all land however many writers
share a branch (huggingface_hub does not retry a 409), and a commit racing the deletion of its
repository answers 404 or lands, never 500."""
import json
import random
import threading
import time
import uuid

import httpx2

from conftest import auth


def ndjson_commit(n, prefix):
    lines = [
        {"key": "header", "value": {"summary": f"{prefix} {n}", "description": ""}},
        {"key": "file", "value": {"path": f"{prefix}/{n}.txt", "content": "eA==", "encoding": "base64"}},
    ]
    return ("\n".join(json.dumps(l) for l in lines) + "\n").encode()


def run_at_once(count, fn):
    """Run fn(i) in `count` threads released together; the results."""
    start = threading.Barrier(count)
    results = [None] * count

    def run(i):
        results[i] = fn(i, start)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_many_writers_on_one_branch_all_land(hub, api):
    from huggingface_hub import CommitOperationAdd, HfApi

    rid = f"alice/busy-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)

    # 50 huggingface_hub clients (preupload, then commit), as the review measured.
    def with_client(i, start):
        mine = HfApi(endpoint=hub.endpoint, token=hub.tokens["alice"])
        start.wait()
        try:
            mine.create_commit(
                rid,
                [CommitOperationAdd(path_in_repo=f"w/{i}.txt", path_or_fileobj=f"writer {i}\n".encode())],
                commit_message=f"writer {i}",
            )
            return "ok"
        except Exception as e:  # the outcome is what the test is about
            return repr(e)

    results = run_at_once(50, with_client)
    refused = [r for r in results if r != "ok"]
    assert not refused, f"{len(refused)} of 50 client commits refused: {refused[:3]}"

    # 100 NDJSON commits sent at the same instant (connections open first).
    def burst(i, start):
        with httpx2.Client(base_url=hub.endpoint, timeout=300) as http:
            http.get("/health")
            start.wait()
            r = http.post(
                f"/api/models/{rid}/commit/main",
                content=ndjson_commit(i, "burst"),
                headers={**auth(hub), "content-type": "application/x-ndjson"},
            )
            return (r.status_code, r.text[:200])

    results = run_at_once(100, burst)
    refused = [r for r in results if r[0] != 200]
    assert not refused, f"{len(refused)} of 100 simultaneous commits refused: {refused[:3]}"

    commits = api.list_repo_commits(rid)
    titles = sorted(c.title for c in commits)
    expected = sorted([f"writer {i}" for i in range(50)] + [f"burst {i}" for i in range(100)] + ["initial commit"])
    assert titles == expected
    files = set(api.list_repo_files(rid))
    assert {f"w/{i}.txt" for i in range(50)} | {f"burst/{i}.txt" for i in range(100)} <= files


def test_commits_racing_a_repo_delete_answer_404_or_land(hub, api):
    statuses = []
    lock = threading.Lock()
    headers = {**auth(hub), "content-type": "application/x-ndjson"}

    def hammer(rid, stop, branches=False):
        with httpx2.Client(base_url=hub.endpoint, timeout=60) as http:
            n = 0
            while not stop.is_set():
                n += 1
                if branches:  # ref creation races the delete too
                    r = http.post(f"/api/models/{rid}/branch/b{n}-{uuid.uuid4().hex[:6]}", json={}, headers=auth(hub))
                else:
                    r = http.post(f"/api/models/{rid}/commit/main", content=ndjson_commit(n, "f"), headers=headers)
                with lock:
                    statuses.append((r.status_code, r.headers.get("x-error-code"), r.text[:200]))
                if r.status_code != 200:
                    return

    for round_ in range(12):
        rid = f"alice/doomed-{uuid.uuid4().hex[:8]}"
        api.create_repo(rid)
        stop = threading.Event()
        threads = [threading.Thread(target=hammer, args=(rid, stop, i >= 4)) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.2 + random.random() * 0.3)
        api.delete_repo(rid)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(timeout=120)
    bad = [s for s in statuses if s[0] not in (200, 404) or (s[0] == 404 and s[1] != "RepoNotFound")]
    assert not bad, f"{len(bad)} of {len(statuses)} commits answered neither 200 nor 404 RepoNotFound: {bad[:3]}"
    assert sum(1 for s in statuses if s[0] == 200) > 0 and sum(1 for s in statuses if s[0] == 404) > 0
