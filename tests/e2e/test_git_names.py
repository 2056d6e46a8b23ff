"""Names git itself would refuse (issue 13, item 5).

Paths that git treats as `.git` on NTFS or HFS+, `.gitmodules` as a symlink and backslashes;
branch and tag names that clash with an existing ref or are ambiguous; NUL bytes in commit and
tag messages. Each is refused on the HF API and on git push with nothing changed, and the near
misses are accepted and still clone.
"""
import json
import os
import subprocess
import threading
import uuid

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

from conftest import auth

# `.git` as Windows (NTFS: trailing dots/spaces, 8.3 short name, alternate data streams) or
# macOS (HFS+: ignorable code points, case) resolve it.
DOTGIT = [
    ".git.",
    ".git..",
    ".git ",
    ".git . .",
    "GIT~1",
    "git~1",
    ".git::$INDEX_ALLOCATION",
    ".git:x",
    ".g\u200cit",
    "\u200e.git",
    ".GIT\ufeff",
    ".\u202agi\u206ft",
]
# `.gitmodules` spellings git refuses for symlinks only.
GITMODULES = [".gitmodules", ".GitModules", ".gitmodules.", "GITMOD~1", "gi7eba~1", ".git\u200dmodules"]
# Accepted: they only look like the names above.
NEAR_MISS_FILES = [".github/x", ".gitignore", ".gitattributes", "a.git", "git/x", "git~2/x", ".gitx", ".gitmodules"]


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gitenv(tmp_path_factory):
    home = tmp_path_factory.mktemp("githome")
    cfg = home / ".gitconfig"
    cfg.write_text("[user]\n\tname = Alice\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    return dict(os.environ, HOME=str(home), GIT_CONFIG_GLOBAL=str(cfg), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")


def git(env, *args, cwd=None, check=True, input=None):
    r = subprocess.run(["git", *args], env=env, cwd=cwd, capture_output=True, timeout=300, input=input)
    r.stdout, r.stderr = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    if check and r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def url(hub, repo_id, who=None):
    host = hub.endpoint.split("://", 1)[1]
    cred = f"{who}:{hub.tokens[who]}@" if who else ""
    return f"http://{cred}{host}/{repo_id}"


def head(http, hub, repo_id, rev="main"):
    return http.get(f"/api/models/{repo_id}/revision/{rev}", headers=auth(hub)).json()["sha"]


def refs_of(http, hub, repo_id):
    r = http.get(f"/api/models/{repo_id}/refs", headers=auth(hub)).json()
    return {b["name"]: b["targetCommit"] for b in r["branches"]}, {t["name"]: t["targetCommit"] for t in r["tags"]}


def clone_ok(hub, gitenv, repo_id, dest):
    """A fresh clone of every branch succeeds and passes `git fsck --strict`."""
    git(gitenv, "clone", url(hub, repo_id), str(dest))
    git(gitenv, "fsck", "--strict", cwd=dest)
    return dest


def ndjson_commit(http, hub, repo_id, *lines, summary="names"):
    header = {"key": "header", "value": {"summary": summary, "description": ""}}
    body = ("\n".join(json.dumps(l) for l in (header, *lines)) + "\n").encode()
    return http.post(
        f"/api/models/{repo_id}/commit/main",
        content=body,
        headers={**auth(hub), "content-type": "application/x-ndjson"},
    )


def add_line(path, content=b"x\n"):
    import base64

    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


