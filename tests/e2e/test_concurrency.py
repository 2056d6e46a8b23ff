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


def test_fifty_writers_on_one_branch_all_land(hub, api):
    from huggingface_hub import CommitOperationAdd, HfApi

    rid = f"alice/busy-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    writers = 50
    start = threading.Barrier(writers)
    results = [None] * writers

    def write(i):
        mine = HfApi(endpoint=hub.endpoint, token=hub.tokens["alice"])
        start.wait()
        try:
            mine.create_commit(
                rid,
                [CommitOperationAdd(path_in_repo=f"w/{i}.txt", path_or_fileobj=f"writer {i}\n".encode())],
                commit_message=f"writer {i}",
            )
            results[i] = "ok"
        except Exception as e:  # the status is what the test is about
            results[i] = repr(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    refused = [r for r in results if r != "ok"]
    assert not refused, f"{len(refused)} of {writers} commits refused: {refused[:3]}"
    commits = api.list_repo_commits(rid)
    assert sorted(c.title for c in commits if c.title.startswith("writer ")) == sorted(f"writer {i}" for i in range(writers))
    files = set(api.list_repo_files(rid))
    assert {f"w/{i}.txt" for i in range(writers)} <= files
    # One linear history: every commit has exactly one parent, the one before it.
    assert len(commits) == writers + 1


def test_commits_racing_a_repo_delete_answer_404_or_land(hub, api):
    statuses = []
    lock = threading.Lock()
    headers = {**auth(hub), "content-type": "application/x-ndjson"}

    def body(n):
        lines = [
            {"key": "header", "value": {"summary": f"c{n}", "description": ""}},
            {"key": "file", "value": {"path": f"f{n}.txt", "content": "eA==", "encoding": "base64"}},
        ]
        return ("\n".join(json.dumps(l) for l in lines) + "\n").encode()

    def hammer(rid, stop):
        with httpx2.Client(base_url=hub.endpoint, timeout=60) as http:
            n = 0
            while not stop.is_set():
                n += 1
                r = http.post(f"/api/models/{rid}/commit/main", content=body(n), headers=headers)
                with lock:
                    statuses.append((r.status_code, r.headers.get("x-error-code"), r.text[:200]))
                if r.status_code != 200:
                    return

    for round_ in range(12):
        rid = f"alice/doomed-{uuid.uuid4().hex[:8]}"
        api.create_repo(rid)
        stop = threading.Event()
        threads = [threading.Thread(target=hammer, args=(rid, stop)) for _ in range(6)]
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
