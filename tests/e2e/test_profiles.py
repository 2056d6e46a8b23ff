"""SSH keys, profile settings, avatars, name checks, and hub administration (CLI and HTTP)."""
import io
import subprocess
import uuid

import httpx2
import pytest
from PIL import Image

from conftest import auth


@pytest.mark.parametrize("kind", [("rsa", "3072"), ("dsa", "1024"), ("ecdsa", "256"), ("ecdsa", "384"), ("ecdsa", "521"), ("ed25519", None)])
def test_ssh_keys_all_types(hub, http, tmp_path, kind):
    t, bits = kind
    path = tmp_path / "key"
    args = ["ssh-keygen", "-q", "-t", t, "-N", "", "-C", "me@laptop", "-f", str(path)] + (["-b", bits] if bits else [])
    subprocess.run(args, check=True, capture_output=True)
    pub = (tmp_path / "key.pub").read_text().strip()
    expected_fp = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "key.pub")], check=True, capture_output=True, text=True).stdout.split()[1]
    r = http.post("/api/user/keys", json={"title": f"{t}-{bits}", "key": pub}, headers=auth(hub, "bob"))
    assert r.status_code == 200, r.text
    k = r.json()
    assert k["fingerprint"] == expected_fp
    assert k["key_type"] == pub.split()[0]
    assert http.get(f"/api/user/keys/{k['id']}", headers=auth(hub, "bob")).json()["fingerprint"] == expected_fp
    assert k["id"] in [x["id"] for x in http.get("/api/user/keys", headers=auth(hub, "bob")).json()]
    # The same key again, by anyone: refused.
    assert http.post("/api/user/keys", json={"title": "again", "key": pub}, headers=auth(hub, "alice")).status_code == 409
    # Someone else's key id is not visible.
    assert http.get(f"/api/user/keys/{k['id']}", headers=auth(hub, "alice")).status_code == 404
    assert http.delete(f"/api/user/keys/{k['id']}", headers=auth(hub, "alice")).status_code == 404
    assert http.delete(f"/api/user/keys/{k['id']}", headers=auth(hub, "bob")).status_code == 200
    assert http.get(f"/api/user/keys/{k['id']}", headers=auth(hub, "bob")).status_code == 404


def test_ssh_keys_malformed(hub, http):
    good = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/dev/stdout"], capture_output=True, text=True, input="y\n")
    for bad in ["", "ssh-ed25519", "ssh-ed25519 !!!notbase64", "ssh-unknown AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",  # type mismatch
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9G",  # truncated
                "ssh-ed25519 " + "A" * 20000]:
        r = http.post("/api/user/keys", json={"title": "x", "key": bad}, headers=auth(hub, "bob"))
        assert r.status_code == 400, (bad[:40], r.text)
    assert http.post("/api/user/keys", json={"key": "x"}).status_code == 401
    assert http.get("/api/user/keys/abc", headers=auth(hub, "bob")).status_code == 400


