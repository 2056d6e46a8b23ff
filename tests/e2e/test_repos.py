"""Repository lifecycle through huggingface_hub: create, info, list, settings, move, delete."""
import uuid

import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from conftest import auth


def test_whoami(api, hub):
    me = api.whoami()
    assert me["name"] == "alice"
    assert me["type"] == "user"
    assert all("name" in o and "fullname" in o for o in me["orgs"])
    assert me["auth"]["accessToken"]["displayName"] == "e2e"
    assert me["auth"]["accessToken"]["role"] == "write"


def test_whoami_bad_token(hub, http):
    r = http.get("/api/whoami-v2", headers={"authorization": "Bearer hf_nope"})
    assert r.status_code == 401
    assert r.headers["x-error-code"]
    assert "x-request-id" in r.headers
    assert r.json()["error"]


def test_create_model_and_dataset_public_private(api, anon_api, bob_api):
    name = f"r-{uuid.uuid4().hex[:8]}"
    url = api.create_repo(f"alice/{name}")
    assert url == f"{api.endpoint}/alice/{name}"
    durl = api.create_repo(f"alice/{name}", repo_type="dataset", private=True)
    assert durl == f"{api.endpoint}/datasets/alice/{name}"
    info = api.model_info(f"alice/{name}")
    assert info.id == f"alice/{name}" and info.private is False
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]
    assert len(info.sha) == 40
    assert info.created_at is not None and info.last_modified is not None
    ds = api.dataset_info(f"alice/{name}")
    assert ds.private is True
    # Private: indistinguishable from missing for others.
    with pytest.raises(RepositoryNotFoundError):
        anon_api.dataset_info(f"alice/{name}")
    with pytest.raises(RepositoryNotFoundError):
        bob_api.dataset_info(f"alice/{name}")
    assert anon_api.repo_exists(f"alice/{name}")
    assert not anon_api.repo_exists(f"alice/{name}", repo_type="dataset")


def test_create_conflict(api):
    rid = f"alice/c-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    assert api.create_repo(rid, exist_ok=True) == f"{api.endpoint}/{rid}"
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(rid)
    assert e.value.response.status_code == 409
    # Names clash after normalisation (case, '-' and '_').
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(rid.upper().replace("ALICE", "alice").replace("-", "_"))
    assert e.value.response.status_code == 409


def test_create_in_foreign_namespace_refused(bob_api):
    with pytest.raises(HfHubHTTPError) as e:
        bob_api.create_repo(f"alice/x-{uuid.uuid4().hex[:6]}")
    assert e.value.response.status_code == 403


def test_read_only_token_cannot_write(hub, repo_id):
    from huggingface_hub import HfApi

    ro = HfApi(endpoint=hub.endpoint, token=hub.tokens["alice_ro"])
    assert ro.model_info(repo_id).id == repo_id
    with pytest.raises(HfHubHTTPError) as e:
        ro.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError):
        ro.create_repo(f"alice/ro-{uuid.uuid4().hex[:6]}")


def test_settings_private_toggle(api, anon_api, repo_id):
    api.update_repo_settings(repo_id, private=True)
    assert api.model_info(repo_id).private is True
    with pytest.raises(RepositoryNotFoundError):
        anon_api.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, ".gitattributes", token=False)
    api.update_repo_settings(repo_id, gated="auto")
    assert api.model_info(repo_id).gated == "auto"
    api.update_repo_settings(repo_id, private=False, gated=False)
    info = anon_api.model_info(repo_id)
    assert info.private is False and info.gated is False


def test_settings_by_non_owner_refused(bob_api, repo_id):
    with pytest.raises(HfHubHTTPError) as e:
        bob_api.update_repo_settings(repo_id, private=True)
    assert e.value.response.status_code == 403


def test_move_repo_and_old_id_redirects(api, tmp_path):
    old = f"alice/old-{uuid.uuid4().hex[:8]}"
    new = f"alice/new-{uuid.uuid4().hex[:8]}"
    api.create_repo(old, private=True)
    api.upload_file(path_or_fileobj=b"content", path_in_repo="f.txt", repo_id=old)
    api.move_repo(old, new)
    assert api.model_info(new).id == new
    # The old id keeps resolving for downloads (private repo, with auth).
    p = hf_hub_download(old, "f.txt", token=api.token, cache_dir=tmp_path)
    assert open(p, "rb").read() == b"content"
    # Moving onto an existing repo is refused with a clear message.
    other = f"alice/other-{uuid.uuid4().hex[:8]}"
    api.create_repo(other)
    with pytest.raises(HfHubHTTPError) as e:
        api.move_repo(new, other)
    assert "already exists" in str(e.value)


