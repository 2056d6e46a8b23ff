"""git and git-lfs against kohaku: clone (full, shallow, single-branch, v0), fetch, push."""
import hashlib
import os
import re
import subprocess
import uuid

import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download


@pytest.fixture(scope="module")
def gitenv(tmp_path_factory):
    home = tmp_path_factory.mktemp("githome")
    cfg = home / ".gitconfig"
    cfg.write_text("[user]\n\tname = Alice\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    env = dict(os.environ, HOME=str(home), GIT_CONFIG_GLOBAL=str(cfg), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    subprocess.run(["git", "lfs", "install", "--skip-repo"], env=env, check=True, capture_output=True)
    return env


def git(env, *args, cwd=None, check=True):
    r = subprocess.run(["git", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def url(hub, repo_id, who=None, prefix=""):
    host = hub.endpoint.split("://", 1)[1]
    cred = f"{who}:{hub.tokens[who]}@" if who else ""
    return f"http://{cred}{host}/{prefix}{repo_id}"


@pytest.fixture
def built_repo(api):
    """A repo made through the HF API: several commits, a branch, tags and LFS files."""
    rid = f"alice/g-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    api.create_commit(rid, operations=[
        CommitOperationAdd("config.json", b'{"a": 1}\n'),
        CommitOperationAdd("src/model.py", b"print('hi')\n"),
        CommitOperationAdd("weights.safetensors", os.urandom(3000)),
    ], commit_message="first files")
    api.create_tag(rid, tag="v1", tag_message="version one")
    api.create_branch(rid, branch="dev")
    api.upload_file(path_or_fileobj=b"dev only\n", path_in_repo="dev.txt", repo_id=rid, revision="dev")
    api.upload_file(path_or_fileobj=os.urandom(11_000_000), path_in_repo="big.dat", repo_id=rid, commit_message="big file")
    api.create_tag(rid, tag="light")
    api.upload_file(path_or_fileobj=b'{"a": 2}\n', path_in_repo="config.json", repo_id=rid, commit_message="update config")
    return rid


def test_full_clone_matches_api(hub, api, gitenv, built_repo, tmp_path):
    dest = tmp_path / "c"
    git(gitenv, "clone", url(hub, built_repo), str(dest))
    files = set(git(gitenv, "ls-files", cwd=dest).stdout.split())
    assert files == set(api.list_repo_files(built_repo))
    # Real history, same ids as the API.
    ids = git(gitenv, "log", "--format=%H", cwd=dest).stdout.split()
    assert ids == [c.commit_id for c in api.list_repo_commits(built_repo)]
    assert git(gitenv, "log", "-1", "--format=%s", ids[-1], cwd=dest).stdout.strip() == "initial commit"
    # Every branch and tag.
    branches = git(gitenv, "branch", "-r", cwd=dest).stdout
    assert "origin/dev" in branches and "origin/main" in branches
    assert set(git(gitenv, "tag", cwd=dest).stdout.split()) == {"v1", "light"}
    assert git(gitenv, "cat-file", "-t", "v1", cwd=dest).stdout.strip() == "tag"
    # LFS files are smudged to their real content.
    big = hf_hub_download(built_repo, "big.dat", cache_dir=tmp_path / "hf")
    assert (dest / "big.dat").read_bytes() == open(big, "rb").read()
    assert (dest / "weights.safetensors").stat().st_size == 3000
    git(gitenv, "fsck", "--strict", cwd=dest)
    # With and without .git, and the dev branch's content.
    git(gitenv, "clone", "-b", "dev", url(hub, built_repo) + ".git", str(tmp_path / "d"))
    assert (tmp_path / "d" / "dev.txt").read_text() == "dev only\n"


def test_shallow_and_single_branch_and_v0(hub, gitenv, built_repo, tmp_path):
    git(gitenv, "clone", "--depth", "1", url(hub, built_repo), str(tmp_path / "s"))
    assert git(gitenv, "rev-list", "--count", "HEAD", cwd=tmp_path / "s").stdout.strip() == "1"
    assert git(gitenv, "rev-parse", "--is-shallow-repository", cwd=tmp_path / "s").stdout.strip() == "true"
    git(gitenv, "clone", "--single-branch", "--branch", "dev", url(hub, built_repo), str(tmp_path / "b"))
    refs = git(gitenv, "for-each-ref", "--format=%(refname)", "refs/remotes", cwd=tmp_path / "b").stdout.split()
    assert refs == ["refs/remotes/origin/dev"]
    for v in ("0", "1"):
        d = tmp_path / f"v{v}"
        git(gitenv, "-c", f"protocol.version={v}", "clone", url(hub, built_repo), str(d))
        git(gitenv, "fsck", cwd=d)
        assert (d / "config.json").read_text() == '{"a": 2}\n'
    d = tmp_path / "v0s"
    git(gitenv, "-c", "protocol.version=0", "clone", "--depth", "2", url(hub, built_repo), str(d))
    assert git(gitenv, "rev-list", "--count", "HEAD", cwd=d).stdout.strip() == "2"


@pytest.mark.parametrize("version", ["2", "0"])
def test_incremental_fetch_sends_only_new_objects(hub, api, gitenv, built_repo, tmp_path, version):
    d = tmp_path / "c"
    git(gitenv, "clone", url(hub, built_repo), str(d))
    api.upload_file(path_or_fileobj=b"new\n", path_in_repo="new.txt", repo_id=built_repo, commit_message="after clone")
    r = git(gitenv, "-c", f"protocol.version={version}", "fetch", "--progress", "origin", cwd=d)
    total = re.search(r"Total (\d+)", r.stderr)
    assert total and int(total.group(1)) <= 3, r.stderr  # commit, root tree, blob
    assert git(gitenv, "log", "-1", "--format=%s", "origin/main", cwd=d).stdout.strip() == "after clone"
    git(gitenv, "merge", "--ff-only", "origin/main", cwd=d)
    assert (d / "new.txt").read_text() == "new\n"


def test_push_commits_lfs_branch_tag_delete(hub, api, gitenv, built_repo, tmp_path):
    d = tmp_path / "c"
    git(gitenv, "clone", url(hub, built_repo, "alice"), str(d))
    (d / "pushed.txt").write_text("from git\n")
    payload = os.urandom(50_000)
    (d / "pushed.bin").write_bytes(payload)  # *.bin is tracked by the initial .gitattributes
    git(gitenv, "add", ".", cwd=d)
    git(gitenv, "commit", "-m", "push: text and lfs", cwd=d)
    r = git(gitenv, "push", "origin", "main", cwd=d)
    assert "Locking support" not in r.stderr and "locksverify" not in r.stderr
    head = git(gitenv, "rev-parse", "HEAD", cwd=d).stdout.strip()
    # The HF API sees it at once, with the same commit id.
    assert api.list_repo_commits(built_repo)[0].commit_id == head
    assert {"pushed.txt", "pushed.bin"} <= set(api.list_repo_files(built_repo))
    p = hf_hub_download(built_repo, "pushed.bin", revision=head, cache_dir=tmp_path / "hf")
    assert open(p, "rb").read() == payload
    info = {f.path: f for f in api.get_paths_info(built_repo, ["pushed.bin"])}
    assert info["pushed.bin"].lfs.sha256 == hashlib.sha256(payload).hexdigest()
    # New branch and tag, then delete the branch.
    git(gitenv, "push", "origin", "HEAD:refs/heads/feature", cwd=d)
    git(gitenv, "tag", "-a", "pushed-tag", "-m", "tagged from git", cwd=d)
    git(gitenv, "push", "origin", "pushed-tag", cwd=d)
    refs = api.list_repo_refs(built_repo)
    assert "feature" in [b.name for b in refs.branches]
    assert {t.name: t.target_commit for t in refs.tags}["pushed-tag"] == head
    git(gitenv, "push", "origin", ":feature", cwd=d)
    git(gitenv, "rm", "-q", "pushed.txt", cwd=d)
    git(gitenv, "commit", "-m", "delete a file", cwd=d)
    git(gitenv, "push", "origin", "main", cwd=d)
    assert "feature" not in [b.name for b in api.list_repo_refs(built_repo).branches]
    assert "pushed.txt" not in api.list_repo_files(built_repo)
    # The default branch cannot be deleted.
    r = git(gitenv, "push", "origin", ":main", cwd=d, check=False)
    assert r.returncode != 0 and "cannot delete the default branch" in r.stderr


def test_non_fast_forward_rejected_unless_forced(hub, api, gitenv, built_repo, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    git(gitenv, "clone", url(hub, built_repo, "alice"), str(a))
    git(gitenv, "clone", url(hub, built_repo, "alice"), str(b))
    (a / "a.txt").write_text("a")
    git(gitenv, "add", ".", cwd=a)
    git(gitenv, "commit", "-m", "from a", cwd=a)
    git(gitenv, "push", "origin", "main", cwd=a)
    (b / "b.txt").write_text("b")
    git(gitenv, "add", ".", cwd=b)
    git(gitenv, "commit", "-m", "from b", cwd=b)
    r = git(gitenv, "push", "origin", "main", cwd=b, check=False)
    assert r.returncode != 0 and "rejected" in r.stderr
    assert api.list_repo_commits(built_repo)[0].title == "from a"
    git(gitenv, "push", "--force", "origin", "main", cwd=b)
    assert api.list_repo_commits(built_repo)[0].title == "from b"
    # An API commit and a git push interleave without losing either.
    api.upload_file(path_or_fileobj=b"api", path_in_repo="api.txt", repo_id=built_repo)
    git(gitenv, "pull", "--no-rebase", "origin", "main", cwd=b)
    (b / "c.txt").write_text("c")
    git(gitenv, "add", ".", cwd=b)
    git(gitenv, "commit", "-m", "after api", cwd=b)
    git(gitenv, "push", "origin", "main", cwd=b)
    assert {"api.txt", "c.txt", "b.txt"} <= set(api.list_repo_files(built_repo))


def test_private_repo_access(hub, api, gitenv, tmp_path):
    rid = f"alice/gp-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid, private=True)
    api.upload_file(path_or_fileobj=b"secret\n", path_in_repo="s.txt", repo_id=rid)
    # Anonymous: asked for credentials (401), so git fails without a prompt.
    r = git(gitenv, "clone", url(hub, rid), str(tmp_path / "anon"), check=False)
    assert r.returncode != 0 and ("Authentication failed" in r.stderr or "could not read Username" in r.stderr)
    # A user who cannot read it: indistinguishable from a missing repo.
    r1 = git(gitenv, "clone", url(hub, rid, "bob"), str(tmp_path / "bob"), check=False)
    r2 = git(gitenv, "clone", url(hub, f"alice/missing-{uuid.uuid4().hex[:6]}", "bob"), str(tmp_path / "bob2"), check=False)
    assert r1.returncode != 0 and r2.returncode != 0
    norm = lambda s: re.sub(r"alice/\S+", "X", re.sub(r"'[^']*'", "'X'", s)).replace(str(tmp_path), "")
    assert norm(r1.stderr) == norm(r2.stderr)
    assert "not found" in r1.stderr
    # Read-only token: clone works, push refused.
    ro = tmp_path / "ro"
    git(gitenv, "clone", url(hub, rid, "alice_ro"), str(ro))
    assert (ro / "s.txt").read_text() == "secret\n"
    (ro / "x.txt").write_text("x")
    git(gitenv, "add", ".", cwd=ro)
    git(gitenv, "commit", "-m", "ro push", cwd=ro)
    r = git(gitenv, "push", "origin", "main", cwd=ro, check=False)
    assert r.returncode != 0 and "returned error: 403" in r.stderr
    # Write token: accepted.
    git(gitenv, "remote", "set-url", "origin", url(hub, rid, "alice"), cwd=ro)
    git(gitenv, "push", "origin", "main", cwd=ro)
    assert "x.txt" in api.list_repo_files(rid)
    # Bob cannot push to alice's public repo either.
    pub = f"alice/gq-{uuid.uuid4().hex[:8]}"
    api.create_repo(pub)
    git(gitenv, "clone", url(hub, pub, "bob"), str(tmp_path / "pub"))
    (tmp_path / "pub" / "y.txt").write_text("y")
    git(gitenv, "add", ".", cwd=tmp_path / "pub")
    git(gitenv, "commit", "-m", "bob push", cwd=tmp_path / "pub")
    r = git(gitenv, "push", "origin", "main", cwd=tmp_path / "pub", check=False)
    assert r.returncode != 0 and "returned error: 403" in r.stderr


def test_dataset_clone_and_lfs_pull(hub, api, gitenv, tmp_path):
    rid = f"alice/gd-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid, repo_type="dataset")
    data = os.urandom(20_000)
    api.upload_file(path_or_fileobj=data, path_in_repo="train.parquet", repo_id=rid, repo_type="dataset")
    env = dict(gitenv, GIT_LFS_SKIP_SMUDGE="1")
    d = tmp_path / "ds"
    git(env, "clone", url(hub, rid, prefix="datasets/"), str(d))
    assert (d / "train.parquet").read_bytes().startswith(b"version https://git-lfs")
    git(gitenv, "lfs", "pull", cwd=d)
    assert (d / "train.parquet").read_bytes() == data
