"""Use a kohaku hub from Python exactly as huggingface.co.

    export HF_ENDPOINT=http://127.0.0.1:28080 HF_TOKEN=hf_...
    python examples/client.py alice/demo
"""
import sys

from huggingface_hub import HfApi, hf_hub_download, snapshot_download

repo_id = sys.argv[1] if len(sys.argv) > 1 else "alice/demo"
api = HfApi()
print("logged in as", api.whoami()["name"])
api.create_repo(repo_id, exist_ok=True)
api.upload_file(path_or_fileobj=b'{"hidden_size": 8}', path_in_repo="config.json", repo_id=repo_id)
api.create_tag(repo_id, tag="v1", exist_ok=True)
print(api.list_repo_files(repo_id))
print(open(hf_hub_download(repo_id, "config.json", revision="v1")).read())
print(snapshot_download(repo_id))
for c in api.list_repo_commits(repo_id):
    print(c.commit_id[:8], c.title)
