"""Files of a public repository at a pinned commit: downloaded from their raw URLs or copied from
a local folder with the same layout, and checked against the sha256 of the pinned commit's
files (always for downloads; for local copies unless the caller opts out, e.g. for the demo's
own stand-in files)."""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import atomic_output
from workflow_lib.core.manifest import file_sha256


@dataclass(frozen=True)
class PinnedFile:
    """One file: its local name (relative path), raw URL at the pinned commit, and sha256."""

    name: str
    url: str
    sha256: str


def fetch_pinned(files: Sequence[PinnedFile], out_dir: str | os.PathLike,
                 local_data: str | os.PathLike | None, check_sha256: bool, *, what: str,
                 origin: str, setting: str) -> dict:
    """Put `files` into `out_dir`: copied from the folder `local_data`, or downloaded when it is
    None. A file whose sha256 differs from the pinned one (downloads always checked, local files
    when `check_sha256`) is removed and raises UserError. `what` names the data in messages
    ("MT-bench"), `origin` the pinned source ("FastChat 0e6d3e4"), `setting` the config key of
    the local folder. Returns {name: {"source", "sha256"}}."""
    found = {}
    for pinned in files:
        target = Path(out_dir) / pinned.name
        if local_data is None:
            source = pinned.url
            _download(source, target, setting)
        else:
            source = str(Path(local_data) / pinned.name)
            if not Path(source).is_file():
                names = ", ".join(f.name for f in files)
                raise UserError(f"{source}: {what} file missing ({setting} must hold {names}; "
                                "null downloads them)")
            with atomic_output(target, "wb") as fh, open(source, "rb") as src:
                shutil.copyfileobj(src, fh)
        digest = file_sha256(target)
        if (check_sha256 or local_data is None) and digest != pinned.sha256:
            target.unlink()
            raise UserError(f"{source}: sha256 {digest} differs from {origin}'s {pinned.sha256}")
        found[pinned.name] = {"source": source, "sha256": digest}
    return found


def _download(url: str, target: Path, setting: str, timeout: float = 60) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, \
                atomic_output(target, "wb") as fh:
            shutil.copyfileobj(response, fh)
    except OSError as err:
        raise UserError(f"download of {url} failed ({err}); without network access set "
                        f"{setting} to a folder with the files") from err
