"""The `kohaku` binary itself: zero-config start, shared configuration, bootstrap commands."""
import json
import os
import signal
import socket
import subprocess
import time

import httpx2

from conftest import KOHAKU


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOHAKU_HUB_")}
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url, proc):
    for _ in range(200):
        try:
            if httpx2.get(url + "/health", timeout=1).status_code == 200:
                return
        except Exception:
            pass
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
        time.sleep(0.05)
    raise AssertionError("not healthy")


def test_zero_config_serve_creates_data_dir_and_stops_on_sigterm(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [KOHAKU, "serve", "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_health(f"http://127.0.0.1:{port}", proc)
        assert (tmp_path / "kohaku-data" / "kohaku.db").exists()
        assert (tmp_path / "kohaku-data" / "storage").is_dir()
        # The public URL defaults to the listen address.
        assert httpx2.get(f"http://127.0.0.1:{port}/").json()["endpoint"] == f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "listening on" in err and "kohaku-data" in err
    assert "shut down cleanly" in err


def test_admin_commands_share_data_with_serve(tmp_path):
    env = clean_env(KOHAKU_HUB_DATA_DIR=str(tmp_path / "d"))
    r = subprocess.run([KOHAKU, "init"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([KOHAKU, "user", "create", "carol", "--email", "c@example.com", "--password", "carol-pass-1"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([KOHAKU, "token", "create", "--user", "carol", "--name", "laptop"], env=env, capture_output=True, text=True)
    token = r.stdout
    assert r.returncode == 0 and token.strip().startswith("hf_") and token.count("\n") == 1  # only the token
    r = subprocess.run([KOHAKU, "token", "list", "--user", "carol", "--json"], env=env, capture_output=True, text=True)
    listed = json.loads(r.stdout)
    assert listed[0]["name"] == "laptop" and token.strip() not in r.stdout
    r = subprocess.run([KOHAKU, "user", "list", "--json"], env=env, capture_output=True, text=True)
    assert [u["username"] for u in json.loads(r.stdout)] == ["carol"]
    # No password and no terminal: refuse rather than hang.
    r = subprocess.run([KOHAKU, "user", "create", "dave", "--email", "d@example.com"], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "password" in r.stderr
    # Bad input: duplicate, bad email, reserved name.
    for args in (["carol", "--email", "x@example.com"], ["eve", "--email", "nope"], ["admin", "--email", "a@example.com"]):
        r = subprocess.run([KOHAKU, "user", "create", *args, "--password", "longenough"], env=env, capture_output=True, text=True)
        assert r.returncode != 0
    # The token works against a daemon on the same data.
    port = free_port()
    proc = subprocess.Popen([KOHAKU, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_health(f"http://127.0.0.1:{port}", proc)
        who = httpx2.get(f"http://127.0.0.1:{port}/api/whoami-v2", headers={"authorization": f"Bearer {token.strip()}"}).json()
        assert who["name"] == "carol"
        tid = listed[0]["id"]
        r = subprocess.run([KOHAKU, "token", "revoke", "--user", "carol", str(tid), "--yes"], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = httpx2.get(f"http://127.0.0.1:{port}/api/whoami-v2", headers={"authorization": f"Bearer {token.strip()}"})
        assert r.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_config_show_sources_and_redaction(tmp_path):
    cfg = tmp_path / "kohaku.yaml"
    cfg.write_text("lfs_threshold_bytes: 5000000\nbase_url: https://hub.example.org/\n")
    env = clean_env(
        KOHAKU_HUB_CONFIG=str(cfg),
        KOHAKU_HUB_LISTEN="0.0.0.0:9999",
        KOHAKU_HUB_DATABASE_URL="postgres://hub:s3cr3t-pw@db.internal/hub",
    )
    r = subprocess.run([KOHAKU, "config", "show", "--json"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["lfs_threshold_bytes"]["value"] == "5000000" and "file" in shown["lfs_threshold_bytes"]["source"]
    assert shown["listen"]["source"] == "env KOHAKU_HUB_LISTEN"
    assert shown["base_url"]["value"] == "https://hub.example.org/"
    assert "s3cr3t-pw" not in r.stdout and "***" in shown["database_url"]["value"]
    r = subprocess.run([KOHAKU, "config", "show"], env=env, capture_output=True, text=True)
    assert "s3cr3t-pw" not in r.stdout and "lfs_threshold_bytes" in r.stdout
    # Flags win over the environment.
    r = subprocess.run([KOHAKU, "--data-dir", str(tmp_path / "x"), "config", "show", "--json"], env=env, capture_output=True, text=True)
    assert json.loads(r.stdout)["data_dir"]["source"] == "flag"
    # A broken config file is a clear error.
    cfg.write_text("unknown_key: 1\n")
    r = subprocess.run([KOHAKU, "config", "show"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "unknown_key" in r.stderr
    # An unsupported database URL is refused clearly at start.
    cfg.write_text("")
    r = subprocess.run([KOHAKU, "--data-dir", str(tmp_path / "y"), "--database-url", "mysql://x/y", "db", "migrate"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "not supported" in r.stderr


def test_database_unreachable_or_wrong_is_a_clear_startup_error(tmp_path):
    cases = [
        ("postgres://kohaku:pw-secret@127.0.0.1:1/hub", "cannot open the database"),
        ("postgres://postgres@127.0.0.1:5432/kohaku_no_such_db_x", "cannot open the database"),
        ("postgres://x@[broken", "not valid"),
        ("sqlite://", "needs a file path"),
    ]
    for url, message in cases:
        r = subprocess.run(
            [KOHAKU, "serve", "--listen", f"127.0.0.1:{free_port()}"],
            env=clean_env(KOHAKU_HUB_DATA_DIR=str(tmp_path / "d"), KOHAKU_HUB_DATABASE_URL=url),
            capture_output=True, text=True, timeout=60,
        )
        assert r.returncode != 0, url
        assert message in r.stderr, (url, r.stderr)
        assert "pw-secret" not in r.stderr