def assert_refused(r, status, code, text=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["x-error-code"] == code
    assert "error" in r.json()
    if text:
        assert text in r.headers["x-error-message"], r.headers["x-error-message"]


def http_error(exc_info, status, code):
    resp = exc_info.value.response
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["x-error-code"] == code


def write_tree(gitenv, d, entries):
    """A tree from (mode, name, bytes | nested entries), built with git's own plumbing (which,
    unlike `git add`, writes any name)."""
    lines = b""
    for mode, name, content in entries:
        if isinstance(content, list):
            oid, kind, mode = write_tree(gitenv, d, content), "tree", "040000"
        else:
            oid, kind = git(gitenv, "hash-object", "-w", "--stdin", cwd=d, input=content).stdout.strip(), "blob"
        lines += f"{mode} {kind} {oid}\t".encode() + name.encode() + b"\0"
    return git(gitenv, "mktree", "-z", cwd=d, input=lines).stdout.strip()


def commit_on_main(gitenv, d, entries, msg="raw tree"):
    """A commit on top of main whose tree is main's plus `entries`."""
    base = git(gitenv, "ls-tree", "-z", "HEAD", cwd=d).stdout.encode()
    extra = write_tree(gitenv, d, entries)
    combined = base + git(gitenv, "ls-tree", "-z", extra, cwd=d).stdout.encode()
    tree = git(gitenv, "mktree", "-z", cwd=d, input=combined).stdout.strip()
    return git(gitenv, "commit-tree", tree, "-p", "HEAD", "-m", msg, cwd=d).stdout.strip()


def raw_object(gitenv, d, kind, data):
    """Write an object as given (`--literally`: without git's own checks)."""
    return git(gitenv, "hash-object", "-t", kind, "-w", "--literally", "--stdin", cwd=d, input=data).stdout.strip()


@pytest.fixture
def work(hub, gitenv, repo_id, tmp_path):
    """A clone of a fresh repo with push credentials."""
    d = tmp_path / "work"
    git(gitenv, "clone", url(hub, repo_id, "alice"), str(d))
    return d


def push_refused(gitenv, d, refspec):
    r = git(gitenv, "push", "origin", refspec, cwd=d, check=False)
    assert r.returncode != 0, r.stderr
    assert "remote rejected" in r.stderr or "[rejected]" in r.stderr, r.stderr
    return r.stderr


# --- paths on the HF API -------------------------------------------------------------------


@pytest.mark.parametrize("name", DOTGIT + ["sub/GIT~1", "a\\b"])
def test_api_refuses_paths_git_would_refuse(http, hub, api, repo_id, name):
    before = head(http, hub, repo_id)
    path = f"{name}/config"
    # The commit endpoint itself...
    r = ndjson_commit(http, hub, repo_id, add_line(path))
    assert_refused(r, 422, "BadRequest", "Invalid path")
    # ...preupload, where the real client stops...
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"[core]\n", path_in_repo=path, repo_id=repo_id)
    http_error(e, 422, "BadRequest")
    # ...and the other operations that take a path.
    r = ndjson_commit(http, hub, repo_id, {"key": "copyFile", "value": {"path": path, "srcPath": ".gitattributes"}})
    assert_refused(r, 422, "BadRequest")
    assert head(http, hub, repo_id) == before
    assert all(not f.startswith(name) for f in api.list_repo_files(repo_id))


def test_api_near_misses_are_accepted_and_clone(hub, api, gitenv, repo_id, tmp_path):
    ops = [CommitOperationAdd(p, f"content of {p}\n".encode()) for p in NEAR_MISS_FILES if p not in (".gitattributes", ".gitmodules")]
    ops.append(CommitOperationAdd(".gitattributes", b"*.bin filter=lfs diff=lfs merge=lfs -text\n"))
    ops.append(CommitOperationAdd(".gitmodules", b"# no submodules\n"))
    api.create_commit(repo_id, operations=ops, commit_message="near misses")
    assert set(NEAR_MISS_FILES) <= set(api.list_repo_files(repo_id))
    d = clone_ok(hub, gitenv, repo_id, tmp_path / "c")
    for p in NEAR_MISS_FILES:
        assert (d / p).is_file(), p


def test_api_copy_cannot_make_gitmodules_a_symlink(http, hub, api, gitenv, repo_id, work, tmp_path):
    # A legitimate symlink arrives by push...
    (work / "target.txt").write_text("t\n")
    os.symlink("target.txt", work / "link")
    git(gitenv, "add", "target.txt", "link", cwd=work)
    git(gitenv, "commit", "-m", "symlink", cwd=work)
    git(gitenv, "push", "origin", "main", cwd=work)
    before = head(http, hub, repo_id)
    # ...but an API copy cannot turn it into `.gitmodules` (git refuses to check that out).
    for name in GITMODULES + ["sub/.gitmodules"]:
        r = ndjson_commit(http, hub, repo_id, {"key": "copyFile", "value": {"path": name, "srcPath": "link"}})
        assert_refused(r, 422, "BadRequest", "symbolic link")
    assert head(http, hub, repo_id) == before
    # Copying it under another name, or `.gitmodules` as a regular file, is fine.
    r = ndjson_commit(http, hub, repo_id, {"key": "copyFile", "value": {"path": "link2", "srcPath": "link"}}, add_line(".gitmodules", b"# none\n"))
    assert r.status_code == 200, r.text
    d = clone_ok(hub, gitenv, repo_id, tmp_path / "c")
    assert os.readlink(d / "link2") == "target.txt"
    assert (d / ".gitmodules").is_file() and not (d / ".gitmodules").is_symlink()


# --- paths on git push ------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOTGIT)
def test_push_refuses_dotgit_spellings(http, hub, gitenv, repo_id, work, name):
    before = head(http, hub, repo_id)
    c = commit_on_main(gitenv, work, [("040000", name, [("100644", "config", b"[core]\n\tbare = false\n")])])
    err = push_refused(gitenv, work, f"{c}:refs/heads/main")
    assert "bad entry name" in err and ".git" in err, err
    # Nested deeper, too.
    c = commit_on_main(gitenv, work, [("040000", "sub", [("100644", name, b"x\n")])])
    push_refused(gitenv, work, f"{c}:refs/heads/main")
    assert head(http, hub, repo_id) == before


