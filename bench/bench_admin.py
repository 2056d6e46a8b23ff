"""Benchmark of the operator commands: `kohaku gc` over 10,000 LFS objects in 100 repos, and
`kohaku stats rollup` over 1,000,000 download sessions. Reports wall time and peak memory.

Usage: python3 bench/bench_admin.py KOHAKU_BINARY WORKDIR
"""
import base64
import concurrent.futures
import hashlib
import json
import os
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

kohaku, work = sys.argv[1], sys.argv[2]
data = os.path.join(work, "admin-data")
subprocess.run(["rm", "-rf", data], check=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = dict(os.environ, KOHAKU_HUB_DATA_DIR=data, KOHAKU_HUB_LISTEN=f"127.0.0.1:{port}", KOHAKU_HUB_LOG="warn")
run = lambda *a: subprocess.run([kohaku, *a], env=env, check=True, capture_output=True, text=True).stdout
run("user", "create", "ops", "--email", "ops@example.com", "--password", "ops-password")
token = run("token", "create", "--user", "ops").strip()
server = subprocess.Popen([kohaku, "serve"], env=env)
base = f"http://127.0.0.1:{port}"
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/health")
        break
    except Exception:
        time.sleep(0.1)


def call(method, path, body=None, ctype="application/json", auth=True):
    req = urllib.request.Request(base + path if path.startswith("/") else path, data=body, method=method)
    if auth:
        req.add_header("authorization", f"Bearer {token}")
    req.add_header("content-type", ctype)
    return urllib.request.urlopen(req).read()


def seed_repo(r):
    call("POST", "/api/repos/create", json.dumps({"name": f"r{r}"}).encode())
    objs = []
    for i in range(100):
        content = f"repo {r} file {i} ".encode() + os.urandom(64)
        objs.append((f"f{i:03d}.bin", hashlib.sha256(content).hexdigest(), content))
    batch = json.loads(call("POST", f"/ops/r{r}.git/info/lfs/objects/batch", json.dumps({"operation": "upload", "objects": [{"oid": o, "size": len(c)} for _, o, c in objs]}).encode()))
    for (path, oid, content), obj in zip(objs, batch["objects"]):
        call("PUT", obj["actions"]["upload"]["href"], content, "application/octet-stream", auth=False)
    # One commit referencing the 100 uploaded objects.
    lines = [json.dumps({"key": "header", "value": {"summary": "seed"}})] + [json.dumps({"key": "lfsFile", "value": {"path": p, "algo": "sha256", "oid": o, "size": len(c)}}) for p, o, c in objs]
    call("POST", f"/api/models/ops/r{r}/commit/main", ("\n".join(lines) + "\n").encode(), "application/x-ndjson")


t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(seed_repo, range(100)))
seed_secs = time.time() - t0
server.terminate()
server.wait()

# 10,000 objects, all referenced; deleting 34 repos leaves 3,400 of them unreferenced.
for r in range(34):
    run("repo", "delete", f"model/ops/r{r}", "--yes")


def timed(*args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", kohaku, *args], env=env, check=True, capture_output=True, text=True)
    secs = time.time() - t
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    return secs, peak_kib, out.stdout


gc_secs, gc_kib, gc_out = timed("gc", "--yes", "--json", "--grace", "0s")
gc_report = json.loads(gc_out)

db = sqlite3.connect(os.path.join(data, "kohaku.db"))
repo_ids = [r[0] for r in db.execute("SELECT id FROM repos")]
now_bucket = int(time.time()) // 900
rows = ((random.choice(repo_ids), f"s{i}", now_bucket - random.randint(0, 20 * 96), random.randint(0, 1), random.randint(1, 5), "f", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z") for i in range(1_000_000))
db.executemany("INSERT INTO download_sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
db.commit()
db.close()
ru_secs, ru_kib, _ = timed("stats", "rollup", "--json")
ru2_secs, _, ru2_out = timed("stats", "rollup", "--json")

print(json.dumps({
    "seed_seconds": round(seed_secs, 1),
    "gc_seconds": round(gc_secs, 2), "gc_peak_rss_mib": round(gc_kib / 1024, 1),
    "gc_freed_lfs_objects": gc_report["lfs_old_versions"]["objects"] + gc_report["lfs_unreferenced"]["objects"],
    "gc_freed_repo_storage_objects": gc_report["deleted_repos"]["objects"],
    "rollup_seconds": round(ru_secs, 2), "rollup_peak_rss_mib": round(ru_kib / 1024, 1),
    "rollup_again_seconds": round(ru2_secs, 2), "rollup_again": json.loads(ru2_out),
}))
