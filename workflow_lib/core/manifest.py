"""Provenance manifests: what produced a file, from which inputs, with which library versions
and which version of this project (`core.version`)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import zlib
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from workflow_lib.core.jsonio import write_json
from workflow_lib.core.version import project_version

# Set by the Snakefile of a rehearsal (workflow_lib.config.rehearsal): what the rehearsal changed
# in its recipe, recorded in every manifest the run writes.
REHEARSAL_ENV = "SIEVE_REHEARSAL"
_TRACKED_PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "axolotl", "lm_eval",
                     "snakemake")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def environment() -> dict:
    """Interpreter, platform, zlib build and versions of the packages that change results."""
    versions = {}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "zlib_runtime_version": zlib.ZLIB_RUNTIME_VERSION,
        "packages": versions,
    }


def write_manifest(path: str | Path, /, *, inputs: Mapping[str, str | Path] | None = None,
                   **fields) -> dict:
    """Write a manifest: `fields`, the hashes of the local `inputs` files, the environment and
    the project's version (`sieve`), and in a rehearsal what it changed (`rehearsal`); returns
    what was written."""
    rehearsal = os.environ.get(REHEARSAL_ENV)
    manifest = {
        **fields,
        "inputs": {name: {"path": str(p), "sha256": file_sha256(p)}
                   for name, p in (inputs or {}).items()},
        "environment": environment(),
        "sieve": project_version(),
        **({"rehearsal": json.loads(rehearsal)} if rehearsal else {}),
    }
    write_json(path, manifest)
    return manifest
