"""HF API gaps found with the Python client (issue 14, part 2), each driven through the real
huggingface_hub 2.4.0 (and `hf`) where the client has a call for it, raw HTTP otherwise."""
import json
import os
import subprocess
import sys
import uuid

import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from conftest import auth

HF = os.path.join(os.path.dirname(sys.executable), "hf")


def hf_cli(hub, *args, who="alice"):
    env = dict(os.environ, HF_TOKEN=hub.tokens[who])
    env.pop("HF_HUB_DISABLE_IMPLICIT_TOKEN", None)
    return subprocess.run([HF, *args], env=env, capture_output=True, text=True, timeout=120)


def new_id(prefix="g"):
    return f"alice/{prefix}-{uuid.uuid4().hex[:10]}"


# --- 1. an id without namespace is a missing repository ------------------------------------


def test_id_without_namespace_is_repo_not_found(api, anon_api, http, hub):
    assert api.repo_exists("no-such-repo") is False
    assert anon_api.repo_exists("no-such-repo", repo_type="dataset") is False
    assert api.revision_exists("no-such-repo", "main") is False
    for method, path in [
        ("GET", "/api/models/no-such-repo"),
        ("GET", "/api/models/no-such-repo/revision/main"),
        ("GET", "/api/datasets/no-such-repo/revision/main"),
        ("DELETE", "/api/models/no-such-repo/like"),
        ("GET", "/no-such-repo/resolve/main/config.json"),
    ]:
        r = http.request(method, path, headers=auth(hub))
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["x-error-code"] == "RepoNotFound", (path, r.headers)
    with pytest.raises(RepositoryNotFoundError):
        api.unlike("no-such-repo")


def test_unknown_repo_with_namespace_is_repo_not_found(api, http, hub):
    rid = new_id()
    assert api.repo_exists(rid) is False
    r = http.get(f"/api/models/{rid}/no-such-route", headers=auth(hub))
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


# --- 14. unknown routes: a plain 404 -------------------------------------------------------


def test_unknown_routes_are_plain_404(api, repo_id, http, hub, bob_api):
    for path in [
        "/api/no-such-endpoint",
        "/api/models/x/y/z/no-such-route",
        f"/api/models/{repo_id}/no-such-route",
        f"/{repo_id}/no-such-route",
        "/api/auth/no-such-route",
        "/api/xet/v9/nothing",
        "/nothing",
    ]:
        r = http.get(path, headers=auth(hub))
        if path == "/api/models/x/y/z/no-such-route":
            # `x/y` is no repository: that is what the client is told.
            assert r.headers["x-error-code"] == "RepoNotFound"
            continue
        assert r.status_code == 404, path
        assert "x-error-code" not in r.headers, (path, r.headers)
        assert r.headers["x-error-message"], path
        assert r.json()["error"]
    # A private repo's unknown route says nothing about the repo to someone who cannot read it.
    priv = new_id("p")
    api.create_repo(priv, private=True)
    r = http.get(f"/api/models/{priv}/no-such-route", headers=auth(hub, "bob"))
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    r = http.get(f"/api/models/{priv}/no-such-route", headers=auth(hub))
    assert r.status_code == 404 and "x-error-code" not in r.headers
    # The CLI no longer calls a missing route a missing file.
    out = hf_cli(hub, "papers", "ls")
    assert out.returncode != 0
    assert "File not found" not in out.stdout + out.stderr, out.stdout + out.stderr


# --- 2. auth-check -------------------------------------------------------------------------


