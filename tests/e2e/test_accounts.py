"""Accounts over HTTP: registration policies, email verification over real SMTP, sessions,
tokens, invitations."""
import email
import os
import shutil
import tempfile
import time
import uuid

import httpx2
import pytest

from conftest import Hub, auth, free_port


def uname(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_register_login_token_upload_logout(hub, http):
    name = uname()
    r = http.post("/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "correct horse battery"})
    assert r.status_code == 200 and r.json()["email_verification_required"] is False
    with httpx2.Client(base_url=hub.endpoint, timeout=60) as browser:
        r = browser.post("/api/auth/login", json={"username": name, "password": "correct horse battery"})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Max-Age=" in cookie and "SameSite=Lax" in cookie
        assert browser.get("/api/auth/me").json()["username"] == name
        t = browser.post("/api/auth/tokens/create", json={"name": "laptop"}).json()
        assert t["token"].startswith("hf_")
        tokens = browser.get("/api/auth/tokens").json()["tokens"]
        assert [x["name"] for x in tokens] == ["laptop"] and t["token"] not in str(tokens)
        # The token works with huggingface_hub.
        from huggingface_hub import HfApi

        api = HfApi(endpoint=hub.endpoint, token=t["token"])
        assert api.whoami()["name"] == name
        assert api.whoami()["auth"]["accessToken"]["displayName"] == "laptop"
        api.create_repo(f"{name}/first")
        api.upload_file(path_or_fileobj=b"hi", path_in_repo="hi.txt", repo_id=f"{name}/first")
        # Sessions can create repos too (the web UI's way).
        assert browser.post("/api/repos/create", json={"name": "second"}).status_code == 200
        # Revoke, then log out.
        assert browser.delete(f"/api/auth/tokens/{tokens[0]['id']}").status_code == 200
        assert httpx2.get(f"{hub.endpoint}/api/whoami-v2", headers={"authorization": f"Bearer {t['token']}"}).status_code == 401
        assert browser.post("/api/auth/logout").status_code == 200
        browser.cookies.clear()
        assert browser.get("/api/auth/me").status_code == 401


def test_login_and_register_bad_input(hub, http):
    name = uname()
    ok = {"username": name, "email": f"{name}@example.com", "password": "a-good-password"}
    assert http.post("/api/auth/register", json=ok).status_code == 200
    cases = [
        ({**ok}, 409),  # duplicate name
        ({**ok, "username": name.upper()}, 409),  # duplicate after normalisation
        ({**ok, "username": uname(), "email": ok["email"]}, 409),  # duplicate email
        ({**ok, "username": "admin", "email": "x1@example.com"}, 400),  # reserved
        ({**ok, "username": "bad name", "email": "x2@example.com"}, 400),
        ({**ok, "username": uname(), "email": "x3@example.com", "password": ""}, 400),
        ({**ok, "username": uname(), "email": "x4@example.com", "password": "short"}, 400),
        ({**ok, "username": uname(), "email": "x5@example.com", "password": "aaaaaaaaaa"}, 400),
        ({**ok, "username": uname(), "email": "not-an-email"}, 400),
    ]
    for body, status in cases:
        r = http.post("/api/auth/register", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["x-error-code"]
    assert http.post("/api/auth/register", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    r = http.post("/api/auth/login", json={"username": name, "password": "wrong-password"})
    assert r.status_code == 401
    assert http.post("/api/auth/login", json={"username": "nobody-at-all", "password": "wrong-password"}).status_code == 401
    # Wrong session cookies: anonymous for reads, 401 where a login is needed.
    bad = {"cookie": "session_id=" + "0" * 64}
    assert http.get("/api/auth/me", headers=bad).status_code == 401
    assert http.get("/api/models", headers=bad).status_code == 200
    assert http.post("/api/auth/tokens/create", json={"name": "x"}, headers=bad).status_code == 401
    assert http.post("/api/auth/tokens/create", json={"name": ""}, headers=auth(hub)).status_code == 400
    assert http.post("/api/auth/tokens/create", json={"name": "x", "role": "god"}, headers=auth(hub)).status_code == 400
    assert http.delete("/api/auth/tokens/999999", headers=auth(hub)).status_code == 404
    assert http.delete("/api/auth/tokens/abc", headers=auth(hub)).status_code == 400


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, inbox
    ctl.stop()


def start_hub(extra):
    data = tempfile.mkdtemp(prefix="kohaku-e2e-acct-")
    h = Hub(data, port=free_port(), extra_env=extra)
    h.cli("user", "create", "boss", "--email", "boss@example.com", "--password", "boss-password", "--admin")
    h.tokens["boss"] = h.cli("token", "create", "--user", "boss").stdout.strip()
    h.start()
    return h


def test_email_verification_over_smtp(smtp):
    port, inbox = smtp
    h = start_hub({
        "KOHAKU_HUB_SMTP_ENABLED": "true", "KOHAKU_HUB_SMTP_HOST": "127.0.0.1", "KOHAKU_HUB_SMTP_PORT": str(port),
        "KOHAKU_HUB_SMTP_TLS": "none", "KOHAKU_HUB_SMTP_FROM": "hub@example.com", "KOHAKU_HUB_REQUIRE_EMAIL_VERIFICATION": "true",
    })
    try:
        with httpx2.Client(base_url=h.endpoint, timeout=60) as c:
            name = uname()
            r = c.post("/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "a-good-password"})
            assert r.status_code == 200 and r.json()["email_verification_required"] is True
            assert c.post("/api/auth/login", json={"username": name, "password": "a-good-password"}).status_code == 403
            for _ in range(100):
                mails = [m for m in inbox.messages if m["To"] == f"{name}@example.com"]
                if mails:
                    break
                time.sleep(0.05)
            assert mails, "no verification mail arrived"
            body = mails[0].get_payload(decode=True).decode()
            link = next(w for w in body.split() if "/api/auth/verify-email?token=" in w)
            assert link.startswith(h.endpoint)
            assert c.get(link.replace(h.endpoint, "") + "x").status_code == 400  # a wrong token
            assert c.get(link.replace(h.endpoint, "")).status_code == 200
            assert c.get(link.replace(h.endpoint, "")).status_code == 400  # single use
            r = c.post("/api/auth/login", json={"username": name, "password": "a-good-password"})
            assert r.status_code == 200
            tok = c.post("/api/auth/tokens/create", json={"name": "t"}).json()["token"]
            from huggingface_hub import HfApi

            api = HfApi(endpoint=h.endpoint, token=tok)
            api.create_repo(f"{name}/m")
            api.upload_file(path_or_fileobj=b"verified", path_in_repo="v.txt", repo_id=f"{name}/m")
            assert api.list_repo_files(f"{name}/m") == [".gitattributes", "v.txt"]
    finally:
        h.stop()
        shutil.rmtree(h.data_dir, ignore_errors=True)


def test_invitation_only_and_closed_registration():
    h = start_hub({"KOHAKU_HUB_REGISTRATION": "invitation-only"})
    try:
        with httpx2.Client(base_url=h.endpoint, timeout=60) as c:
            body = lambda n, inv=None: {"username": n, "email": f"{n}@example.com", "password": "a-good-password", **({"invitation_token": inv} if inv else {})}
            assert c.post("/api/auth/register", json=body(uname())).status_code == 403
            boss = auth(h, "boss")
            one = c.post("/api/invitations/create", json={}, headers=boss).json()["token"]
            assert c.post("/api/auth/register", json=body(uname(), one)).status_code == 200
            r = c.post("/api/auth/register", json=body(uname(), one))
            assert r.status_code == 410  # single use, exhausted
            assert c.post("/api/auth/register", json=body(uname(), "f" * 64)).status_code == 404
            two = c.post("/api/invitations/create", json={"max_usage": 2}, headers=boss).json()["token"]
            assert c.post("/api/auth/register", json=body(uname(), two)).status_code == 200
            assert c.post("/api/auth/register", json=body(uname(), two)).status_code == 200
            assert c.post("/api/auth/register", json=body(uname(), two)).status_code == 410
            many = c.post("/api/invitations/create", json={"max_usage": -1}, headers=boss).json()["token"]
            for _ in range(3):
                assert c.post("/api/auth/register", json=body(uname(), many)).status_code == 200
            # Expired: age it in the database itself.
            exp = c.post("/api/invitations/create", json={"max_usage": -1}, headers=boss).json()
            h.sql("UPDATE invitations SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", exp["id"])
            assert c.get(f"/api/invitations/{exp['token']}").json()["is_expired"] is True
            assert c.post("/api/auth/register", json=body(uname(), exp["token"])).status_code == 410
            # A failed registration consumes nothing and creates nobody.
            name = uname()
            assert c.post("/api/auth/register", json={**body(name, many), "password": "x"}).status_code == 400
            assert c.post("/api/auth/login", json={"username": name, "password": "x"}).status_code == 401
            # Only hub admins make registration invitations.
            assert c.post("/api/invitations/create", json={}).status_code == 401
    finally:
        h.stop()
        shutil.rmtree(h.data_dir, ignore_errors=True)
    h = start_hub({"KOHAKU_HUB_REGISTRATION": "closed"})
    try:
        r = httpx2.post(f"{h.endpoint}/api/auth/register", json={"username": uname(), "email": "c@example.com", "password": "a-good-password"})
        assert r.status_code == 403 and "closed" in r.headers["x-error-message"]
    finally:
        h.stop()
        shutil.rmtree(h.data_dir, ignore_errors=True)


def test_org_invitations(hub, http):
    org = uname("inv")
    assert http.post("/org/create", json={"name": org}, headers=auth(hub, "alice")).status_code == 200
    r = http.post(f"/api/invitations/org/{org}/create", json={"role": "member", "max_usage": 2, "email": "x@example.com"}, headers=auth(hub, "alice"))
    assert r.status_code == 200
    inv = r.json()
    assert inv["is_reusable"] is True and inv["token"] and inv["invitation_link"].startswith(hub.endpoint)
    info = http.get(f"/api/invitations/{inv['token']}").json()
    assert info["org"] == org and info["role"] == "member" and info["usage_count"] == 0
    assert http.post(f"/api/invitations/{inv['token']}/accept", headers=auth(hub, "bob")).status_code == 200
    assert http.post(f"/api/invitations/{inv['token']}/accept", headers=auth(hub, "bob")).status_code == 409  # already a member
    roles = {m["user"]: m["role"] for m in http.get(f"/org/{org}/members").json()["members"]}
    assert roles["bob"] == "member"
    assert http.get(f"/api/invitations/{inv['token']}").json()["usage_count"] == 1
    # bob (member) cannot invite, list or delete.
    assert http.post(f"/api/invitations/org/{org}/create", json={"role": "member"}, headers=auth(hub, "bob")).status_code == 403
    assert http.get(f"/api/invitations/org/{org}/list", headers=auth(hub, "bob")).status_code == 403
    assert http.delete(f"/api/invitations/{inv['token']}", headers=auth(hub, "bob")).status_code == 403
    listed = http.get(f"/api/invitations/org/{org}/list", headers=auth(hub, "alice")).json()["invitations"]
    assert [i["id"] for i in listed] == [inv["id"]] and "token" not in listed[0]
    # Bad input.
    for body in ({"role": "emperor"}, {"max_usage": 0}, {"max_usage": -5}, {"expires_days": 0}, {"email": "nope"}):
        assert http.post(f"/api/invitations/org/{org}/create", json=body, headers=auth(hub, "alice")).status_code == 400, body
    assert http.post("/api/invitations/org/no-such-org-x/create", json={}, headers=auth(hub, "alice")).status_code == 404
    assert http.delete(f"/api/invitations/{inv['token']}", headers=auth(hub, "alice")).status_code == 200
    assert http.get(f"/api/invitations/{inv['token']}").status_code == 404
    assert http.post(f"/api/invitations/{inv['token']}/accept", headers=auth(hub, "hubadmin")).status_code == 404


def test_deactivated_user_tokens_and_sessions_stop_working(hub, http):
    name = "off" + uuid.uuid4().hex[:8]
    hub.cli("user", "create", name, "--email", f"{name}@example.com", "--password", "off-password")
    token = hub.cli("token", "create", "--user", name).stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/whoami-v2", headers=bearer).status_code == 200
    login = http.post("/api/auth/login", json={"username": name, "password": "off-password"})
    assert login.status_code == 200
    cookies = dict(login.cookies)
    assert http.get("/api/whoami-v2", cookies=cookies).status_code == 200
    hub.sql("UPDATE users SET is_active = 0 WHERE username = ?", name)
    assert http.get("/api/whoami-v2", headers=bearer).status_code == 401
    assert http.get("/api/whoami-v2", cookies=cookies).status_code == 401
    hub.sql("UPDATE users SET is_active = 1 WHERE username = ?", name)
    assert http.get("/api/whoami-v2", headers=bearer).status_code == 200
