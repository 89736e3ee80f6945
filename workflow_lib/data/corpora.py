"""BPC corpora: JSONL documents with `content`, `subset`, `meta` (the hkust-nlp/llm-compression
layout), filtered by subset and cut to a number of documents."""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

from workflow_lib.core.jsonio import DataError, read_jsonl, type_name


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


def stdlib_documents(modules: list[str]) -> Iterator[tuple[int, dict]]:
    """(index, document) for the .py files of the named stdlib modules or packages, in order.

    Names are file or folder names under this interpreter's stdlib (`json`, `textwrap.py`).
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    index = 0
    for module in modules:
        path = root / module
        if not path.exists():
            raise DataError(f"no module {module!r} in the standard library at {root}")
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            index += 1
            yield index, {"content": file.read_text(encoding="utf-8"), "subset": "python",
                          "meta": {"stdlib_path": str(file.relative_to(root))}}


def heldout_documents(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """(line, document) for a demo held-out file: "question\nanswer" per item."""
    for line, item in read_jsonl(path):
        yield line, {"content": f"{item['question']}\n{item['answer']}", "subset": "heldout",
                     "meta": {"id": item["id"], "family": item["family"]}}