def test_auth_check(api, bob_api, anon_api, hub):
    from huggingface_hub import HfApi

    pub, priv = new_id("ac"), new_id("acp")
    api.create_repo(pub)
    api.create_repo(priv, repo_type="dataset", private=True)
    api.auth_check(pub)
    api.auth_check(pub, write=True)
    api.auth_check(priv, repo_type="dataset")
    api.auth_check(priv, repo_type="dataset", write=True)
    anon_api.auth_check(pub)
    bob_api.auth_check(pub)
    with pytest.raises(HfHubHTTPError) as e:
        bob_api.auth_check(pub, write=True)
    assert e.value.response.status_code == 403
    ro = HfApi(endpoint=hub.endpoint, token=hub.tokens["alice_ro"])
    ro.auth_check(priv, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as e:
        ro.auth_check(priv, repo_type="dataset", write=True)
    assert e.value.response.status_code == 403
    # Who cannot read a private repo cannot tell it from a missing one.
    for client in (bob_api, anon_api):
        with pytest.raises(RepositoryNotFoundError):
            client.auth_check(priv, repo_type="dataset")
        with pytest.raises(RepositoryNotFoundError):
            client.auth_check(priv, repo_type="dataset", write=True)
    with pytest.raises(RepositoryNotFoundError):
        api.auth_check(new_id("missing"))


# --- 3. validate-yaml ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "yaml, word",
    [
        ("license: asdf", "asdf"),
        ("model-index: foo", "model-index"),
        ("model-index:\n- name: m\n  results:\n  - task: {}\n    dataset: {type: glue}\n    metrics: []", "task.type"),
        ("language: {en: 1}", "language"),
        ("tags: 3", "tags"),
    ],
)
def test_bad_card_metadata_is_refused_before_upload(api, repo_id, yaml, word):
    readme = f"---\n{yaml}\n---\n# Model\n".encode()
    before = api.model_info(repo_id).sha
    with pytest.raises(ValueError) as e:
        api.upload_file(path_or_fileobj=readme, path_in_repo="README.md", repo_id=repo_id)
    assert "Invalid metadata in README.md" in str(e.value) and word in str(e.value), str(e.value)
    assert api.model_info(repo_id).sha == before


def test_good_card_and_missing_metadata(api, repo_id, http):
    card = (
        "---\nlicense: apache-2.0\nlanguage: [en]\ntags: [a, b]\nmodel-index:\n- name: m\n  results:\n"
        "  - task: {type: text-classification}\n    dataset: {type: glue, name: GLUE}\n"
        "    metrics:\n    - {type: accuracy, value: 0.91}\n---\n# Model\n"
    )
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo_id)
    assert api.model_info(repo_id).card_data["license"] == "apache-2.0"
    with pytest.warns(UserWarning, match="Empty or missing yaml metadata"):
        api.upload_file(path_or_fileobj=b"# Just a title\n", path_in_repo="README.md", repo_id=repo_id)
    r = http.post("/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n", "repoType": "dataset"})
    assert r.status_code == 200 and r.json() == {"errors": [], "warnings": []}
    r = http.post("/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n", "repoType": "kernelz"})
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"


def test_card_metadata_bombs_are_refused_quickly(api, repo_id, http):
    """A "billion laughs" card (aliases of aliases) and an oversized front matter are refused
    with a clear error instead of being expanded (the hub's parser would hold gigabytes)."""
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    ) + "---\n# Bomb\n"
    r = http.post("/api/validate-yaml", json={"content": bomb, "repoType": "model"}, timeout=30)
    assert r.status_code == 400 and "aliases" in r.json()["errors"][0]["message"]
    before = api.model_info(repo_id).sha
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(path_or_fileobj=bomb.encode(), path_in_repo="README.md", repo_id=repo_id)
    big = "---\n" + "".join(f"k{i}: {'v' * 100}\n" for i in range(11000)) + "---\n"
    r = http.post("/api/validate-yaml", json={"content": big}, timeout=30)
    assert r.status_code == 400 and "larger than" in r.json()["errors"][0]["message"]
    assert api.model_info(repo_id).sha == before


# --- 5. list_user_repos / hf repos ls ------------------------------------------------------


