"""Cross-site writes with the session cookie are refused.

A browser attaches the session cookie to requests other sites make it send; SameSite=Lax stops
only some of them. A state-changing request authenticated by the cookie must come from the
hub's own origin (Origin, else Sec-Fetch-Site), and one whose body a cross-site HTML form could
have sent (urlencoded, multipart, text/plain) must also carry the session's CSRF token.
Requests authenticated by a token (Authorization) are not concerned.
"""
import json
import uuid

import httpx2
import pytest

from conftest import auth
from test_bad_input import assert_error

EVIL = "http://evil.example"


@pytest.fixture
def session(hub, http):
    """A fresh user logged in through the real login endpoint: (name, cookies, csrf token)."""
    name = f"cs{uuid.uuid4().hex[:8]}"
    r = http.post("/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "csrf-password"})
    assert r.status_code == 200, r.text
    sid, token = login(hub, name)
    return name, {"cookie": f"session_id={sid}"}, token


def login(hub, name):
    """Log in with a client of its own (the tests send the cookie explicitly)."""
    r = httpx2.post(f"{hub.endpoint}/api/auth/login", json={"username": name, "password": "csrf-password"}, timeout=60)
    assert r.status_code == 200, r.text
    return r.cookies["session_id"], r.json().get("csrf_token")


def create(http, cookies, name, headers, as_text=False):
    body = json.dumps({"name": name})
    if as_text:
        headers = {"content-type": "text/plain", **headers}
    else:
        headers = {"content-type": "application/json", **headers}
    return http.post("/api/repos/create", content=body, headers={**headers, **cookies})


def exists(http, hub, rid):
    return http.get(f"/api/models/{rid}", headers=auth(hub, "hubadmin")).status_code == 200


def refused(r, why):
    assert_error(r, 403, "Forbidden")
    assert why in r.headers["x-error-message"], r.headers["x-error-message"]


def test_cross_site_writes_with_the_cookie_are_refused(hub, http, session):
    name, cookies, token = session
    n = lambda: f"r{uuid.uuid4().hex[:8]}"  # noqa: E731

    # The classic cross-site form: text/plain, foreign Origin. Refused, nothing created.
    rid = f"{name}/{n()}"
    refused(create(http, cookies, rid.split("/")[1], {"origin": EVIL}, as_text=True), "cross-site")
    assert not exists(http, hub, rid)
    # Even with the right token, a foreign origin is refused.
    refused(create(http, cookies, rid.split("/")[1], {"origin": EVIL, "x-csrf-token": token}), "cross-site")
    refused(create(http, cookies, rid.split("/")[1], {"origin": "null"}), "cross-site")
    # No Origin, but the browser says the request is cross-site (or same-site: a sibling host).
    for site in ("cross-site", "same-site"):
        refused(create(http, cookies, rid.split("/")[1], {"sec-fetch-site": site}), "cross-site")
    assert not exists(http, hub, rid)

    # The hub's own pages: JSON from the hub's origin needs nothing more.
    r = create(http, cookies, rid.split("/")[1], {"origin": hub.endpoint, "sec-fetch-site": "same-origin"})
    assert r.status_code == 200, r.text
    assert exists(http, hub, rid)
    # Sec-Fetch-Site alone: same-origin, or none (typed in the address bar).
    for site in ("same-origin", "none"):
        rid2 = f"{name}/{n()}"
        assert create(http, cookies, rid2.split("/")[1], {"sec-fetch-site": site}).status_code == 200
        assert exists(http, hub, rid2)
    # The origin of the Host the browser used (scheme from base_url) is the hub's too.
    port = hub.endpoint.rsplit(":", 1)[1]
    rid3 = f"{name}/{n()}"
    r = create(http, cookies, rid3.split("/")[1], {"origin": f"http://localhost:{port}", "host": f"localhost:{port}"})
    assert r.status_code == 200, r.text

    # A form-type body from the hub's origin still needs the session's CSRF token, which the
    # login answer carries.
    assert isinstance(token, str) and len(token) >= 32, token
    rid4 = f"{name}/{n()}"
    refused(create(http, cookies, rid4.split("/")[1], {"origin": hub.endpoint}, as_text=True), "CSRF token")
    refused(create(http, cookies, rid4.split("/")[1], {"origin": hub.endpoint, "x-csrf-token": "0" * 64}, as_text=True), "CSRF token")
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "TEXT/PLAIN; charset=utf-8"):
        r = http.post("/api/repos/create", content=json.dumps({"name": rid4.split("/")[1]}), headers={"content-type": ctype, **cookies})
        refused(r, "CSRF token")
    assert not exists(http, hub, rid4)
    r = create(http, cookies, rid4.split("/")[1], {"origin": hub.endpoint, "x-csrf-token": token}, as_text=True)
    assert r.status_code == 200, r.text
    assert exists(http, hub, rid4)
    # Another session's token is not this one's.
    _, other = login(hub, name)
    assert other != token
    rid5 = f"{name}/{n()}"
    refused(create(http, cookies, rid5.split("/")[1], {"x-csrf-token": other}, as_text=True), "CSRF token")

    # The front end can also read the token from whoami-v2 when the cookie authenticates it.
    me = http.get("/api/whoami-v2", headers={"origin": EVIL, "sec-fetch-site": "cross-site", **cookies})
    assert me.status_code == 200  # reads are not concerned
    assert me.json()["name"] == name and me.json()["auth"]["csrfToken"] == token
    assert "csrfToken" not in http.get("/api/whoami-v2", headers=auth(hub)).json()["auth"]


