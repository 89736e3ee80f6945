"""Per-record scores of a pool in shards: resumable shard files, gathered into one parquet.

A shard `k-of-N` (Snakemake's scatteritem) is the contiguous slice `[(k-1)·n/N, k·n/N)` of the
pool. `score_shard` appends each finished chunk of rows to a progress file next to the shard's
output (`<out>.progress.jsonl`, first line: a fingerprint of the pool, shard and scorer settings)
and flushes it, so a killed job restarts from the last finished chunk; a progress file with
another fingerprint is discarded, a torn last line is dropped. The shard's output (JSONL, one row
per record) is written atomically at the end and the progress file removed. `gather_scores`
checks that the shards cover the pool exactly, in order, and writes `{pool}/{scorer}.parquet`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workflow_lib.core.jsonio import DataError, atomic_output, read_jsonl, write_jsonl

log = logging.getLogger(__name__)

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("loss_direct", pa.float64()),
    ("loss_cond", pa.float64()),
    ("ppl_direct", pa.float64()),
    ("ppl_cond", pa.float64()),
    ("ifd", pa.float64()),
    ("n_tokens", pa.int64()),
    ("n_response", pa.int64()),
    ("reason", pa.string()),
])


def shard_range(n: int, scatteritem: str) -> range:
    """Pool indices of shard `k-of-N` (contiguous, sizes differ by at most one)."""
    match = re.fullmatch(r"(\d+)-of-(\d+)", scatteritem)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"shard must look like 'k-of-N' with 1 <= k <= N, got {scatteritem!r}")
    k, total = int(match[1]), int(match[2])
    return range((k - 1) * n // total, k * n // total)


def fingerprint(**parts) -> str:
    """Hex SHA-256 of the JSON of `parts` (what a shard's rows depend on)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _resume(progress: Path, key: str, ids: Sequence[str]) -> list[dict]:
    """Rows already in a matching progress file (a prefix of `ids`); [] when none or stale."""
    if not progress.exists():
        return []
    with progress.open("rb") as f:
        lines = f.read().split(b"\n")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = {}
    if header.get("fingerprint") != key:
        log.info("%s: written for other inputs or settings; starting the shard over", progress)
        return []
    rows = []
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break  # the torn tail of an interrupted write
        if not isinstance(row, dict) or set(row) != set(SCHEMA.names):
            break
        rows.append(row)
    if [row["id"] for row in rows] != list(ids[: len(rows)]):
        log.info("%s: ids do not match the shard; starting the shard over", progress)
        return []
    return rows


def score_shard(
    ids: Sequence[str],
    score: Callable[[range], list[dict]],
    out_path: str | os.PathLike,
    key: str,
    chunk_size: int = 512,
) -> list[dict]:
    """Rows of a shard whose records have `ids`; `score(range)` scores those positions.
    Resumes from `<out_path>.progress.jsonl` when its fingerprint equals `key`."""
    out = Path(out_path)
    progress = out.with_name(out.name + ".progress.jsonl")
    rows = _resume(progress, key, ids)
    if rows:
        log.info("%s: resuming after %d of %d records", progress, len(rows), len(ids))
    # Rewrite what was kept (drops a torn tail), then append chunk by chunk.
    with atomic_output(progress) as f:
        f.write(json.dumps({"fingerprint": key}) + "\n")
        f.writelines(json.dumps(row) + "\n" for row in rows)
    with progress.open("a", encoding="utf-8") as f:
        for begin in range(len(rows), len(ids), chunk_size):
            chunk = score(range(begin, min(begin + chunk_size, len(ids))))
            f.writelines(json.dumps(row) + "\n" for row in chunk)
            f.flush()
            os.fsync(f.fileno())
            rows.extend(chunk)
            log.info("scored %d of %d records", len(rows), len(ids))
    write_jsonl(out, rows)
    progress.unlink()
    return rows


def gather_scores(shards: Sequence[str | os.PathLike], pool_ids: Sequence[str],
                  out_path: str | os.PathLike) -> int:
    """Concatenate shard files (in shard order) into one parquet, checking that their ids are
    the pool's, in order; returns the number of rows."""
    rows = [row for path in shards for _, row in read_jsonl(path)]
    got = [row["id"] for row in rows]
    if got != list(pool_ids):
        missing = sorted(set(pool_ids) - set(got))[:5]
        raise DataError(f"score shards cover {len(got)} records but the pool has {len(pool_ids)}"
                        f" (or another order); missing ids include {missing}",
                        path=str(shards[0]) if shards else None)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    with atomic_output(out_path, "wb") as f:
        pq.write_table(table, f)
    return len(rows)


def read_scores(path: str | os.PathLike, records: Sequence[dict]) -> list[dict]:
    """Score rows of `records`, in their order, from a gathered parquet keyed by id."""
    by_id = {row["id"]: row for row in pq.read_table(path).to_pylist()}
    missing = [r["id"] for r in records if r["id"] not in by_id]
    if missing:
        raise DataError(f"{len(missing)} pool records have no score (first: {missing[0]!r}); "
                        "rescore the pool", path=str(path))
    return [by_id[r["id"]] for r in records]
