"""A selection's files: the chosen records in order (data.jsonl) and their manifest."""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.core.manifest import write_manifest
from workflow_lib.data.records import conversation_text, response_text


def compression_ratio(text: str, level: int = 9) -> float:
    """len(bytes) / len(zlib(bytes)): the Entropy-Law redundancy (higher is more redundant)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data, level)) if data else 0.0


def selection_stats(records: Sequence[dict]) -> dict:
    """Size, lengths, source mix and whole-set compression ratio of selected records.

    The compression ratio is computed over the conversation text of all records joined with
    newlines (not over ids or key names), so it compares selections of any method on equal terms.
    """
    n = len(records)
    response_chars = [len(response_text(r)) for r in records]
    texts = [conversation_text(r) for r in records]
    return {
        "n_records": n,
        "n_turns_mean": sum(len(r["conversations"]) for r in records) / n if n else 0.0,
        "response_chars_mean": sum(response_chars) / n if n else 0.0,
        "conversation_chars_mean": sum(map(len, texts)) / n if n else 0.0,
        "source_mix": dict(sorted(Counter(r["source"] for r in records).items())),
        "compression_ratio": compression_ratio("\n".join(texts)),
    }


def write_selection(data_path: str | Path, manifest_path: str | Path, *, pool_path: str | Path,
                    records: Sequence[dict], indices: Sequence[int], method: str,
                    method_version: int, params: dict, pool: str, budget: int | float | str,
                    requested: int, started: float, **extra) -> None:
    """Write a selection (the chosen records, in order) and its manifest: method, the registry
    version of its kind and params, pool hash, the budget, the records it `requested` and those
    `selected` (data.jsonl's lines), selected ids, selection statistics, `extra` method details,
    wall time since the `time.perf_counter()` value `started`."""
    selected = [records[i] for i in indices]
    write_jsonl(data_path, selected)
    write_manifest(
        manifest_path,
        inputs={"pool": pool_path},
        method=method,
        method_version=method_version,
        params=params,
        pool=pool,
        budget=budget,
        requested=requested,
        selected=len(selected),
        n_pool=len(records),
        selected_ids=[r["id"] for r in selected],
        stats=selection_stats(selected),
        **extra,
        wall_time_s=round(time.perf_counter() - started, 3),
    )