def test_token_authenticated_calls_are_unaffected(hub, http, session):
    name, cookies, _ = session
    # A Bearer token with a foreign Origin and a form-type body: the cookie plays no part.
    rn = f"bt{uuid.uuid4().hex[:8]}"
    r = http.post(
        "/api/repos/create",
        content=json.dumps({"name": rn}),
        headers={**auth(hub), "content-type": "text/plain", "origin": EVIL, "sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 200, r.text
    assert exists(http, hub, f"alice/{rn}")
    # Even when the browser's cookie comes along, the token is what authenticates.
    r = http.request(
        "DELETE",
        "/api/repos/delete",
        content=json.dumps({"name": rn, "type": "model"}),
        headers={**auth(hub), "content-type": "text/plain", "origin": EVIL, **cookies},
    )
    assert r.status_code == 200, r.text
    assert not exists(http, hub, f"alice/{rn}")


def test_every_cookie_route_is_checked(hub, http, session):
    """The check is where the cookie becomes a caller: settings, deletion, tokens, logout."""
    name, cookies, token = session
    rid = f"{name}/shared-{uuid.uuid4().hex[:8]}"
    assert create(http, cookies, rid.split("/")[1], {}).status_code == 200
    cross = {"origin": EVIL, "content-type": "application/json"}

    r = http.put(f"/api/models/{rid}/settings", content=json.dumps({"private": True}), headers={**cross, **cookies})
    refused(r, "cross-site")
    r = http.request("DELETE", "/api/repos/delete", content=json.dumps({"name": rid.split("/")[1], "type": "model"}), headers={**cross, **cookies})
    refused(r, "cross-site")
    r = http.post("/api/auth/tokens/create", content=json.dumps({"name": "stolen"}), headers={**cross, **cookies})
    refused(r, "cross-site")
    r = http.post(f"/api/models/{rid}/branch/evil", content=b"{}", headers={**cross, **cookies})
    refused(r, "cross-site")
    # Logging a user out is a write too.
    refused(http.post("/api/auth/logout", headers={"sec-fetch-site": "cross-site", **cookies}), "cross-site")

    # Nothing changed, and the session still works.
    info = http.get(f"/api/models/{rid}", headers=cookies)
    assert info.status_code == 200 and info.json()["private"] is False
    assert [b["name"] for b in http.get(f"/api/models/{rid}/refs", headers=cookies).json()["branches"]] == ["main"]
    assert http.get("/api/auth/tokens", headers=cookies).json()["tokens"] == []
    assert http.get("/api/whoami-v2", headers=cookies).status_code == 200

    # From the hub's own origin the same requests go through.
    same = {"origin": hub.endpoint, "content-type": "application/json"}
    r = http.put(f"/api/models/{rid}/settings", content=json.dumps({"private": True}), headers={**same, **cookies})
    assert r.status_code == 200, r.text
    r = http.request("DELETE", "/api/repos/delete", content=json.dumps({"name": rid.split("/")[1], "type": "model"}), headers={**same, **cookies})
    assert r.status_code == 200, r.text
    assert not exists(http, hub, rid)
    assert http.post("/api/auth/logout", headers={"origin": hub.endpoint, **cookies}).status_code == 200
    assert http.get("/api/whoami-v2", headers=cookies).status_code == 401


def test_no_login_or_signup_from_a_cross_site_form(hub, http, session):
    """A form on another site can post text/plain or urlencoded, not JSON: login and register
    take JSON only, so nobody can log a visitor into an account of theirs."""
    name = session[0]
    body = json.dumps({"username": name, "password": "csrf-password"})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"origin": "http://evil.example"}
        if ctype:
            headers["content-type"] = ctype
        r = httpx2.post(f"{hub.endpoint}/api/auth/login", content=body, headers=headers, timeout=60)
        assert r.status_code == 400, (ctype, r.status_code, r.text)
        assert "session_id" not in r.cookies
        reg = json.dumps({"username": f"x{uuid.uuid4().hex[:8]}", "email": "x@example.com", "password": "a-good-password"})
        assert httpx2.post(f"{hub.endpoint}/api/auth/register", content=reg, headers=headers, timeout=60).status_code == 400
    ok = httpx2.post(f"{hub.endpoint}/api/auth/login", content=body, headers={"content-type": "application/json"}, timeout=60)
    assert ok.status_code == 200
