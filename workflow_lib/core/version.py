"""The version of the project that wrote a file: package version and, in a git checkout, the
revision and whether tracked files differ from it.

Recorded in the outputs (manifests), never in rule params, so a new commit does not make
Snakemake rerun anything.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = "sieve"
CHECKOUT = Path(__file__).resolve().parents[2]  # the folder that holds workflow_lib/


def git_revision(root: str | Path) -> dict | None:
    """`{"revision", "dirty"}` of the git checkout at `root` (dirty: a tracked file differs
    from the revision), or None when `root` is not a checkout's top or git cannot tell."""
    root = Path(root)
    if not (root / ".git").exists():  # a folder, or a file in a worktree
        return None

    def git(*args: str) -> str:
        # --no-optional-locks: `status` must not lock the index of a checkout someone works in.
        return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *args],
                              capture_output=True, text=True, check=True, timeout=30).stdout

    try:
        revision = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": revision, "dirty": dirty}


@cache
def project_version() -> dict:
    """`{"version": <installed package version, None if not installed>, "git": <git_revision>}`
    of the code running now, "git" absent outside a checkout; computed once per process."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = None
    git = git_revision(CHECKOUT)
    return {"version": version, **({"git": git} if git else {})}