def test_list_user_repos_and_hf_repos_ls(api, bob_api, http, hub):
    from huggingface_hub import HfApi

    pub, priv = new_id("ls"), new_id("lsp")
    api.create_repo(pub)
    api.create_repo(priv, repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=os.urandom(5000), path_in_repo="big.bin", repo_id=priv, repo_type="dataset")
    repos = {r.id: r for r in api.list_user_repos()}
    assert repos[pub].type == "model" and repos[pub].visibility == "public"
    assert repos[priv].type == "dataset" and repos[priv].visibility == "private"
    assert repos[priv].storage >= 5000 and repos[priv].storage > repos[pub].storage
    assert repos[priv].updated_at is not None
    assert abs(sum(r.storage_percent for r in repos.values()) - 100) < 0.01
    assert all(r.id.startswith("alice/") for r in repos.values())
    # bob sees only his own; alice's private dataset is not among them.
    assert priv not in {r.id for r in bob_api.list_user_repos()}
    # Pages follow `Link`.
    r = http.get("/api/settings/repositories?limit=1", headers=auth(hub))
    assert len(r.json()) == 1 and 'rel="next"' in r.headers["link"]
    # An organization: members only.
    org = f"gaps{uuid.uuid4().hex[:6]}"
    assert http.post("/org/create", json={"name": org}, headers=auth(hub)).status_code == 200
    api.create_repo(f"{org}/team-model", private=True)
    assert [r.id for r in api.list_user_repos(namespace=org)] == [f"{org}/team-model"]
    with pytest.raises(HfHubHTTPError) as e:
        list(bob_api.list_user_repos(namespace=org))
    assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as e:
        list(api.list_user_repos(namespace="no-such-org-here"))
    assert e.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as e:
        list(HfApi(endpoint=hub.endpoint, token=False).list_user_repos())
    assert e.value.response.status_code == 401
    out = hf_cli(hub, "repos", "ls", "--limit", "0")
    assert out.returncode == 0, out.stderr
    assert pub in out.stdout and priv in out.stdout, out.stdout
    out = hf_cli(hub, "repos", "ls", "--namespace", org)
    assert out.returncode == 0 and f"{org}/team-model" in out.stdout, out.stdout + out.stderr


# --- 6. preupload follows the repo's .gitattributes ----------------------------------------


def test_preupload_follows_gitattributes(api, repo_id, http, hub):
    base = http.get(f"/{repo_id}/resolve/main/.gitattributes").text
    api.upload_file(
        path_or_fileobj=(base + "*.png filter=lfs diff=lfs merge=lfs -text\nicons/*.png -filter\n").encode(),
        path_in_repo=".gitattributes",
        repo_id=repo_id,
    )
    files = [{"path": "image.png", "size": 10, "sample": ""}, {"path": "icons/i.png", "size": 10, "sample": ""},
             {"path": "a.txt", "size": 10, "sample": ""}]
    r = http.post(f"/api/models/{repo_id}/preupload/main", json={"files": files}, headers=auth(hub))
    modes = {f["path"]: f["uploadMode"] for f in r.json()["files"]}
    assert modes == {"image.png": "lfs", "icons/i.png": "regular", "a.txt": "regular"}
    # The client acts on it: a 10-byte PNG is stored through LFS, as git would store it.
    api.upload_file(path_or_fileobj=b"\x89PNG-10byt", path_in_repo="image.png", repo_id=repo_id)
    info = api.get_paths_info(repo_id, ["image.png"])[0]
    assert info.lfs is not None and info.lfs.size == 10
    assert http.get(f"/{repo_id}/resolve/main/image.png", follow_redirects=True).content == b"\x89PNG-10byt"


# --- 7. case-insensitive repo ids ----------------------------------------------------------


