"""TLS to PostgreSQL with libpq's sslmode meanings (runs when the server has TLS on)."""
import os
import shutil
import tempfile
import uuid

import httpx2
import pytest

from conftest import PG_URL, Hub, free_port, psql

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the PostgreSQL+S3 pass)")


def server_cert():
    if psql(PG_URL, "SHOW ssl")[0][0] != "on":
        pytest.skip("this PostgreSQL server has TLS off")
    path = psql(PG_URL, "SHOW ssl_cert_file")[0][0]
    if not os.path.isabs(path) or not os.access(path, os.R_OK):
        pytest.skip("the server's certificate is not readable here")
    return path


def with_params(hub, params):
    return hub.database_url + "&" + params


def ssl_of(app):
    rows = psql(
        PG_URL,
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
        f"WHERE a.application_name = '{app}'",
    )
    return {r[0] for r in rows}


def test_sslmodes(tmp_path):
    cert = server_cert()
    hub = Hub(tempfile.mkdtemp(prefix="kohaku-e2e-tls-"), port=free_port())
    try:
        for mode, encrypted in (("require", "t"), ("disable", "f")):
            app = f"kohaku-tls-{uuid.uuid4().hex[:8]}"
            hub.env["KOHAKU_HUB_DATABASE_URL"] = with_params(hub, f"sslmode={mode}&application_name={app}")
            hub.start()
            assert httpx2.get(f"{hub.endpoint}/api/models").status_code == 200
            assert ssl_of(app) == {encrypted}, mode
            hub.stop()
        # verify-*: the chain must lead to sslrootcert; verify-full also checks the host name.
        r = hub.cli("--database-url", with_params(hub, f"sslmode=verify-ca&sslrootcert={cert}"), "db", "migrate", check=False)
        assert r.returncode == 0, r.stderr
        r = hub.cli("--database-url", with_params(hub, f"sslmode=verify-full&sslrootcert={cert}"), "db", "migrate", check=False)
        assert r.returncode != 0 and "not valid for name" in r.stderr, r.stderr
        if 'DnsName("localhost")' in r.stderr:
            # The certificate names localhost: connecting by that name passes verify-full.
            local = hub.database_url.replace("@127.0.0.1:", "@localhost:")
            r = hub.cli("--database-url", local + f"&sslmode=verify-full&sslrootcert={cert}", "db", "migrate", check=False)
            assert r.returncode == 0, r.stderr
        refused = {
            with_params(hub, "sslmode=verify-full"): "UnknownIssuer",  # not from a public CA
            with_params(hub, "sslmode=verify-ca&sslrootcert=/nonexistent.pem"): "sslrootcert",
            with_params(hub, "sslmode=sometimes"): "sslmode=sometimes",
        }
        for url, message in refused.items():
            r = hub.cli("--database-url", url, "db", "migrate", check=False)
            assert r.returncode != 0 and message in r.stderr, (url, r.stderr)
    finally:
        hub.stop()
        shutil.rmtree(hub.data_dir, ignore_errors=True)
