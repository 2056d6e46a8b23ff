"""A newcomer's first hour (issue 14, part 3): the public URL a hub hands out, admin commands on
a hub that does not exist, help texts, and the password rule, through the built binary, a real
`kohaku serve` and the real huggingface_hub client."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid

import httpx2
import pytest

from conftest import KOHAKU, PG_URL, Hub, free_port, pg_schema_url


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOHAKU_HUB_")}
    env.update(extra)
    return env


def run(*args, env, input=None):
    return subprocess.run([KOHAKU, *args], env=env, capture_output=True, text=True, input=input, timeout=60)


# --- base_url: derived from the request's Host when unset --------------------------------------

# Another address of this machine than the 127.0.0.1 the old default derived: a client that
# reaches the hub through it must get URLs on it (loopback, so no traffic leaves the machine).
OTHER_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def open_hub():
    """A hub listening on every address with base_url unset."""
    port = free_port()
    h = Hub(tempfile.mkdtemp(prefix="kohaku-e2e-newcomer-"), port=port, extra_env={"KOHAKU_HUB_LISTEN": f"0.0.0.0:{port}"})
    h.env.pop("KOHAKU_HUB_BASE_URL", None)
    h.cli("init")
    h.cli("user", "create", "nina", "--email", "nina@example.com", "--password", "nina-password")
    h.tokens["nina"] = h.cli("token", "create", "--user", "nina").stdout.strip()
    h.start()
    yield h
    h.stop()
    shutil.rmtree(h.data_dir, ignore_errors=True)


def test_client_on_another_address_gets_urls_on_that_address(open_hub):
    from huggingface_hub import HfApi

    endpoint = f"http://{OTHER_ADDRESS}:{open_hub.port}"
    token = open_hub.tokens["nina"]
    api = HfApi(endpoint=endpoint, token=token)
    rid = f"nina/far-{uuid.uuid4().hex[:8]}"
    # The client checks the host of the URL it gets back ("Unrecognized host '127.0.0.1'").
    url = api.create_repo(rid)
    assert str(url) == f"{endpoint}/{rid}"
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=rid)
    blob = os.urandom(2048)
    api.upload_file(path_or_fileobj=blob, path_in_repo="weights.bin", repo_id=rid)
    assert sorted(api.list_repo_files(rid)) == [".gitattributes", "config.json", "weights.bin"]
    auth = {"authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=endpoint, timeout=60) as c:
        # LFS actions (upload and download hrefs) point where the client came from.
        oid = hashlib.sha256(blob).hexdigest()
        batch = c.post(
            f"/{rid}.git/info/lfs/objects/batch",
            headers={**auth, "accept": "application/vnd.git-lfs+json"},
            json={"operation": "download", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(blob)}]},
        ).json()
        href = batch["objects"][0]["actions"]["download"]["href"]
        if "/api/lfs/" in href:  # local storage; in S3 mode a presigned bucket URL
            assert href.startswith(f"{endpoint}/api/lfs/objects/{oid}?"), href
            assert c.get(href).content == blob
        # Pagination links, the Xet CAS URL, the root page.
        page = c.get("/api/models", params={"author": "nina", "limit": 1})
        api.create_repo(rid + "-2")
        page = c.get("/api/models", params={"author": "nina", "limit": 1})
        assert page.headers["link"].startswith(f"<{endpoint}/api/models?"), page.headers["link"]
        xet = c.get(f"/api/models/{rid}/xet-write-token/main", headers=auth)
        assert xet.status_code == 200, xet.text
        assert xet.json()["casUrl"] == f"{endpoint}/api/xet"
        assert c.get("/").json()["endpoint"] == endpoint
    # The same hub, reached by another name, answers with that name.
    with httpx2.Client(base_url=f"http://localhost:{open_hub.port}", timeout=60) as c:
        r = c.post("/api/repos/create", headers=auth, json={"name": rid.split("/")[1] + "-3", "organization": "nina"})
        assert r.status_code == 200, r.text
        assert r.json()["url"] == f"http://localhost:{open_hub.port}/{rid}-3"
    # The download through the client lands where it should.
    assert open(api.hf_hub_download(rid, "weights.bin"), "rb").read() == blob


def test_malformed_host_is_refused(open_hub):
    with httpx2.Client(base_url=f"http://127.0.0.1:{open_hub.port}", timeout=60) as c:
        for host in ("evil.example/path", "user@evil.example", "a b", "evil.example:99999", "[::1", ""):
            r = c.get("/api/models", headers={"host": host})
            assert r.status_code == 400, (host, r.status_code)
            assert r.headers["x-error-code"] == "BadRequest" and "Host" in r.headers["x-error-message"], host
            assert "Host" in r.json()["error"]
        # Well-formed names, IPv4 and IPv6 literals, with or without port.
        for host in ("hub.internal", "hub.internal:8080", "10.1.2.3:28080", "[::1]:28080", "HUB.Example"):
            r = c.get("/", headers={"host": host})
            assert r.status_code == 200 and r.json()["endpoint"] == f"http://{host}", host


def test_configured_base_url_wins_over_host(tmp_path):
    port = free_port()
    h = Hub(str(tmp_path), port=port, extra_env={"KOHAKU_HUB_LISTEN": f"0.0.0.0:{port}", "KOHAKU_HUB_BASE_URL": "https://hub.example.org/"})
    h.cli("init")
    h.cli("user", "create", "olga", "--email", "olga@example.com", "--password", "olga-password")
    token = h.cli("token", "create", "--user", "olga").stdout.strip()
    h.start()
    try:
        with httpx2.Client(base_url=f"http://{OTHER_ADDRESS}:{port}", timeout=60) as c:
            r = c.post("/api/repos/create", headers={"authorization": f"Bearer {token}"}, json={"name": "m", "organization": "olga"})
            assert r.status_code == 200, r.text
            assert r.json()["url"] == "https://hub.example.org/olga/m"
            assert c.get("/", headers={"host": "elsewhere.example"}).json()["endpoint"] == "https://hub.example.org"
    finally:
        h.stop()
    log = open(os.path.join(h.data_dir, "serve.log")).read()
    assert "public URL https://hub.example.org" in log


def test_serve_says_where_urls_come_from(open_hub):
    log = open(os.path.join(open_hub.data_dir, "serve.log")).read()
    assert "base_url is unset" in log and "Host" in log, log


# --- admin commands need an existing hub; only serve and init create one ------------------------

ADMIN_COMMANDS = [
    ["user", "list"],
    ["user", "create", "zoe", "--email", "zoe@example.com", "--password", "zoe-password"],
    ["user", "passwd", "zoe", "--password", "zoe-password"],
    ["token", "create", "--user", "zoe"],
    ["token", "list", "--user", "zoe"],
    ["org", "list"],
    ["org", "create", "acme", "--owner", "zoe"],
    ["repo", "list"],
    ["quota", "show", "zoe"],
    ["gc", "--dry-run"],
    ["stats", "rollup"],
    ["fsck"],
    ["db", "migrate"],
    ["db", "backup", "/tmp/kohaku-never-written.db"],
    ["storage", "check"],
]


def test_admin_commands_on_a_missing_hub_say_so_and_create_nothing(tmp_path):
    env = clean_env()
    wrong = tmp_path / "wrong" / "path"
    for args in ADMIN_COMMANDS:
        r = run("--data-dir", str(wrong), *args, env=env)
        assert r.returncode != 0, (args, r.stdout)
        assert f"no hub at {wrong}: the data directory does not exist" in r.stderr, (args, r.stderr)
        assert "kohaku init" in r.stderr, args
        assert not (tmp_path / "wrong").exists(), args
    # The directory exists but holds no hub (no database): refused too, nothing written.
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in ADMIN_COMMANDS[:-1]:
        r = run("--data-dir", str(empty), *args, env=env)
        assert r.returncode != 0, args
        assert "the database file does not exist" in r.stderr and str(empty / "kohaku.db") in r.stderr, (args, r.stderr)
        assert list(empty.iterdir()) == [], args
    # An SQLite file named by --database-url that is not there.
    other = tmp_path / "elsewhere.db"
    r = run("--data-dir", str(empty), "--database-url", f"sqlite://{other}", "user", "list", env=env)
    assert r.returncode != 0 and f"no hub at {other}" in r.stderr, r.stderr
    assert not other.exists()
    assert not os.path.exists("/tmp/kohaku-never-written.db")
    # `kohaku init` creates the hub; then the same commands work; a second init changes nothing.
    hub_dir = tmp_path / "hub"
    r = run("--data-dir", str(hub_dir), "init", env=env)
    assert r.returncode == 0, r.stderr
    assert "created a hub at" in r.stderr and (hub_dir / "kohaku.db").is_file() and (hub_dir / "storage").is_dir()
    r = run("--data-dir", str(hub_dir), "user", "create", "zoe", "--email", "zoe@example.com", "--password", "zoe-password", env=env)
    assert r.returncode == 0, r.stderr
    r = run("--data-dir", str(hub_dir), "init", env=env)
    assert r.returncode == 0 and "nothing to do: there is already a hub" in r.stderr, r.stderr
    r = run("--data-dir", str(hub_dir), "user", "list", "--json", env=env)
    assert r.returncode == 0 and [u["username"] for u in json.loads(r.stdout)] == ["zoe"]
    # `config show` reads only the configuration: fine without a hub.
    assert run("--data-dir", str(wrong), "config", "show", env=env).returncode == 0
    assert not (tmp_path / "wrong").exists()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL pass only")
def test_admin_commands_on_an_empty_postgres_database_say_so():
    url = pg_schema_url("h_" + uuid.uuid4().hex[:16])
    data = tempfile.mkdtemp(prefix="kohaku-e2e-newcomer-pg-")
    env = clean_env(KOHAKU_HUB_DATA_DIR=data, KOHAKU_HUB_DATABASE_URL=url)
    try:
        for args in (["user", "list"], ["db", "migrate"]):
            r = run(*args, env=env)
            assert r.returncode != 0 and "no hub in the database" in r.stderr and "no kohaku tables" in r.stderr, r.stderr
        r = run("user", "list", "--json", env=env)
        assert r.returncode != 0  # still nothing created by the refusals
        assert run("init", env=env).returncode == 0
        r = run("user", "list", "--json", env=env)
        assert r.returncode == 0 and json.loads(r.stdout) == []
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --- help texts -------------------------------------------------------------------------------

def help_entries(text):
    """(spec, help) of every argument and option in a clap --help page."""
    entries, section = [], None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Za-z ]*:$", line):
            section = line[:-1]
            continue
        if section not in ("Arguments", "Options"):
            continue
        m = re.match(r"^  +((?:-\S.*?|<\S+>|\[\S+\]))(?:  +(\S.*))?$", line)
        if not m or line.startswith(" " * 10):
            continue
        help_text = m.group(2)
        if help_text is None and i + 1 < len(lines) and lines[i + 1].startswith(" " * 10):
            help_text = lines[i + 1].strip()  # help on the next line (long specs)
        entries.append((m.group(1), help_text))
    return entries


def subcommands(path):
    text = run(*path, "--help", env=clean_env()).stdout
    after = text.split("Commands:", 1)
    if len(after) == 1:
        return []
    names = []
    for line in after[1].splitlines():
        m = re.match(r"^  (\S+)\s", line)
        if m and m.group(1) != "help":
            names.append(m.group(1))
        elif line and not line.startswith(" "):
            break
    return names


def test_every_command_and_argument_has_help():
    missing, seen = [], set()
    todo = [[]]
    while todo:
        path = todo.pop()
        r = run(*path, "--help", env=clean_env())
        assert r.returncode == 0, path
        for spec, help_text in help_entries(r.stdout):
            seen.add((" ".join(path), spec.split()[0].rstrip(",")))
            if not help_text:
                missing.append(f"kohaku {' '.join(path)} {spec}")
        todo += [path + [s] for s in subcommands(path)]
    assert not missing, missing
    # The ones a newcomer met without help (issue 14).
    for cmd, arg in [
        ("user create", "<NAME>"), ("user create", "--email"), ("user create", "--password"),
        ("user create", "--password-file"), ("user create", "--password-stdin"), ("user create", "--admin"),
        ("token create", "--user"), ("token create", "--read-only"), ("org create", "<NAME>"),
        ("org create", "--owner"), ("quota set", "--private"), ("quota set", "--public"),
        ("config show", "--json"), ("serve", "--listen"), ("", "--data-dir"),
    ]:
        assert (cmd, arg) in seen, (cmd, arg)
    text = run("user", "create", "--help", env=clean_env()).stdout
    assert "at least 8 characters" in text and "common password" in text


# --- the password rule ------------------------------------------------------------------------

RULE = "a password needs at least 8 characters (at most 1024) and must not be the user name, one character repeated, or one of the 20,000 most common passwords"


def test_password_rule_through_the_cli(tmp_path):
    env = clean_env(KOHAKU_HUB_DATA_DIR=str(tmp_path / "d"))
    assert run("init", env=env).returncode == 0
    for pw, why in (("aaaaaaaaaa", "one character repeated"), ("password123", "most common"),
                    ("Password123", "most common"), ("short", "too short"), ("quentin-q", None)):
        r = run("user", "create", "quentin-q", "--email", "q@example.com", "--password", pw, env=env)
        assert r.returncode != 0, pw
        assert RULE in r.stderr, (pw, r.stderr)
        assert why is None or why in r.stderr, (pw, r.stderr)
    assert "user name" in run("user", "create", "quentin-q", "--email", "q@example.com", "--password", "Quentin-Q", env=env).stderr
    assert json.loads(run("user", "list", "--json", env=env).stdout) == []
    # Scripts: from a file (first line), from standard input.
    pw_file = tmp_path / "pw"
    pw_file.write_text("quentin-secret-1\nignored second line\n")
    r = run("user", "create", "quentin", "--email", "q@example.com", "--password-file", str(pw_file), env=env)
    assert r.returncode == 0, r.stderr
    r = run("user", "create", "rita", "--email", "r@example.com", "--password-stdin", env=env, input="rita-secret-22\n")
    assert r.returncode == 0, r.stderr
    # Only one source at a time; an empty or missing source is refused.
    r = run("user", "create", "sam", "--email", "s@example.com", "--password", "sam-secret-1", "--password-stdin", env=env)
    assert r.returncode != 0 and "cannot be used with" in r.stderr
    r = run("user", "create", "sam", "--email", "s@example.com", "--password-stdin", env=env, input="")
    assert r.returncode != 0 and "no password in standard input" in r.stderr
    r = run("user", "create", "sam", "--email", "s@example.com", "--password-file", str(tmp_path / "nope"), env=env)
    assert r.returncode != 0 and "cannot read --password-file" in r.stderr
    weak = tmp_path / "weak"
    weak.write_text("password123\n")
    r = run("user", "passwd", "rita", "--password-file", str(weak), env=env)
    assert r.returncode != 0 and RULE in r.stderr
    names = sorted(u["username"] for u in json.loads(run("user", "list", "--json", env=env).stdout))
    assert names == ["quentin", "rita"]
    # The passwords work: log in over HTTP with them.
    port = free_port()
    h = Hub(str(tmp_path / "d"), port=port, share=None)
    h.env = {**env, "KOHAKU_HUB_LISTEN": f"127.0.0.1:{port}"}
    h.start()
    try:
        for user, pw in (("quentin", "quentin-secret-1"), ("rita", "rita-secret-22")):
            r = httpx2.post(f"{h.endpoint}/api/auth/login", json={"username": user, "password": pw})
            assert r.status_code == 200, (user, r.text)
    finally:
        h.stop()


def test_password_rule_through_registration(open_hub):
    with httpx2.Client(base_url=f"http://127.0.0.1:{open_hub.port}", timeout=60) as c:
        for pw in ("aaaaaaaaaa", "password123", "iloveyou2", "short"):
            name = "u" + uuid.uuid4().hex[:8]
            r = c.post("/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": pw})
            assert r.status_code == 400, (pw, r.text)
            assert r.headers["x-error-code"] == "BadRequest"
            assert RULE in r.headers["x-error-message"] and RULE in r.json()["error"], pw
            # Nothing was created: the name is still free.
            r = c.post("/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "a-fine-passphrase"})
            assert r.status_code == 200, r.text