def test_delete_repo(api, anon_api):
    rid = f"alice/d-{uuid.uuid4().hex[:8]}"
    api.create_repo(rid)
    api.delete_repo(rid)
    assert not api.repo_exists(rid)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(rid)
    api.delete_repo(rid, missing_ok=True)
    # The name is free again.
    api.create_repo(rid)
    assert [s.rfilename for s in api.model_info(rid).siblings] == [".gitattributes"]


def test_delete_by_other_user_refused(bob_api, api, repo_id):
    with pytest.raises(HfHubHTTPError) as e:
        bob_api.delete_repo(repo_id)
    assert e.value.response.status_code in (403, 404)
    assert api.repo_exists(repo_id)


def test_list_models_author_search_sort_limit(api, anon_api):
    tag = uuid.uuid4().hex[:6]
    ids = [f"alice/list-{tag}-{i}" for i in range(3)]
    for i in ids:
        api.create_repo(i)
    api.create_repo(f"alice/list-{tag}-priv", private=True)
    found = [m.id for m in anon_api.list_models(author="alice", search=f"list-{tag}")]
    assert sorted(found) == sorted(ids)
    mine = [m.id for m in api.list_models(author="alice", search=f"list-{tag}")]
    assert f"alice/list-{tag}-priv" in mine
    newest_first = [m.id for m in api.list_models(search=f"list-{tag}-", sort="created_at")]
    assert newest_first[0] == f"alice/list-{tag}-priv"
    assert len(list(api.list_models(search=f"list-{tag}", limit=2))) == 2
    assert all(m.id.startswith("alice/") for m in api.list_models(author="alice", limit=5))


def test_list_pagination_link_is_absolute_and_complete(api, hub, http):
    tag = uuid.uuid4().hex[:6]
    for i in range(5):
        api.create_repo(f"alice/pg-{tag}-{i}")
    seen = []
    url = f"/api/models?search=pg-{tag}&limit=2&sort=createdAt"
    pages = 0
    while url:
        r = http.get(url)
        assert r.status_code == 200
        seen += [m["id"] for m in r.json()]
        pages += 1
        nxt = r.links.get("next", {}).get("url")
        if nxt:
            assert nxt.startswith(hub.endpoint + "/api/models?")
            assert f"search=pg-{tag}" in nxt and "limit=2" in nxt
        url = nxt
    assert pages >= 3
    assert sorted(seen) == sorted(f"alice/pg-{tag}-{i}" for i in range(5))


def test_user_repos_grouped(api, hub, http):
    name = f"u-{uuid.uuid4().hex[:8]}"
    api.create_repo(f"alice/{name}", repo_type="dataset")
    api.create_repo(f"alice/{name}-priv", private=True)
    r = http.get("/api/users/alice/repos").json()
    assert f"alice/{name}" in [d["id"] for d in r["datasets"]]
    assert f"alice/{name}-priv" not in [m["id"] for m in r["models"]]
    r = http.get("/api/users/alice/repos", headers=auth(hub)).json()
    assert f"alice/{name}-priv" in [m["id"] for m in r["models"]]
    assert http.get("/api/users/nobody-here/repos").status_code == 404


def test_card_data_and_tags(api, repo_id):
    api.upload_file(
        path_or_fileobj=b"---\nlicense: apache-2.0\nlibrary_name: transformers\ntags:\n- text\n---\n# Model\n",
        path_in_repo="README.md",
        repo_id=repo_id,
    )
    info = api.model_info(repo_id)
    assert info.card_data["license"] == "apache-2.0"
    assert "text" in info.tags and "license:apache-2.0" in info.tags
    assert info.library_name == "transformers"


def test_invalid_readme_yaml_rejected(api, repo_id):
    with pytest.raises(ValueError):
        api.upload_file(path_or_fileobj=b"---\nfoo: [unclosed\n---\n", path_in_repo="README.md", repo_id=repo_id)


def test_service_endpoints(http):
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/api/version").json()["version"]
    assert "endpoint" in http.get("/").json()
    r = http.get("/no/such/thing/here")
    assert r.status_code == 404 and r.headers["x-error-code"] and "x-request-id" in r.headers
