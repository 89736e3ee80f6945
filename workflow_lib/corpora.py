"""BPC corpora: JSONL documents with `content`, `subset`, `meta` (the hkust-nlp/llm-compression
layout), filtered by subset and cut to a number of documents."""

from __future__ import annotations

import os
from collections.abc import Iterable

from workflow_lib.jsonio import DataError, read_jsonl, type_name


def corpus_records(rows: Iterable[tuple[int, object]], path: str | os.PathLike,
                   subset: str | None = None, limit: int | None = None) -> list[dict]:
    """Documents of `subset` (all when None), then the first `limit` of them.

    Empty documents are kept, as in the reference, which slices `test[:limit]` before dropping
    them; the BPC computation drops (and counts) them.
    """
    records, subsets = [], set()
    for line, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("content"), str):
            found = type_name(row.get("content")) if isinstance(row, dict) else type_name(row)
            raise DataError(f"expected a string, got {found}", path=path, line=line,
                            field="content")
        if subset is not None:
            if "subset" not in row:
                raise DataError("missing (needed to filter by subset)", path=path, line=line,
                                field="subset")
            subsets.add(row["subset"])
            if row["subset"] != subset:
                continue
        records.append(row)
    if subset is not None and not records:
        raise DataError(f"no documents of subset {subset!r}; found {sorted(subsets)}", path=path)
    return records if limit is None else records[:limit]


def read_corpus(path: str | os.PathLike, subset: str | None = None,
                limit: int | None = None) -> list[str]:
    """Document texts of a JSONL corpus file (see corpus_records)."""
    return [r["content"] for r in corpus_records(read_jsonl(path), path, subset, limit)]