def test_repo_ids_are_case_insensitive(api, bob_api, http, hub, tmp_path):
    from huggingface_hub import hf_hub_download

    suffix = uuid.uuid4().hex[:8]
    rid = f"alice/CaseModel-{suffix}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=f"alice/casemodel-{suffix}")
    for spelling in (f"alice/casemodel-{suffix}", f"ALICE/CASEMODEL-{suffix}", rid):
        info = api.model_info(spelling)
        assert info.id == rid  # the stored spelling
        assert api.repo_exists(spelling)
    p = hf_hub_download(f"Alice/casemodel-{suffix}", "a.txt", cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == b"hello"
    assert [c.title for c in api.list_repo_commits(f"alice/CASEMODEL-{suffix}")][0] == "Upload a.txt with huggingface_hub"
    # Another spelling of an existing id is that repo: 409, and exist_ok gives its URL.
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(f"alice/casemodel-{suffix}")
    assert e.value.response.status_code == 409
    assert api.create_repo(f"ALICE/casemodel-{suffix}", exist_ok=True) == f"{hub.endpoint}/{rid}"
    # The namespace takes its owner's spelling.
    other = f"Other-{suffix}"
    assert api.create_repo(f"ALICE/{other}") == f"{hub.endpoint}/alice/{other}"
    assert api.model_info(f"alice/{other}").id == f"alice/{other}"
    assert other in {m.id.split("/")[1] for m in api.list_models(author="ALICE")}
    # git finds it too.
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    subprocess.run(["git", "clone", "-q", f"{hub.endpoint}/ALICE/casemodel-{suffix}", str(tmp_path / "g")], env=env, check=True, capture_output=True)
    assert (tmp_path / "g" / "a.txt").read_bytes() == b"hello"
    # A private repo stays hidden whatever the spelling.
    priv = f"alice/Private-{suffix}"
    api.create_repo(priv, private=True)
    with pytest.raises(RepositoryNotFoundError):
        bob_api.model_info(priv.lower())
    assert api.model_info(priv.upper().replace("ALICE", "alice")).id == priv


# --- 8. short commit ids -------------------------------------------------------------------


def test_short_commit_ids_are_revisions(api, repo_id, http, hub, tmp_path):
    from huggingface_hub import hf_hub_download

    first = api.upload_file(path_or_fileobj=b"one", path_in_repo="f.txt", repo_id=repo_id).oid
    api.upload_file(path_or_fileobj=b"two", path_in_repo="f.txt", repo_id=repo_id)
    for n in (7, 12, 39):
        short = first[:n]
        assert api.model_info(repo_id, revision=short).sha == first
        assert api.revision_exists(repo_id, short)
    short = first[:7]
    assert api.list_repo_files(repo_id, revision=short) == [".gitattributes", "f.txt"]
    p = hf_hub_download(repo_id, "f.txt", revision=short, cache_dir=tmp_path)
    assert open(p, "rb").read() == b"one"
    r = http.get(f"/{repo_id}/resolve/{short}/f.txt")
    assert r.status_code == 200 and r.content == b"one" and r.headers["x-repo-commit"] == first
    assert [c.commit_id for c in api.list_repo_commits(repo_id, revision=short)][0] == first
    api.create_tag(repo_id, tag="from-short", revision=short)
    assert next(t for t in api.list_repo_refs(repo_id).tags if t.name == "from-short").target_commit == first
    api.create_branch(repo_id, branch="from-short-b", revision=short)
    assert api.model_info(repo_id, revision="from-short-b").sha == first
    # Too short, or naming no commit of this repo: not a revision.
    other = "0000000" if not first.startswith("0000000") else "fffffff"
    assert not api.revision_exists(repo_id, other)
    assert not api.revision_exists(repo_id, first[:6])
    r = http.get(f"/api/models/{repo_id}/revision/{other}")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"


# --- 9. deletedFile naming a folder --------------------------------------------------------


def test_delete_file_on_a_folder_deletes_it(api, repo_id, http, hub):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api.create_commit(repo_id, operations=[
        CommitOperationAdd("ckpt/a.txt", b"a"), CommitOperationAdd("ckpt/sub/b.txt", b"b"),
        CommitOperationAdd("logs/l.txt", b"l"), CommitOperationAdd("keep.txt", b"k"),
    ], commit_message="files")
    api.delete_file("ckpt", repo_id)  # `deletedFile` with a folder's path
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "keep.txt", "logs/l.txt"]
    api.create_commit(repo_id, operations=[CommitOperationDelete("logs")], commit_message="rm logs")
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "keep.txt"]
    # Nothing there at all is still a clear 404, and the commit changes nothing.
    head = api.model_info(repo_id).sha
    body = (json.dumps({"key": "header", "value": {"summary": "x"}}) + "\n"
            + json.dumps({"key": "deletedFile", "value": {"path": "ckpt"}}) + "\n")
    r = http.post(f"/api/models/{repo_id}/commit/main", content=body.encode(),
                  headers={**auth(hub), "content-type": "application/x-ndjson"})
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    assert api.model_info(repo_id).sha == head


# --- 10. tag creation checks the revision first --------------------------------------------