def image_bytes(fmt, size=(300, 200), mode="RGBA"):
    img = Image.new(mode, size, (255, 0, 0, 128) if mode == "RGBA" else (255, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,mode", [("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGBA"), ("GIF", "RGB")])
def test_user_avatar_formats(hub, http, fmt, mode):
    data = image_bytes(fmt, mode=mode)
    r = http.post("/api/users/bob/avatar", files={"file": (f"a.{fmt.lower()}", data, f"image/{fmt.lower()}")}, headers=auth(hub, "bob"))
    assert r.status_code == 200, r.text
    g = http.get("/api/users/bob/avatar")
    assert g.status_code == 200 and g.headers["content-type"] == "image/jpeg"
    assert g.headers["cache-control"] == "public, max-age=86400" and g.headers["last-modified"].endswith("GMT")
    img = Image.open(io.BytesIO(g.content))
    assert img.format == "JPEG" and img.size == (200, 200)
    if mode == "RGBA":  # transparency flattened on white: half-red becomes pink
        r_, g_, b_ = img.getpixel((100, 100))
        assert r_ > 240 and 110 < g_ < 150 and 110 < b_ < 150


def test_avatar_resize_bad_input_and_permissions(hub, http):
    big = image_bytes("PNG", size=(3000, 1600), mode="RGB")
    assert http.post("/api/users/alice/avatar", content=big, headers={**auth(hub, "alice"), "content-type": "image/png"}).status_code == 200
    img = Image.open(io.BytesIO(http.get("/api/users/alice/avatar").content))
    assert img.size == (1024, 1024)
    before = http.get("/api/users/alice/avatar").content
    assert http.post("/api/users/alice/avatar", files={"file": ("x.txt", b"hello, not an image", "text/plain")}, headers=auth(hub, "alice")).status_code == 400
    assert http.post("/api/users/alice/avatar", content=b"\x89PNG\r\n\x1a\ncorrupt", headers=auth(hub, "alice")).status_code == 400
    huge = b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024)
    assert http.post("/api/users/alice/avatar", files={"file": ("big.jpg", huge, "image/jpeg")}, headers=auth(hub, "alice")).status_code == 413
    assert http.get("/api/users/alice/avatar").content == before  # unchanged
    assert http.post("/api/users/alice/avatar", content=big, headers=auth(hub, "bob")).status_code == 403
    assert http.post("/api/users/alice/avatar", content=big).status_code == 401
    assert http.post("/api/users/alice/avatar", content=big, headers=auth(hub, "alice_ro")).status_code == 403
    assert http.delete("/api/users/alice/avatar", headers=auth(hub, "alice")).status_code == 200
    assert http.get("/api/users/alice/avatar").status_code == 404
    assert http.get("/api/users/nobody-here/avatar").status_code == 404
    # Organization avatars: admins only.
    org = f"av{uuid.uuid4().hex[:6]}"
    http.post("/org/create", json={"name": org}, headers=auth(hub, "alice")).raise_for_status()
    http.post(f"/org/{org}/members", json={"username": "bob", "role": "member"}, headers=auth(hub, "alice")).raise_for_status()
    png = image_bytes("PNG")
    assert http.post(f"/api/organizations/{org}/avatar", content=png, headers=auth(hub, "bob")).status_code == 403
    assert http.post(f"/api/organizations/{org}/avatar", content=png, headers=auth(hub, "alice")).status_code == 200
    assert http.get(f"/api/organizations/{org}/avatar").status_code == 200


def test_profile_settings(hub, http):
    r = http.put("/api/users/bob/settings", json={"full_name": "Bob Builder", "bio": "builds models", "website": "https://bob.example"}, headers=auth(hub, "bob"))
    assert r.status_code == 200
    ov = http.get("/api/users/bob/overview").json()
    assert ov["fullname"] == "Bob Builder" and ov["details"] == "builds models"
    assert http.put("/api/users/bob/settings", json={"full_name": "x"}, headers=auth(hub, "alice")).status_code == 403
    assert http.put("/api/users/bob/settings", json={"full_name": "Admin Did It"}, headers=auth(hub, "hubadmin")).status_code == 200
    assert http.put("/api/users/bob/settings", json={"email": "alice@example.com"}, headers=auth(hub, "bob")).status_code == 409
    assert http.put("/api/users/bob/settings", json={"email": "not-an-email"}, headers=auth(hub, "bob")).status_code == 400
    assert http.put("/api/users/bob/settings", json={"website": "javascript:alert(1)"}, headers=auth(hub, "bob")).status_code == 400
    assert http.put("/api/users/bob/settings", json={"bio": "x" * 6000}, headers=auth(hub, "bob")).status_code == 400
    org = f"st{uuid.uuid4().hex[:6]}"
    http.post("/org/create", json={"name": org}, headers=auth(hub, "alice")).raise_for_status()
    assert http.put(f"/api/organizations/{org}/settings", json={"description": "we train"}, headers=auth(hub, "alice")).status_code == 200
    assert http.get(f"/org/{org}").json()["description"] == "we train"
    assert http.put(f"/api/organizations/{org}/settings", json={"description": "no"}, headers=auth(hub, "bob")).status_code == 403
    from huggingface_hub import HfApi

    assert HfApi(endpoint=hub.endpoint, token=False).get_organization_overview(org).details == "we train"


def test_check_name(hub, http, api):
    c = lambda **b: http.post("/api/validate/check-name", json=b).json()
    assert c(name="Brand-New_Name")["available"] is True
    r = c(name="Alice")
    assert r["available"] is False and r["conflict_with"] == "alice"
    assert c(name="api")["available"] is False
    assert c(name="bad name")["available"] is False
    rid = f"alice/My-Repo-{uuid.uuid4().hex[:6]}"
    api.create_repo(rid)
    r = c(name=rid.split("/")[1].lower().replace("-", "_"), namespace="alice", type="model")
    assert r["available"] is False and r["conflict_with"] == rid
    assert c(name=rid.split("/")[1], namespace="alice", type="dataset")["available"] is True
    assert http.post("/api/validate/check-name", json={"name": "x", "type": "nope"}).status_code == 400


def test_admin_cli_and_http(hub, http):
    name = f"adm{uuid.uuid4().hex[:6]}"
    hub.cli("user", "create", name, "--email", f"{name}@example.com", "--password", "first-password")
    tok = hub.cli("token", "create", "--user", name).stdout.strip()
    # Not an admin yet.
    assert http.get("/api/admin/users", headers={"authorization": f"Bearer {tok}"}).status_code == 403
    hub.cli("user", "set-admin", name)
    users = http.get("/api/admin/users", headers={"authorization": f"Bearer {tok}"}).json()
    assert name in [u["username"] for u in users]
    hub.cli("user", "set-admin", name, "--revoke")
    assert http.get("/api/admin/users", headers={"authorization": f"Bearer {tok}"}).status_code == 403
    # Password change ends sessions.
    assert httpx2.post(f"{hub.endpoint}/api/auth/login", json={"username": name, "password": "first-password"}).status_code == 200
    hub.cli("user", "passwd", name, "--password", "second-password")
    assert httpx2.post(f"{hub.endpoint}/api/auth/login", json={"username": name, "password": "first-password"}).status_code == 401
    assert httpx2.post(f"{hub.endpoint}/api/auth/login", json={"username": name, "password": "second-password"}).status_code == 200
    assert hub.cli("user", "passwd", name, "--password", "short", check=False).returncode != 0
    # Hub admin over HTTP: users, tokens, orgs.
    admin = auth(hub, "hubadmin")
    other = f"made{uuid.uuid4().hex[:6]}"
    assert http.post("/api/admin/users", json={"username": other, "email": f"{other}@example.com", "password": "a-good-password"}, headers=admin).status_code == 200
    t = http.post(f"/api/admin/users/{other}/tokens", json={"name": "ops", "read_only": True}, headers=admin).json()["token"]
    me = httpx2.get(f"{hub.endpoint}/api/whoami-v2", headers={"authorization": f"Bearer {t}"}).json()
    assert me["name"] == other and me["auth"]["accessToken"]["role"] == "read"
    tid = http.get(f"/api/admin/users/{other}/tokens", headers=admin).json()[0]["id"]
    assert http.delete(f"/api/admin/users/{other}/tokens/{tid}", headers=admin).status_code == 200
    org = f"ao{uuid.uuid4().hex[:6]}"
    assert http.post("/api/admin/orgs", json={"name": org, "owner": other}, headers=admin).status_code == 200
    assert http.post(f"/api/admin/orgs/{org}/members", json={"username": "bob", "role": "visitor"}, headers=admin).status_code == 200
    assert org in [o["name"] for o in http.get("/api/admin/orgs", headers=admin).json()]
    assert http.delete(f"/api/admin/orgs/{org}/members/bob", headers=admin).status_code == 200
    # Delete: refused while the user is an org's last super-admin or owns repos, then done.
    assert http.delete(f"/api/admin/users/{other}", headers=admin).status_code == 400
    assert http.post(f"/api/admin/orgs/{org}/members", json={"username": "bob", "role": "super-admin"}, headers=admin).status_code == 200
    assert http.delete(f"/api/admin/orgs/{org}/members/{other}", headers=admin).status_code == 200
    assert http.delete(f"/api/admin/users/{other}", headers=admin).status_code == 200
    assert http.get(f"/api/users/{other}/overview").status_code == 404
    # CLI delete asks unless --yes.
    third = f"del{uuid.uuid4().hex[:6]}"
    hub.cli("user", "create", third, "--email", f"{third}@example.com", "--password", "a-good-password")
    assert hub.cli("user", "delete", third, check=False).returncode != 0
    hub.cli("user", "delete", third, "--yes")
    assert "third" not in hub.cli("user", "list", "--json").stdout
    # Bad input.
    assert http.post("/api/admin/users", json={"username": "x y", "email": "a@b.co", "password": "a-good-password"}, headers=admin).status_code == 400
    assert http.get("/api/admin/nothing", headers=admin).status_code == 404
    assert http.get("/api/admin/users").status_code == 401
