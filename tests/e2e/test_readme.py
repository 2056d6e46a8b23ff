"""The README's first steps, run as written: the block is taken from README.md and run by bash in
an empty directory, as a newcomer would paste it, against a hub of its own. Only the environment
differs from a fresh machine: `kohaku` on PATH is the binary under test, the hub listens on a free
port (KOHAKU_HUB_LISTEN, which the block reads), HOME is a fresh directory, and pip installs the
pinned client versions (PIP_CONSTRAINT=tests/requirements.txt) from its usual cache."""
import os
import re
import signal
import subprocess
import tempfile

from conftest import KOHAKU, ROOT, free_port

README = os.path.join(ROOT, "README.md")
MARKER = "<!-- first-steps: tests/e2e/test_readme.py runs the next sh block as it is -->"


def first_steps_block():
    text = open(README).read()
    assert MARKER in text, "the README lost its first-steps marker"
    m = re.search(r"```sh\n(.*?)```", text[text.index(MARKER):], re.S)
    assert m, "no sh block after the first-steps marker"
    return m.group(1)


def fresh_machine_env(home, bin_dir, port):
    """The caller's environment without anything of the test suite or its virtualenv."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("KOHAKU_", "HF_", "HUGGINGFACE_", "VIRTUAL_ENV", "PYTHON", "GIT_"))
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and "kohaku-ci" not in p]
    env.update(
        HOME=home,
        PATH=os.pathsep.join([bin_dir] + path),
        KOHAKU_HUB_LISTEN=f"127.0.0.1:{port}",
        PIP_CONSTRAINT=os.path.join(ROOT, "tests", "requirements.txt"),
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR") or os.path.expanduser("~/.cache/pip"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def test_readme_starts_with_the_two_commands():
    text = open(README).read()
    first = re.search(r"```sh\n(.*?)```", text, re.S).group(1).splitlines()
    assert first[0].startswith("cargo run --release -- serve")
    assert first[1].startswith("scripts/test.sh")
    # The install line installs the package that owns the `kohaku` binary.
    assert "cargo install --locked --path cli\n" in text
    assert 'name = "kohaku"' in open(os.path.join(ROOT, "cli", "Cargo.toml")).read()


def test_first_steps_block_works_pasted_into_an_empty_directory():
    block = first_steps_block()
    work = tempfile.mkdtemp(prefix="kohaku-readme-")
    home = tempfile.mkdtemp(prefix="kohaku-readme-home-")
    bin_dir = tempfile.mkdtemp(prefix="kohaku-readme-bin-")
    os.symlink(os.path.abspath(KOHAKU), os.path.join(bin_dir, "kohaku"))
    port = free_port()
    script = os.path.join(home, "first-steps.sh")
    with open(script, "w") as f:
        f.write(block)
    # bash -e: a failing line fails the test (a paste would carry on and bury the error).
    proc = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", script],
        cwd=work, env=fresh_machine_env(home, bin_dir, port),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=540)
    finally:
        # The block leaves the hub running in the background, in the block's process group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    log = os.path.join(work, "kohaku.log")
    hub_log = open(log).read() if os.path.exists(log) else "(no kohaku.log)"
    assert proc.returncode == 0, f"first steps failed:\n{out}\n--- kohaku.log ---\n{hub_log}"
    # What each step should have left behind.
    assert os.path.isfile(os.path.join(work, "kohaku-data", "kohaku.db"))
    assert f"listening on http://127.0.0.1:{port}" in hub_log
    assert "['.gitattributes', 'config.json', 'model.safetensors']" in out, out
    assert "the clone has the weights" in out, out
    clone = os.path.join(work, "my-model-clone", "model.safetensors")
    assert os.path.getsize(clone) == 1 << 20  # the LFS file itself, not a pointer
