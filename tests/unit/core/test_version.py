"""The project's version in every manifest: package version, and git revision and dirty flag
when the code runs from a checkout (absent otherwise, never an error)."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata

import pytest

from workflow_lib.core import version
from workflow_lib.core.manifest import write_manifest
from workflow_lib.core.version import git_revision, project_version


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "tracked.txt").write_text("a")
    git(tmp_path, "add", "tracked.txt")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_a_checkout_gives_its_revision_and_whether_tracked_files_changed(repo):
    head = git(repo, "rev-parse", "HEAD")
    assert git_revision(repo) == {"revision": head, "dirty": False}
    (repo / "untracked.txt").write_text("results do not make it dirty")
    assert git_revision(repo) == {"revision": head, "dirty": False}
    (repo / "tracked.txt").write_text("b")
    assert git_revision(repo) == {"revision": head, "dirty": True}


def test_no_checkout_or_no_git_gives_none(repo, tmp_path_factory, monkeypatch):
    assert git_revision(tmp_path_factory.mktemp("plain")) is None
    assert git_revision(repo / "sub-folder-of-a-checkout") is None
    monkeypatch.setenv("PATH", "")
    assert git_revision(repo) is None


def test_project_version_is_the_installed_package_and_the_checkout(monkeypatch, tmp_path):
    project_version.cache_clear()
    monkeypatch.setattr(version, "CHECKOUT", tmp_path)  # not a checkout: no "git" key
    assert project_version() == {"version": metadata.version("sieve")}
    project_version.cache_clear()
    monkeypatch.undo()
    found = project_version()
    assert found["version"] == metadata.version("sieve")
    assert found.get("git") == git_revision(version.CHECKOUT)


def test_every_manifest_records_it(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    written = write_manifest(tmp_path / "m.json", inputs={"x": tmp_path / "in.txt"}, a=1)
    assert json.loads((tmp_path / "m.json").read_text()) == written
    assert written["sieve"] == project_version() and written["a"] == 1
    assert write_manifest(tmp_path / "n.json", path="a field named path")["inputs"] == {}
