"""The canonical record: its contract, validation, and validated reading of canonical pools.

A canonical record is one JSON object per line of `results/pools/{pool}.jsonl`:
`{"id": str, "conversations": [{"from": "system"|"human"|"gpt", "value": str}, ...],
"source": str, "meta": {...}}`. Structure and types are validated, not style: a conversation
may start with a gpt turn or hold consecutive turns of one role (real ShareGPT splits do both),
and values may be empty strings. A system turn may only come first, and a record needs at least
one human and one gpt turn; lacking one (or having no turns at all) raises `IncompleteRecord`,
which converters can choose to skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from workflow_lib.core.jsonio import DataError, read_records, type_name

ROLES = ("system", "human", "gpt")
KEYS = ("id", "conversations", "source", "meta")


class IncompleteRecord(DataError):
    """A well-formed record without a human or a gpt turn (nothing to train on)."""


def check_roles(roles: list[str], field: str, role_key: str) -> None:
    """Check the role sequence of a conversation stored under `field` (names used in errors)."""
    for i, role in enumerate(roles[1:], 1):
        if role == "system":
            raise DataError("a system turn may only come first", field=f"{field}[{i}].{role_key}")
    if not roles:
        raise IncompleteRecord("empty conversation", field=field)
    for needed in ("human", "gpt"):
        if needed not in roles:
            raise IncompleteRecord(f"no {needed} turn", field=field)


def expect(obj: dict, key: str, kind: type, field: str | None = None) -> object:
    """`obj[key]`, raising DataError if it is missing or not of type `kind`."""
    field = field or key
    if key not in obj:
        raise DataError("missing", field=field)
    value = obj[key]
    if not isinstance(value, kind):
        raise DataError(f"expected {kind.__name__}, got {type_name(value)}", field=field)
    return value


def validate_record(record: dict) -> dict:
    """Check a canonical record's structure and types; returns it. Raises DataError."""
    record_id = record.get("id") if isinstance(record.get("id"), str) else None
    try:
        extra = sorted(set(record) - set(KEYS))
        if extra:
            raise DataError(f"unexpected field(s) {extra}; canonical fields are {list(KEYS)}")
        expect(record, "id", str)
        expect(record, "source", str)
        expect(record, "meta", dict)
        turns = expect(record, "conversations", list)
        for i, turn in enumerate(turns):
            field = f"conversations[{i}]"
            if not isinstance(turn, dict):
                raise DataError(f"expected dict, got {type_name(turn)}", field=field)
            if set(turn) != {"from", "value"}:
                raise DataError(f"expected keys ['from', 'value'], got {list(turn)}", field=field)
            if expect(turn, "from", str, f"{field}.from") not in ROLES:
                raise DataError(f"unknown role {turn['from']!r}, expected one of {list(ROLES)}",
                                field=f"{field}.from")
            expect(turn, "value", str, f"{field}.value")
        check_roles([t["from"] for t in turns], "conversations", "from")
    except DataError as exc:
        exc.locate(record_id=record_id)
        raise
    return record


class UniqueIds:
    """Remembers the line of each id seen in one file and rejects repeats."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path, self.lines = path, {}

    def add(self, record_id: str, line: int) -> None:
        if record_id in self.lines:
            raise DataError(f"duplicate id, first seen at line {self.lines[record_id]}",
                            path=self.path, line=line, record_id=record_id, field="id")
        self.lines[record_id] = line


def read_pool(path: str | os.PathLike) -> Iterator[dict]:
    """Yield the validated canonical records of a pool file; ids must be unique."""
    ids = UniqueIds(path)
    for line, record in read_records(path):
        try:
            validate_record(record)
        except DataError as exc:
            exc.locate(path=path, line=line)
            raise
        ids.add(record["id"], line)
        yield record


def response_text(record: dict) -> str:
    """All gpt turns of a canonical record, joined with newlines."""
    return "\n".join(t["value"] for t in record["conversations"] if t["from"] == "gpt")


def conversation_text(record: dict) -> str:
    """All turns of a canonical record (system included), joined with newlines."""
    return "\n".join(t["value"] for t in record["conversations"])
