"""Downloads from the Hugging Face hub at a pinned revision, with retries and clear failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from workflow_lib.core.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")


class HubError(UserError):
    """A download from the hub is impossible (offline, unreachable, or no such repo/revision)."""


def _is_permanent(err: Exception) -> bool:
    """Errors that a retry cannot fix: missing repository, revision, config or access rights."""
    from huggingface_hub.errors import (
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    permanent = (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError,
                 OfflineModeIsEnabled, FileNotFoundError, ValueError)
    return isinstance(err, permanent)


def with_retries(fn: Callable[[], T], what: str, retries: int = 3, backoff_s: float = 2.0) -> T:
    """Call fn, retrying transient failures with exponential backoff; raise HubError at the end."""
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as err:
            if _is_permanent(err) or attempt == retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise HubError(f"could not download {what}{tries}: {type(err).__name__}: {err}. "
                               "Without network access, point the config at a local file "
                               "(source: {kind: local, path: ...}).") from err
            delay = backoff_s * 2**attempt
            log.warning("attempt %d for %s failed (%s); retrying in %.0f s", attempt + 1, what,
                        err, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def require_online(offline: bool, what: str) -> None:
    """Fail at once, before any network call, when the config says the run is offline."""
    if offline:
        raise HubError(f"{what} must be downloaded from the Hugging Face hub, but the config has "
                       "`offline: true`. Set `offline: false` on a machine with network access, "
                       "or use a local source (source: {kind: local, path: ...}).")


def resolve_revision(repo: str, revision: str, repo_type: str, retries: int = 3) -> str:
    """The commit SHA that `revision` (branch, tag or SHA) of a hub repository points to."""
    from huggingface_hub import HfApi

    api = HfApi()
    info = api.dataset_info if repo_type == "dataset" else api.model_info
    return with_retries(lambda: info(repo, revision=revision).sha,
                        f"{repo_type} {repo}@{revision} (revision lookup)", retries)


def dataset_rows(repo: str, revision: str, config: str | None, split: str,
                 retries: int = 3) -> tuple[Iterator[dict], str]:
    """Rows of a hub dataset split at a revision, and the commit SHA they come from."""
    import datasets

    sha = resolve_revision(repo, revision, "dataset", retries)
    what = f"dataset {repo}@{sha[:12]} config={config} split={split}"
    table = with_retries(
        lambda: datasets.load_dataset(repo, name=config, split=split, revision=sha), what, retries)
    return iter(table), sha


def download_dataset_file(repo: str, revision: str, filename: str,
                          retries: int = 3) -> tuple[str, str]:
    """One file of a hub dataset repository at a revision: its local (cached) path and the
    commit SHA it comes from."""
    from huggingface_hub import hf_hub_download

    sha = resolve_revision(repo, revision, "dataset", retries)
    path = with_retries(lambda: hf_hub_download(repo, filename, repo_type="dataset", revision=sha),
                        f"dataset {repo}@{sha[:12]} file {filename}", retries)
    return path, sha


def download_model(repo: str, revision: str, out_dir: str | Path, retries: int = 3) -> str:
    """Download a model snapshot into out_dir; returns the commit SHA."""
    from huggingface_hub import snapshot_download

    sha = resolve_revision(repo, revision, "model", retries)
    with_retries(lambda: snapshot_download(repo, revision=sha, local_dir=str(out_dir)),
                 f"model {repo}@{sha[:12]}", retries)
    return sha
