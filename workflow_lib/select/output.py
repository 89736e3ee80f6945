"""A selection's files: the chosen records in order (data.jsonl) and their manifest."""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.core.manifest import write_manifest
from workflow_lib.data.formats import to_reference_sharegpt
from workflow_lib.data.records import conversation_text, response_text


def compression_ratio(text: str, level: int = 9) -> float:
    """len(bytes) / len(zlib(bytes)): the Entropy-Law redundancy (higher is more redundant)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data, level)) if data else 0.0


def zip_compression_ratio(records: Sequence[dict], positions: Sequence[int]) -> float:
    """The compression ratio as ZIP defines it (docs/methods.md §1.2): of `str(list)` of the
    records as ZIP reads them (`formats.to_reference_sharegpt`, `positions` their places in the
    pool), Python repr text with ids and key names, zlib level 9."""
    dicts = [to_reference_sharegpt(r, i) for r, i in zip(records, positions, strict=True)]
    return compression_ratio(str(dicts))


def selection_stats(records: Sequence[dict]) -> dict:
    """Size, lengths, source mix and whole-set compression ratio of selected records.

    `compression_ratio` is computed over the conversation text of all records joined with
    newlines (not over ids or key names), so it compares selections of any method on equal terms;
    ZIP's own definition is `zip_compression_ratio`.
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
    `selected` (data.jsonl's lines), selected ids, selection statistics (with ZIP's compression
    ratio of the selected records, `zip_compression_ratio`), `extra` method details,
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
        stats={**selection_stats(selected),
               "zip_compression_ratio": zip_compression_ratio(selected, indices)},
        **extra,
        wall_time_s=round(time.perf_counter() - started, 3),
    )