@pytest.mark.parametrize("name", GITMODULES)
def test_push_refuses_gitmodules_symlink(http, hub, gitenv, repo_id, work, name):
    before = head(http, hub, repo_id)
    c = commit_on_main(gitenv, work, [("120000", name, b"../../outside")])
    err = push_refused(gitenv, work, f"{c}:refs/heads/main")
    assert "symbolic link" in err, err
    assert head(http, hub, repo_id) == before


def test_push_refuses_backslash(http, hub, gitenv, repo_id, work):
    before = head(http, hub, repo_id)
    c = commit_on_main(gitenv, work, [("100644", "dir\\file.txt", b"x\n")])
    err = push_refused(gitenv, work, f"{c}:refs/heads/main")
    assert "backslash" in err, err
    assert head(http, hub, repo_id) == before


def test_push_near_misses_are_accepted_and_clone(http, hub, api, gitenv, repo_id, work, tmp_path):
    for p in NEAR_MISS_FILES:
        (work / p).parent.mkdir(parents=True, exist_ok=True)
        (work / p).write_text({".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", ".gitmodules": "# pushed\n"}.get(p, f"pushed {p}\n"))
    os.symlink("a.git", work / "link")
    git(gitenv, "add", "-A", cwd=work)
    git(gitenv, "commit", "-m", "near misses", cwd=work)
    git(gitenv, "push", "origin", "main", cwd=work)
    assert head(http, hub, repo_id) == git(gitenv, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert set(NEAR_MISS_FILES) | {"link"} <= set(api.list_repo_files(repo_id))
    d = clone_ok(hub, gitenv, repo_id, tmp_path / "c")
    assert (d / "git~2" / "x").read_text() == "pushed git~2/x\n"
    assert os.readlink(d / "link") == "a.git"


# --- refs ---------------------------------------------------------------------------------------


def test_api_branch_directory_file_conflicts(http, hub, api, gitenv, repo_id, tmp_path):
    main = head(http, hub, repo_id)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(repo_id, branch="main/sub")
    http_error(e, 409, "Conflict")
    assert "refs/heads/main" in e.value.response.headers["x-error-message"]
    api.create_branch(repo_id, branch="feat/x")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(repo_id, branch="feat")
    http_error(e, 409, "Conflict")
    api.create_branch(repo_id, branch="feat-2")  # a sibling, not a directory: fine
    branches, _ = refs_of(http, hub, repo_id)
    assert branches == {"main": main, "feat/x": main, "feat-2": main}
    d = clone_ok(hub, gitenv, repo_id, tmp_path / "c")
    remote = git(gitenv, "branch", "-r", "--format=%(refname:short)", cwd=d).stdout.split()
    assert {"origin/main", "origin/feat/x", "origin/feat-2"} <= set(remote)


def test_api_tag_directory_file_conflicts(http, hub, api, gitenv, repo_id, tmp_path):
    api.create_tag(repo_id, tag="v1")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(repo_id, tag="v1/rc", tag_message="annotated")
    http_error(e, 409, "Conflict")
    api.create_tag(repo_id, tag="rel/a")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(repo_id, tag="rel")
    http_error(e, 409, "Conflict")
    api.create_tag(repo_id, tag="v1.0", tag_message="dotted")
    # A tag named like a branch is in another directory: no conflict.
    api.create_tag(repo_id, tag="main")
    _, tags = refs_of(http, hub, repo_id)
    assert set(tags) == {"v1", "rel/a", "v1.0", "main"}
    d = clone_ok(hub, gitenv, repo_id, tmp_path / "c")
    assert set(git(gitenv, "tag", cwd=d).stdout.split()) == {"v1", "rel/a", "v1.0", "main"}


@pytest.mark.parametrize("kind,name", [
    ("branch", "HEAD"),
    ("tag", "HEAD"),
    ("tag", "refs/heads/main"),
    ("tag", "refs/tags/v1"),
    ("branch", "refs/heads/x"),
    ("branch", "a..b"),
    ("tag", "x.lock"),
    ("branch", "@"),
])
def test_api_refuses_ambiguous_ref_names(http, hub, api, repo_id, kind, name):
    before = refs_of(http, hub, repo_id)
    with pytest.raises(HfHubHTTPError) as e:
        if kind == "branch":
            api.create_branch(repo_id, branch=name)
        else:
            api.create_tag(repo_id, tag=name)
    http_error(e, 400, "BadRequest")
    assert refs_of(http, hub, repo_id) == before


def test_push_ref_conflicts_and_reserved_names(http, hub, gitenv, repo_id, work, tmp_path):
    main = head(http, hub, repo_id)
    for refspec in ("HEAD:refs/heads/main/sub", "HEAD:refs/heads/HEAD", "HEAD:refs/tags/refs/heads/main", "HEAD:refs/heads/refs/heads/x"):
        push_refused(gitenv, work, refspec)
    git(gitenv, "push", "origin", "HEAD:refs/heads/feat/x", cwd=work)
    err = push_refused(gitenv, work, "HEAD:refs/heads/feat")
    assert "conflicts with the existing refs/heads/feat/x" in err, err
    # Atomic: the clash refuses the whole push.
    r = git(gitenv, "push", "--atomic", "origin", "HEAD:refs/heads/ok-atomic", "HEAD:refs/heads/feat/x/y", cwd=work, check=False)
    assert r.returncode != 0
    git(gitenv, "push", "origin", "HEAD:refs/tags/v1.0", cwd=work)
    branches, tags = refs_of(http, hub, repo_id)
    assert branches == {"main": main, "feat/x": main}
    assert tags == {"v1.0": main}
    clone_ok(hub, gitenv, repo_id, tmp_path / "c")


def test_concurrent_clashing_branches_never_both_land(http, hub, api, repo_id):
    """`a` and `a/b` created at once: the check and the insert share one write transaction, so
    at most one of them exists afterwards, whatever the interleaving."""
    for i in range(8):
        names = [f"race{i}", f"race{i}/sub"]
        if i % 2:
            names.reverse()
        outcomes = {}
        go = threading.Barrier(len(names))

        def create(name):
            go.wait()
            r = http.post(f"/api/models/{repo_id}/branch/{name}", json={}, headers=auth(hub))
            outcomes[name] = r.status_code

        threads = [threading.Thread(target=create, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes.values()) == [200, 409], outcomes
    branches, _ = refs_of(http, hub, repo_id)
    for i in range(8):
        assert (f"race{i}" in branches) != (f"race{i}/sub" in branches)


# --- NUL in messages ----------------------------------------------------------------------------


def test_api_refuses_nul_in_commit_messages(http, hub, api, repo_id):
    before = head(http, hub, repo_id)
    r = ndjson_commit(http, hub, repo_id, add_line("a.txt"), summary="before\u0000after")
    assert_refused(r, 400, "BadRequest", "NUL")
    header = {"key": "header", "value": {"summary": "fine", "description": "body\u0000hidden"}}
    body = ("\n".join(json.dumps(l) for l in (header, add_line("a.txt"))) + "\n").encode()
    r = http.post(f"/api/models/{repo_id}/commit/main", content=body, headers={**auth(hub), "content-type": "application/x-ndjson"})
    assert_refused(r, 400, "BadRequest", "NUL")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(repo_id, operations=[CommitOperationAdd("a.txt", b"x")], commit_message="sum\x00mary")
    http_error(e, 400, "BadRequest")
    with pytest.raises(HfHubHTTPError) as e:
        api.super_squash_history(repo_id, commit_message="squash\x00ed")
    http_error(e, 400, "BadRequest")
    assert head(http, hub, repo_id) == before
    assert len(api.list_repo_commits(repo_id)) == 1
    # The same text without NUL goes through.
    api.create_commit(repo_id, operations=[CommitOperationAdd("a.txt", b"x")], commit_message="summary", commit_description="body")


def test_api_refuses_nul_in_tag_message(http, hub, api, repo_id):
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(repo_id, tag="t-nul", tag_message="tag\x00message")
    http_error(e, 400, "BadRequest")
    assert refs_of(http, hub, repo_id)[1] == {}


def test_push_refuses_nul_in_commit_and_tag(http, hub, gitenv, repo_id, work, tmp_path):
    before = head(http, hub, repo_id)
    tree = git(gitenv, "rev-parse", "HEAD^{tree}", cwd=work).stdout.strip()
    sig = "Alice <alice@example.com> 1700000000 +0000"
    c = raw_object(gitenv, work, "commit", f"tree {tree}\nparent {before}\nauthor {sig}\ncommitter {sig}\n\nvisible\0hidden\n".encode())
    err = push_refused(gitenv, work, f"{c}:refs/heads/main")
    assert "NUL" in err, err
    t = raw_object(gitenv, work, "tag", f"object {before}\ntype commit\ntag t-nul\ntagger {sig}\n\nvisible\0hidden\n".encode())
    err = push_refused(gitenv, work, f"{t}:refs/tags/t-nul")
    assert "NUL" in err, err
    assert head(http, hub, repo_id) == before
    assert refs_of(http, hub, repo_id)[1] == {}
    # A clean annotated tag pushes.
    t = raw_object(gitenv, work, "tag", f"object {before}\ntype commit\ntag t-ok\ntagger {sig}\n\nfine\n".encode())
    git(gitenv, "push", "origin", f"{t}:refs/tags/t-ok", cwd=work)
    clone_ok(hub, gitenv, repo_id, tmp_path / "c")
