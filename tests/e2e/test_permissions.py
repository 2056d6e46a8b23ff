"""The permission matrix: every role × every action on private and public repos of a user and
of an organization. Private repos are 404 to anyone who cannot read them."""
import base64
import hashlib
import json
import os
import subprocess
import uuid

import pytest

from conftest import auth

ROLES = ["anonymous", "outsider", "visitor", "member", "admin", "owner", "hubadmin", "readonly"]
READ = ["info", "tree", "resolve", "lfs_download", "clone"]
WRITE = ["commit", "lfs_upload", "push", "branch", "tag"]
ADMIN = ["settings", "delete", "move"]
TOKEN_OF = {"outsider": "bob", "visitor": "carol", "member": "dave", "admin": "erin", "owner": "alice", "hubadmin": "hubadmin", "readonly": "alice_ro"}


@pytest.fixture(scope="module")
def org(hub):
    name = f"acme{uuid.uuid4().hex[:6]}"
    for u in ("carol", "dave", "erin"):
        if u not in hub.tokens:
            hub.cli("user", "create", u, "--email", f"{u}@example.com", "--password", f"{u}-password")
            hub.tokens[u] = hub.cli("token", "create", "--user", u).stdout.strip()
    hub.cli("org", "create", name, "--owner", "alice")
    hub.cli("org", "add-member", name, "carol", "--role", "visitor")
    hub.cli("org", "add-member", name, "dave", "--role", "member")
    hub.cli("org", "add-member", name, "erin", "--role", "admin")
    return name


