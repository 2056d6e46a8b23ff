"""Drives a real `kohaku serve` with the real huggingface_hub client.

The hub is started once per session from the built binary (KOHAKU_BIN), on a free port, with
a fresh data directory; users and tokens are made with the `kohaku` CLI against the same data.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KOHAKU = os.environ.get("KOHAKU_BIN") or os.path.join(ROOT, "target", "release", "kohaku")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = _free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
_HOME = tempfile.mkdtemp(prefix="kohaku-e2e-home-")
# huggingface_hub reads these at import time: set them before any test module imports it.
os.environ.update(
    {
        "HF_ENDPOINT": ENDPOINT,
        "HF_HOME": _HOME,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "HF_HUB_ETAG_TIMEOUT": "30",
        "HF_HUB_DOWNLOAD_TIMEOUT": "60",
    }
)
os.environ.pop("HF_TOKEN", None)

MULTIPART_THRESHOLD = 20_000_000
MULTIPART_CHUNK = 8_000_000


# S3 mode: scripts/test.sh runs the suite a second time against an S3-compatible server
# (s3s-fs, SigV4 on) whose buckets are directories under KOHAKU_TEST_S3_ROOT.
S3_ENDPOINT = os.environ.get("KOHAKU_TEST_S3_ENDPOINT")
S3_ROOT = os.environ.get("KOHAKU_TEST_S3_ROOT")
S3_ACCESS_KEY = os.environ.get("KOHAKU_TEST_S3_ACCESS_KEY", "kohaku-test")
S3_SECRET_KEY = os.environ.get("KOHAKU_TEST_S3_SECRET_KEY", "kohaku-test-secret")


def s3_env(bucket):
    """Configuration of a hub that keeps its objects in `bucket` (created here)."""
    os.makedirs(os.path.join(S3_ROOT, bucket), exist_ok=True)
    return {
        "KOHAKU_HUB_STORAGE": "s3",
        "KOHAKU_HUB_S3_ENDPOINT": S3_ENDPOINT,
        "KOHAKU_HUB_S3_BUCKET": bucket,
        "KOHAKU_HUB_S3_ACCESS_KEY": S3_ACCESS_KEY,
        "KOHAKU_HUB_S3_SECRET_KEY": S3_SECRET_KEY,
    }


# PostgreSQL mode: scripts/test.sh runs the suite once more with KOHAKU_TEST_PG_URL naming a
# database of its own; every hub then gets a schema of its own in it.
PG_URL = os.environ.get("KOHAKU_TEST_PG_URL")


def psql(url, sql):
    """Run SQL with the psql client; rows as tuples (numbers as int, NULL as None)."""
    r = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-F", "\t", "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    if r.returncode != 0:
        raise AssertionError(f"psql failed: {r.stderr}")

    def cell(v):
        if v == "":
            return None
        try:
            return int(v)
        except ValueError:
            return v

    return [tuple(cell(v) for v in line.split("\t")) for line in r.stdout.splitlines() if line]


def pg_schema_url(schema):
    """A URL selecting `schema` (created here) in the test database."""
    psql(PG_URL, f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _subcommand(args):
    """The subcommand of a `kohaku` command line (global options and their values skipped)."""
    it = iter(args)
    for a in it:
        if a in ("--config", "--data-dir", "--database-url"):
            next(it, None)
        elif not a.startswith("-"):
            return a
    return None


class Hub:
    def __init__(self, data_dir, port=PORT, extra_env=None, share=None):
        """A hub process; with `share`, a second process on the same database and bucket."""
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.env = dict(os.environ)
        if share is not None:
            self.env.update({k: v for k, v in share.env.items() if k.startswith("KOHAKU_HUB_")})
            self.storage_dir = share.storage_dir
            self.schema = getattr(share, "schema", None)
            self.database_url = share.database_url
        else:
            if S3_ENDPOINT:
                bucket = "b-" + uuid.uuid4().hex[:16]
                self.env.update(s3_env(bucket))
                # s3s-fs keeps each key as a file under the bucket's directory.
                self.storage_dir = os.path.join(S3_ROOT, bucket)
            else:
                self.storage_dir = os.path.join(data_dir, "storage")
            if PG_URL:
                self.schema = "h_" + uuid.uuid4().hex[:16]
                self.database_url = pg_schema_url(self.schema)
                self.env["KOHAKU_HUB_DATABASE_URL"] = self.database_url
            else:
                self.database_url = "sqlite://" + os.path.join(data_dir, "kohaku.db")
        self.env.update(
            {
                "KOHAKU_HUB_DATA_DIR": data_dir,
                "KOHAKU_HUB_LISTEN": f"127.0.0.1:{port}",
                "KOHAKU_HUB_LFS_MULTIPART_THRESHOLD_BYTES": str(MULTIPART_THRESHOLD),
                "KOHAKU_HUB_LFS_MULTIPART_CHUNK_BYTES": str(MULTIPART_CHUNK),
                "KOHAKU_HUB_LOG": "info,kohaku_daemon=debug",
            }
        )
        self.env.update(extra_env or {})
        self.proc = None
        self.tokens = {}
        # Only `kohaku serve` and `kohaku init` create a hub; a shared one exists already.
        self.initialised = share is not None

    def cli(self, *args, input=None, check=True):
        """Run `kohaku ARGS` on this hub's data. Like an operator, the first administration
        command on a fresh hub is preceded by `kohaku init`."""
        if not self.initialised and _subcommand(args) not in ("init", "serve", "config"):
            self.initialised = True
            self.cli("init")
        r = subprocess.run([KOHAKU, *args], env=self.env, capture_output=True, text=True, input=input, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kohaku {' '.join(args)} failed: {r.stderr}")
        return r

    def sql(self, query, *args):
        """Run SQL (`?` placeholders) directly on the hub's database, SQLite or PostgreSQL;
        returns the rows."""
        if PG_URL:
            parts = query.split("?")
            assert len(parts) == len(args) + 1, "one argument per placeholder"
            text = parts[0] + "".join(sql_literal(a) + p for a, p in zip(args, parts[1:]))
            return psql(self.database_url, text)
        import sqlite3

        db = sqlite3.connect(os.path.join(self.data_dir, "kohaku.db"), timeout=30)
        try:
            rows = db.execute(query, args).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def start(self):
        self.initialised = True
        self.log = open(os.path.join(self.data_dir, "serve.log"), "w")
        self.proc = subprocess.Popen([KOHAKU, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        import httpx2

        for _ in range(200):
            try:
                if httpx2.get(f"{self.endpoint}/health", timeout=1).status_code == 200:
                    return
            except Exception:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("kohaku serve exited: " + open(self.log.name).read())
            time.sleep(0.05)
        raise RuntimeError("kohaku serve did not become healthy")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def free_port():
    return _free_port()


def started_hub(port=PORT):
    """A hub on a fresh data directory with the users and tokens every test expects (alice,
    alice_ro, bob, hubadmin); stop it with `finished_hub`."""
    if not os.path.exists(KOHAKU):
        pytest.exit(f"kohaku binary not found at {KOHAKU}; build it first (cargo build --release)", 2)
    data = tempfile.mkdtemp(prefix="kohaku-e2e-data-")
    h = Hub(data, port=port)
    # Users and tokens through the CLI, on the same data the daemon will serve.
    h.cli("user", "create", "alice", "--email", "alice@example.com", "--password", "alice-password")
    h.cli("user", "create", "bob", "--email", "bob@example.com", "--password", "bob-password")
    h.cli("user", "create", "hubadmin", "--email", "root@example.com", "--password", "root-password", "--admin")
    h.tokens["alice"] = h.cli("token", "create", "--user", "alice", "--name", "e2e").stdout.strip()
    h.tokens["alice_ro"] = h.cli("token", "create", "--user", "alice", "--name", "ro", "--read-only").stdout.strip()
    h.tokens["bob"] = h.cli("token", "create", "--user", "bob").stdout.strip()
    h.tokens["hubadmin"] = h.cli("token", "create", "--user", "hubadmin").stdout.strip()
    h.start()
    return h


def finished_hub(h):
    h.stop()
    if os.environ.get("KOHAKU_KEEP_DATA"):
        print("data kept in", h.data_dir, file=sys.stderr)
    else:
        shutil.rmtree(h.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def hub():
    h = started_hub()
    yield h
    finished_hub(h)


def own_hub():
    """A module-scoped `hub` fixture for a module whose tests walk the whole hub (gc, fsck): with
    a small hub of its own their cost does not grow with the rest of the suite. In the module:
    `hub = own_hub()`."""

    @pytest.fixture(scope="module")
    def hub():
        from huggingface_hub import constants

        h = started_hub(port=free_port())
        # Module-level client calls (hf_hub_download...) use the endpoint read at import.
        saved = (os.environ["HF_ENDPOINT"], constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE)
        os.environ["HF_ENDPOINT"] = constants.ENDPOINT = h.endpoint
        constants.HUGGINGFACE_CO_URL_TEMPLATE = h.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        try:
            yield h
        finally:
            os.environ["HF_ENDPOINT"], constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE = saved
            finished_hub(h)

    return hub


@pytest.fixture
def api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.tokens["alice"])


@pytest.fixture
def bob_api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.tokens["bob"])


@pytest.fixture
def anon_api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=False)


@pytest.fixture
def repo_id(api):
    """A fresh public model repo of alice."""
    rid = f"alice/m-{uuid.uuid4().hex[:10]}"
    api.create_repo(rid)
    return rid


@pytest.fixture
def http(hub):
    import httpx2

    with httpx2.Client(base_url=hub.endpoint, timeout=60) as c:
        yield c


def auth(hub, who="alice"):
    return {"authorization": f"Bearer {hub.tokens[who]}"}
