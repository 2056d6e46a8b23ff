"""Load for bench/bench_memory.sh: many concurrent clients mixing reads and commits.

Usage: mem_load.py setup ENDPOINT TOKEN PID STATE     (builds the repos, writes STATE)
       mem_load.py load ENDPOINT TOKEN PID STATE [CLIENTS] [SECONDS]

Sets up (through the HF API) a public repo `bench/big` with a 20,000-entry directory and 100
revisions of it (each a distinct 20,000-entry tree), a 32 MiB LFS file, and a small repo
`bench/small` for commits. Then CLIENTS clients (threads spread over processes), anonymous
readers and an authenticated writer in each process, loop for SECONDS over: resolve GET of
the LFS file (read and dropped), HEAD on resolve, tree listings of the big directory at random
revisions (the first page and a random later page), repo info, and small commits. Prints the
hub's VmHWM/VmRSS (from /proc/PID/status) before, during (peak sampled each 0.5 s) and after.
"""
import hashlib
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time

import httpx2

MODE, ENDPOINT, TOKEN, PID, STATE = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
CLIENTS = int(sys.argv[6]) if len(sys.argv) > 6 else 50
SECONDS = float(sys.argv[7]) if len(sys.argv) > 7 else 60
WIDE = 20_000
REVISIONS = 100
PROCS = 5
AUTH = {"authorization": f"Bearer {TOKEN}"}
ONLY = os.environ.get("BENCH_KINDS", "resolve,head,tree,tree-page,info,commit").split(",")
KINDS = [k for k in ["resolve", "head", "tree", "tree", "tree-page", "info"] if k in ONLY] or ["head"]


def mem():
    out = {}
    for line in open(f"/proc/{PID}/status"):
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS"):
            out[k] = int(v.split()[0]) // 1024
    return out


def commit(http, repo, lines):
    body = ("\n".join(json.dumps(l) for l in lines) + "\n").encode()
    r = http.post(f"/api/models/{repo}/commit/main", content=body, headers={**AUTH, "content-type": "application/x-ndjson"})
    r.raise_for_status()
    return r.json()


def setup(http):
    for name in ("big", "small"):
        http.post("/api/repos/create", json={"name": name, "organization": "bench"}, headers=AUTH)
    files = [{"key": "file", "value": {"path": f"wide/f{i:05d}.txt", "content": "eA==", "encoding": "base64"}} for i in range(WIDE)]
    commit(http, "bench/big", [{"key": "header", "value": {"summary": "wide", "description": ""}}] + files)
    revs = []
    for r in range(REVISIONS):
        out = commit(
            http,
            "bench/big",
            [
                {"key": "header", "value": {"summary": f"rev {r}", "description": ""}},
                {"key": "file", "value": {"path": f"wide/f{r:05d}.txt", "content": "eQ==", "encoding": "base64"}},
            ],
        )
        revs.append(out["commitOid"])
    data = os.urandom(32 << 20)
    oid = hashlib.sha256(data).hexdigest()
    b = http.post(
        "/bench/big.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]},
        headers=AUTH,
    ).json()
    href = b["objects"][0].get("actions", {}).get("upload", {}).get("href")
    if href:
        http.put(href, content=data).raise_for_status()
    commit(
        http,
        "bench/big",
        [
            {"key": "header", "value": {"summary": "lfs", "description": ""}},
            {"key": "lfsFile", "value": {"path": "weights.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ],
    )
    return revs


def client(n, revs, stop_at, counts, errors, lock):
    writer = n % 10 == 0
    with httpx2.Client(base_url=ENDPOINT, timeout=120, headers=AUTH if writer else {}) as http:
        i = 0
        while time.time() < stop_at:
            i += 1
            kind = random.choice(KINDS + (["commit"] * 3 if writer and "commit" in ONLY else []))
            try:
                if kind == "resolve":
                    with http.stream("GET", "/bench/big/resolve/main/weights.bin") as r:
                        for _ in r.iter_bytes(1 << 20):
                            pass
                        ok = r.status_code == 200
                elif kind == "head":
                    ok = http.head("/bench/big/resolve/main/weights.bin").status_code == 200
                elif kind == "tree":
                    ok = http.get(f"/api/models/bench/big/tree/{random.choice(revs)}/wide").status_code == 200
                elif kind == "tree-page":
                    cur = random.randrange(0, WIDE, 1000)
                    ok = http.get(f"/api/models/bench/big/tree/{random.choice(revs)}/wide", params={"cursor": cur}).status_code == 200
                elif kind == "info":
                    ok = http.get(f"/api/models/bench/big/revision/{random.choice(revs)}").status_code == 200
                else:
                    commit(
                        http,
                        "bench/small",
                        [
                            {"key": "header", "value": {"summary": f"c{n}-{i}", "description": ""}},
                            {"key": "file", "value": {"path": f"c/{n}/{i % 50}.txt", "content": "eg==", "encoding": "base64"}},
                        ],
                    )
                    ok = True
            except Exception:
                ok = False
            with lock:
                counts[kind] = counts.get(kind, 0) + 1
                if not ok:
                    errors[kind] = errors.get(kind, 0) + 1


def worker(ids, revs, stop_at, q):
    counts, errors, lock = {}, {}, threading.Lock()
    threads = [threading.Thread(target=client, args=(n, revs, stop_at, counts, errors, lock)) for n in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put((counts, errors))


def main():
    if MODE == "setup":
        with httpx2.Client(base_url=ENDPOINT, timeout=600) as http:
            t0 = time.time()
            revs = setup(http)
            m = mem()
            print(f"setup: {WIDE} entries x {REVISIONS} revisions + 32 MiB LFS file in {time.time() - t0:.0f} s; hub VmHWM {m['VmHWM']} MiB")
        json.dump(revs, open(STATE, "w"))
        return
    revs = json.load(open(STATE))
    before = mem()
    print(f"load on a freshly started hub: VmRSS {before['VmRSS']} MiB before")
    stop_at = time.time() + SECONDS
    q = mp.Queue()
    procs = [mp.Process(target=worker, args=(list(range(p, CLIENTS, PROCS)), revs, stop_at, q)) for p in range(PROCS)]
    for p in procs:
        p.start()
    peak = 0
    while time.time() < stop_at:
        peak = max(peak, mem()["VmRSS"])
        time.sleep(0.5)
    counts, errors = {}, {}
    for _ in procs:
        c, e = q.get()
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
        for k, v in e.items():
            errors[k] = errors.get(k, 0) + v
    for p in procs:
        p.join()
    during = mem()
    time.sleep(5)
    after = mem()
    total = sum(counts.values())
    print(f"{CLIENTS} clients for {SECONDS:.0f} s: {total} requests ({total / SECONDS:.0f}/s): {json.dumps(counts, sort_keys=True)}")
    print(f"errors: {json.dumps(errors, sort_keys=True)}")
    print(f"peak RSS sampled: {peak} MiB; VmHWM {during['VmHWM']} MiB; VmRSS 5 s after the load {after['VmRSS']} MiB")


if __name__ == "__main__":
    main()