@pytest.fixture(scope="module")
def gitenv(tmp_path_factory):
    home = tmp_path_factory.mktemp("permhome")
    cfg = home / ".gitconfig"
    cfg.write_text("[user]\n\tname = T\n\temail = t@example.com\n")
    return dict(os.environ, HOME=str(home), GIT_CONFIG_GLOBAL=str(cfg), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1")


def headers(hub, role):
    return auth(hub, TOKEN_OF[role]) if role != "anonymous" else {}


def make_repo(http, hub, ns, private):
    name = f"p-{uuid.uuid4().hex[:8]}"
    r = http.post("/api/repos/create", json={"name": name, "organization": ns, "private": private}, headers=auth(hub, "alice"))
    assert r.status_code == 200, r.text
    rid = f"{ns}/{name}"
    data = os.urandom(300)
    oid = hashlib.sha256(data).hexdigest()
    b = http.post(f"/{rid}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [{"oid": oid, "size": 300}]}, headers=auth(hub, "alice")).json()
    act = b["objects"][0].get("actions")
    if act:
        http.put(act["upload"]["href"], content=data).raise_for_status()
    body = "\n".join(json.dumps(x) for x in [
        {"key": "header", "value": {"summary": "seed"}},
        {"key": "file", "value": {"path": "a.txt", "content": base64.b64encode(b"hello").decode(), "encoding": "base64"}},
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": 300}},
    ]) + "\n"
    http.post(f"/api/models/{rid}/commit/main", content=body, headers=auth(hub, "alice")).raise_for_status()
    return rid, oid


def classify_http(r):
    if r.status_code < 300:
        return "ok"
    return str(r.status_code)


def classify_git(r):
    if r.returncode == 0:
        return "ok"
    err = r.stderr
    # Match git's own wording: repo names in URLs may contain the digits "403".
    if "returned error: 403" in err or "HTTP 403" in err:
        return "403"
    if "not found" in err:
        return "404"
    if "Authentication failed" in err or "could not read Username" in err or "401" in err:
        return "401"
    return "error: " + err


def git_url(hub, rid, role):
    host = hub.endpoint.split("://", 1)[1]
    if role == "anonymous":
        return f"http://{host}/{rid}"
    return f"http://{TOKEN_OF[role]}:{hub.tokens[TOKEN_OF[role]]}@{host}/{rid}"


def act(action, http, hub, gitenv, tmp_path, rid, oid, role):
    h = headers(hub, role)
    if action == "info":
        return classify_http(http.get(f"/api/models/{rid}", headers=h))
    if action == "tree":
        return classify_http(http.get(f"/api/models/{rid}/tree/main", headers=h))
    if action == "resolve":
        return classify_http(http.get(f"/{rid}/resolve/main/a.txt", headers=h))
    if action == "lfs_download":
        r = http.post(f"/{rid}.git/info/lfs/objects/batch", json={"operation": "download", "objects": [{"oid": oid, "size": 300}]}, headers=h)
        if r.status_code != 200:
            return str(r.status_code)
        o = r.json()["objects"][0]
        return "ok" if "download" in o.get("actions", {}) else f"object error {o.get('error')}"
    if action == "clone":
        return classify_git(subprocess.run(["git", "clone", "-q", git_url(hub, rid, role), str(tmp_path / "clone")], env=gitenv, capture_output=True, text=True, timeout=120))
    if action == "commit":
        body = json.dumps({"key": "header", "value": {"summary": "m"}}) + "\n" + json.dumps({"key": "file", "value": {"path": f"{role}.txt", "content": "eA==", "encoding": "base64"}}) + "\n"
        return classify_http(http.post(f"/api/models/{rid}/commit/main", content=body, headers=h))
    if action == "lfs_upload":
        return classify_http(http.post(f"/{rid}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [{"oid": "e" * 64, "size": 1}]}, headers=h))
    if action == "push":
        # Clone as the owner (always possible), then push as the role.
        d = tmp_path / "push"
        subprocess.run(["git", "clone", "-q", git_url(hub, rid, "owner"), str(d)], env=gitenv, check=True, capture_output=True)
        (d / f"{role}-push.txt").write_text("x")
        subprocess.run(["git", "add", "."], cwd=d, env=gitenv, check=True)
        subprocess.run(["git", "commit", "-qm", "p"], cwd=d, env=gitenv, check=True)
        subprocess.run(["git", "remote", "set-url", "origin", git_url(hub, rid, role)], cwd=d, env=gitenv, check=True)
        return classify_git(subprocess.run(["git", "push", "origin", "HEAD:main"], cwd=d, env=gitenv, capture_output=True, text=True, timeout=120))
    if action == "branch":
        return classify_http(http.post(f"/api/models/{rid}/branch/b-{role}", json={}, headers=h))
    if action == "tag":
        return classify_http(http.post(f"/api/models/{rid}/tag/main", json={"tag": f"t-{role}"}, headers=h))
    if action == "settings":
        return classify_http(http.put(f"/api/models/{rid}/settings", json={"gated": "auto"}, headers=h))
    if action == "delete":
        ns, name = rid.split("/")
        return classify_http(http.request("DELETE", "/api/repos/delete", json={"name": name, "organization": ns, "type": "model"}, headers=h))
    if action == "move":
        ns, _ = rid.split("/")
        return classify_http(http.post("/api/repos/move", json={"fromRepo": rid, "toRepo": f"{ns}/moved-{uuid.uuid4().hex[:8]}", "type": "model"}, headers=h))
    raise AssertionError(action)


def expected(action, private, is_org, role):
    owner_like = role in ("owner", "hubadmin") or (is_org and role == "admin")
    can_read = (not private) or owner_like or role == "readonly" or (is_org and role in ("visitor", "member"))
    can_write = owner_like or (is_org and role == "member")
    if action in READ:
        if can_read:
            return "ok"
        return "401" if role == "anonymous" and action == "clone" else "404"
    allowed = can_write if action in WRITE else owner_like
    if allowed:
        return "ok"
    if role == "anonymous":
        return "401"
    return "403" if can_read else "404"


@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
@pytest.mark.parametrize("owner_kind", ["user", "org"])
def test_permission_matrix(hub, http, org, gitenv, tmp_path, private, owner_kind):
    ns = "alice" if owner_kind == "user" else org
    shared, shared_oid = make_repo(http, hub, ns, private)
    failures = []
    for role in ROLES:
        for action in READ + WRITE + ADMIN:
            want = expected(action, private, owner_kind == "org", role)
            rid, oid = shared, shared_oid
            if action in ("delete", "move", "settings") and want == "ok":
                rid, oid = make_repo(http, hub, ns, private)  # destructive: on a repo of its own
            d = tmp_path / f"{role}-{action}"
            d.mkdir()
            got = act(action, http, hub, gitenv, d, rid, oid, role)
            if got != want:
                failures.append(f"{owner_kind} {'private' if private else 'public'} {role:9} {action:12} expected {want}, got {got}")
    assert not failures, "\n".join(failures)


def test_org_flows_with_huggingface_hub(hub, org):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    dave = HfApi(endpoint=hub.endpoint, token=hub.tokens["dave"])
    me = dave.whoami()
    assert {"name": org, "roleInOrg": "member"}.items() <= next(o for o in me["orgs"] if o["name"] == org).items()
    rid = f"{org}/from-member-{uuid.uuid4().hex[:6]}"
    assert dave.create_repo(rid, private=True) == f"{hub.endpoint}/{rid}"
    dave.upload_file(path_or_fileobj=b"hi", path_in_repo="x.txt", repo_id=rid)
    carol = HfApi(endpoint=hub.endpoint, token=hub.tokens["carol"])
    with pytest.raises(HfHubHTTPError) as e:
        carol.create_repo(f"{org}/from-visitor-{uuid.uuid4().hex[:6]}")
    assert e.value.response.status_code == 403
    assert carol.list_repo_files(rid) == [".gitattributes", "x.txt"]  # visitors read private repos
    members = {u.username for u in carol.list_organization_members(org)}
    assert {"alice", "carol", "dave", "erin"} <= members
    ov = carol.get_organization_overview(org)
    assert ov.name == org and ov.num_users >= 4
    assert org in [o.name for o in carol.get_user_overview("dave").orgs]
    assert rid in [m.id for m in dave.list_models(author=org)]
    assert rid not in [m.id for m in HfApi(endpoint=hub.endpoint, token=hub.tokens["bob"]).list_models(author=org)]


def test_org_membership_management(hub, http, org):
    name = f"team{uuid.uuid4().hex[:6]}"
    r = http.post("/org/create", json={"name": name, "description": "a team"}, headers=auth(hub, "bob"))
    assert r.status_code == 200
    assert http.get(f"/org/{name}").json()["description"] == "a team"
    assert http.post("/org/create", json={"name": name}, headers=auth(hub, "bob")).status_code == 409
    assert http.post("/org/create", json={"name": "api"}, headers=auth(hub, "bob")).status_code == 400
    assert http.post("/org/create", json={"name": "alice"}, headers=auth(hub, "bob")).status_code == 409  # users and orgs share names
    # bob (super-admin) adds carol as admin, dave as member.
    assert http.post(f"/org/{name}/members", json={"username": "carol", "role": "admin"}, headers=auth(hub, "bob")).status_code == 200
    assert http.post(f"/org/{name}/members", json={"username": "dave", "role": "member"}, headers=auth(hub, "bob")).status_code == 200
    # An admin manages members but not admins.
    assert http.post(f"/org/{name}/members", json={"username": "erin", "role": "visitor"}, headers=auth(hub, "carol")).status_code == 200
    assert http.put(f"/org/{name}/members/erin", json={"role": "admin"}, headers=auth(hub, "carol")).status_code == 403
    assert http.delete(f"/org/{name}/members/bob", headers=auth(hub, "carol")).status_code == 403
    # A member cannot manage anyone; anyone may leave.
    assert http.post(f"/org/{name}/members", json={"username": "alice", "role": "member"}, headers=auth(hub, "dave")).status_code == 403
    assert http.delete(f"/org/{name}/members/dave", headers=auth(hub, "dave")).status_code == 200
    # The last super-admin stays.
    assert http.delete(f"/org/{name}/members/bob", headers=auth(hub, "bob")).status_code == 400
    assert http.put(f"/org/{name}/members/bob", json={"role": "member"}, headers=auth(hub, "bob")).status_code == 400
    roles = {m["user"]: m["role"] for m in http.get(f"/org/{name}/members").json()["members"]}
    assert roles == {"bob": "super-admin", "carol": "admin", "erin": "visitor"}
    assert name in [o["name"] for o in http.get("/org/users/carol/orgs").json()["organizations"]]
    # Bad input.
    assert http.post(f"/org/{name}/members", json={"username": "carol", "role": "king"}, headers=auth(hub, "bob")).status_code == 400
    assert http.post(f"/org/{name}/members", json={"username": "nobody", "role": "member"}, headers=auth(hub, "bob")).status_code == 404
    assert http.get("/org/no-such-org").status_code == 404


def test_hf_cli_whoami_shows_orgs(hub, org):
    import sys

    env = dict(os.environ, HF_TOKEN=hub.tokens["dave"])
    env.pop("HF_HUB_DISABLE_IMPLICIT_TOKEN", None)
    hf = os.path.join(os.path.dirname(sys.executable), "hf")
    r = subprocess.run([hf, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "dave" in r.stdout and org in r.stdout