def test_tag_unknown_revision_is_revision_not_found_first(api, repo_id, http, hub):
    from huggingface_hub.errors import RevisionNotFoundError

    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="bad..name", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="v1", revision="no-such-branch")
    r = http.post(f"/api/models/{repo_id}/tag/no-such-branch", headers=auth(hub))
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"
    # A known revision: then the tag name is what is wrong.
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(repo_id, tag="bad..name", revision="main")
    assert e.value.response.status_code == 400
    r = http.post(f"/api/models/{repo_id}/tag/main", headers=auth(hub))
    assert r.status_code == 400 and "tag name is required" in r.headers["x-error-message"]
    assert api.list_repo_refs(repo_id).tags == []


# --- 11. a new Space has a README with its SDK ---------------------------------------------


@pytest.mark.parametrize("sdk", ["gradio", "static", "docker"])
def test_new_space_has_sdk_readme(api, http, hub, sdk):
    rid = new_id(f"sp-{sdk}")
    api.create_repo(rid, repo_type="space", space_sdk=sdk)
    assert api.list_repo_files(rid, repo_type="space") == [".gitattributes", "README.md"]
    info = api.space_info(rid)
    assert info.sdk == sdk and info.card_data["sdk"] == sdk
    assert info.card_data["title"] == rid.split("/")[1]
    readme = http.get(f"/spaces/{rid}/resolve/main/README.md").text
    assert readme.startswith("---\n") and f"\nsdk: {sdk}\n" in readme
    r = http.post("/api/validate-yaml", json={"content": readme, "repoType": "space"})
    assert r.status_code == 200 and r.json()["errors"] == []
    # Models and datasets are unchanged; an unknown SDK is refused and nothing is created.
    r = http.post("/api/repos/create", json={"name": rid.split("/")[1] + "-x", "type": "space", "sdk": "php"}, headers=auth(hub))
    assert r.status_code == 400 and "sdk" in r.headers["x-error-message"]
    assert not api.repo_exists(rid + "-x", repo_type="space")


# --- 12. If-None-Match on resolve ----------------------------------------------------------


def test_resolve_if_none_match_is_304(api, repo_id, http, hub):
    api.upload_file(path_or_fileobj=b"small text", path_in_repo="s.txt", repo_id=repo_id)
    api.upload_file(path_or_fileobj=os.urandom(3000), path_in_repo="w.bin", repo_id=repo_id)
    for path in ("s.txt", "w.bin"):
        head = http.head(f"/{repo_id}/resolve/main/{path}")
        etag = head.headers["etag"]
        for sent in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
            r = http.get(f"/{repo_id}/resolve/main/{path}", headers={"if-none-match": sent})
            assert r.status_code == 304, (path, sent, r.status_code)
            assert r.content == b"" and r.headers["etag"] == etag
            assert r.headers["x-repo-commit"] == head.headers["x-repo-commit"]
        r = http.get(f"/{repo_id}/resolve/main/{path}", headers={"if-none-match": '"other"'}, follow_redirects=True)
        assert r.status_code == 200 and len(r.content) > 0
    assert http.head(f"/{repo_id}/resolve/main/w.bin", headers={"if-none-match": etag}).status_code == 304


@pytest.mark.parametrize("cursor", ["18446744073709551615", "9223372036854775807", "9223372036854775808"])
def test_huge_cursor_is_an_empty_page(api, http, hub, cursor):
    """A cursor beyond any list answers an empty page on every paginated list (it used to wrap
    to a negative SQL offset, or overflow computing the next page)."""
    rid = new_id("cur")
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=os.urandom(2000), path_in_repo="w.bin", repo_id=rid)
    assert http.post(f"/api/models/{rid}/like", headers=auth(hub)).status_code == 200
    for path in (
        f"/api/models?cursor={cursor}",
        f"/api/models?cursor={cursor}&limit=1",
        f"/api/models/{rid}/lfs-files?cursor={cursor}&limit=1",
        f"/api/models/{rid}/likers?cursor={cursor}&limit=1",
        f"/api/users/alice/likes?cursor={cursor}&limit=1",
    ):
        r = http.get(path, headers=auth(hub))
        assert r.status_code == 200 and r.json() == [] and "link" not in r.headers, (path, r.status_code, r.text[:200])
    r = http.get("/api/models?cursor=-1", headers=auth(hub))
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
