"""Pool formats <-> canonical records, exactly reversible, and file conversion.

Formats: `alpaca` (instruction/input/output), `dolly` (instruction/context/response), `sharegpt`
(`conversations` of from/value or role/content messages) and `messages` (OpenAI-style
`messages` of role/content, or from/value). Role names human/user, gpt/assistant and system are
accepted in both chat formats.

A pair record maps to one human turn, `instruction` or `instruction + "\\n\\n" + input` when the
input is non-empty, and one gpt turn. `meta` holds only what the conversation does not, so that
`from_canonical(to_canonical(x)) == x`, key order included:

    format      the original format
    keys        the original top-level keys in order; "id"/"source" absent: generated/defaulted
    extra       original top-level fields not otherwise represented (dolly "category", ...)
    input_len   pair formats, non-empty input only: its length (it ends the human turn)
    turn_keys   chat formats: [role key, text key] when not the format's own (from/value for
                sharegpt, role/content for messages)
    roles       chat formats: role names other than the format's own, e.g. {"gpt": "assistant"}
    turns       chat formats: per-turn deviations keyed by turn index: "role" (a name other than
                the record's), "extra" (other message keys), "keys" (message key order)

Optional entries are omitted when empty.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from workflow_lib.core.jsonio import DataError, read_records, type_name, write_jsonl
from workflow_lib.data.health import PoolHealth
from workflow_lib.data.records import (
    KEYS,
    IncompleteRecord,
    UniqueIds,
    check_roles,
    expect,
    validate_record,
)

log = logging.getLogger(__name__)

INPUT_SEPARATOR = "\n\n"
DEFAULT_SOURCE = "unknown"  # the workflow's `source` for records without one (source_name)
ROLE_NAMES = {"system": "system", "human": "human", "user": "human", "gpt": "gpt",
              "assistant": "gpt"}
NAMINGS = (("from", "value"), ("role", "content"))


def prompt_fields(record: dict) -> tuple[str, str, str]:
    """`(instruction, input, output)` of a single-turn canonical record (input "" unless split)."""
    turns = record["conversations"]
    roles = [t["from"] for t in turns]
    if roles != ["human", "gpt"]:
        raise DataError(f"has turns {roles}; instruction/input/output needs exactly one human "
                        "and one gpt turn", record_id=record["id"], field="conversations")
    human, output = turns[0]["value"], turns[1]["value"]
    size = record["meta"].get("input_len", 0)
    if not size:
        return human, "", output
    cut = len(human) - size - len(INPUT_SEPARATOR)
    if cut < 0 or human[cut:-size] != INPUT_SEPARATOR:
        raise DataError("does not match the human turn", record_id=record["id"],
                        field="meta.input_len")
    return human[:cut], human[-size:], output


@dataclass(frozen=True)
class PairFormat:
    """One instruction (+ optional input) and one output per record."""

    name: str
    instruction: str
    input: str
    output: str

    @property
    def export_keys(self) -> tuple[str, ...]:
        return self.instruction, self.input, self.output

    def decode(self, obj: dict) -> tuple[list[dict], dict]:
        instruction = expect(obj, self.instruction, str)
        output = expect(obj, self.output, str)
        given = expect(obj, self.input, str) if self.input in obj else ""
        human = instruction + INPUT_SEPARATOR + given if given else instruction
        turns = [{"from": "human", "value": human}, {"from": "gpt", "value": output}]
        return turns, {"input_len": len(given)} if given else {}

    def encode(self, record: dict, meta: dict) -> dict:
        return dict(zip(self.export_keys, prompt_fields(record), strict=True))


@dataclass(frozen=True)
class ChatFormat:
    """A list of role-tagged messages per record."""

    name: str
    turns: str
    naming: tuple[str, str]
    roles: dict[str, str]  # canonical role -> this format's name for it

    @property
    def export_keys(self) -> tuple[str, ...]:
        return "id", self.turns, "source"

    def decode(self, obj: dict) -> tuple[list[dict], dict]:
        messages = expect(obj, self.turns, list)
        first = messages[0] if messages and isinstance(messages[0], dict) else {}
        role_key, text_key = next((n for n in NAMINGS if n[0] in first), self.naming)
        turns, names, deviations = [], {}, {}
        for i, msg in enumerate(messages):
            field = f"{self.turns}[{i}]"
            if not isinstance(msg, dict):
                raise DataError(f"expected dict, got {type_name(msg)}", field=field)
            name = expect(msg, role_key, str, f"{field}.{role_key}")
            if name not in ROLE_NAMES:
                raise DataError(f"unknown role {name!r}, expected one of {list(ROLE_NAMES)}",
                                field=f"{field}.{role_key}")
            turns.append({"from": ROLE_NAMES[name],
                          "value": expect(msg, text_key, str, f"{field}.{text_key}")})
            extra = {k: v for k, v in msg.items() if k not in (role_key, text_key)}
            deviation = {"role": name} if names.setdefault(ROLE_NAMES[name], name) != name else {}
            if extra:
                deviation["extra"] = extra
            if list(msg) != [role_key, text_key, *extra]:
                deviation["keys"] = list(msg)
            if deviation:
                deviations[str(i)] = deviation
        check_roles([t["from"] for t in turns], self.turns, role_key)
        layout: dict[str, Any] = {}
        if (role_key, text_key) != self.naming:
            layout["turn_keys"] = [role_key, text_key]
        if roles := {r: n for r, n in names.items() if n != self.roles[r]}:
            layout["roles"] = roles
        if deviations:
            layout["turns"] = deviations
        return turns, layout

    def encode(self, record: dict, meta: dict) -> dict:
        role_key, text_key = meta.get("turn_keys", self.naming)
        names = {**self.roles, **meta.get("roles", {})}
        deviations = meta.get("turns", {})
        messages = []
        for i, turn in enumerate(record["conversations"]):
            deviation = deviations.get(str(i), {})
            fields = {role_key: deviation.get("role", names[turn["from"]]),
                      text_key: turn["value"], **deviation.get("extra", {})}
            messages.append({k: fields[k] for k in deviation.get("keys", fields)})
        return {self.turns: messages}


FORMATS: dict[str, PairFormat | ChatFormat] = {f.name: f for f in (
    PairFormat("alpaca", "instruction", "input", "output"),
    PairFormat("dolly", "instruction", "context", "response"),
    ChatFormat("sharegpt", "conversations", ("from", "value"),
               {"system": "system", "human": "human", "gpt": "gpt"}),
    ChatFormat("messages", "messages", ("role", "content"),
               {"system": "system", "human": "user", "gpt": "assistant"}),
)}


def _format(name: str) -> PairFormat | ChatFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name]


def detect_format(obj: dict) -> str:
    """The format of an original record, from its keys ('canonical' for exactly KEYS)."""
    if set(obj) == set(KEYS):
        return "canonical"
    if "conversations" in obj:
        return "sharegpt"
    if "messages" in obj:
        return "messages"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "instruction" in obj and "response" in obj:
        return "dolly"
    raise DataError(f"cannot detect the format from keys {list(obj)}; "
                    f"name it explicitly (one of {', '.join(FORMATS)})")


def format_hint(obj: Any, fmt: str | None) -> str:
    """A hint naming the format a record that failed as `fmt` seems to have (from its keys),
    to append to the error; empty when there is none."""
    try:
        detected = detect_format(obj) if isinstance(obj, dict) else None
    except DataError:
        return ""
    if detected is None or detected == fmt:
        return ""
    return f"; the record looks like {detected} (its keys: {list(obj)}): set `format: {detected}`"


def to_canonical(obj: dict, fmt: str, *, index: int, id_prefix: str,
                 default_source: str) -> dict:
    """Canonical record of an original record of format `fmt`.

    A record without `id` gets `f"{id_prefix}-{index}"`; without `source`, `default_source`.
    Raises DataError (IncompleteRecord for a conversation without human or gpt turn).
    """
    spec = _format(fmt)
    record_id = obj.get("id", f"{id_prefix}-{index}")
    try:
        if "id" in obj:
            expect(obj, "id", str)
        source = expect(obj, "source", str) if "source" in obj else default_source
        turns, layout = spec.decode(obj)
    except DataError as exc:
        exc.locate(record_id=record_id if isinstance(record_id, str) else None)
        raise
    represented = {"id", "source", *spec.export_keys}
    extra = {k: v for k, v in obj.items() if k not in represented}
    meta = {"format": fmt, "keys": list(obj), **({"extra": extra} if extra else {}), **layout}
    return {"id": record_id, "conversations": turns, "source": source, "meta": meta}


def _assemble(record: dict, spec: PairFormat | ChatFormat, meta: dict) -> dict:
    fields = {"id": record["id"], "source": record["source"], **meta.get("extra", {}),
              **spec.encode(record, meta)}
    return {k: fields[k] for k in meta.get("keys", spec.export_keys)}


def from_canonical(record: dict) -> dict:
    """The original record a canonical record was converted from, exactly."""
    fmt = record["meta"].get("format")
    if fmt not in FORMATS:
        raise DataError(f"unknown original format {fmt!r}", record_id=record["id"],
                        field="meta.format")
    return _assemble(record, FORMATS[fmt], record["meta"])


def to_format(record: dict, fmt: str) -> dict:
    """A canonical record in format `fmt`: the original if it came from `fmt`, else a fresh
    record (pair formats: the three fields; chat formats: id, messages, source).

    Raises DataError when a pair format cannot hold the conversation (multi-turn, system turn).
    """
    spec = _format(fmt)
    if record["meta"].get("format") == fmt:
        return from_canonical(record)
    return _assemble(record, spec, {})


def has_own_id(record: dict) -> bool:
    """Whether the record's id came with its input (not generated at conversion): canonical
    input always has one; a converted record has one if its original keys include "id"."""
    return "id" in record["meta"].get("keys", ("id",))


def to_reference_sharegpt(record: dict, position: int) -> dict:
    """The record as a reference implementation reads it from a ShareGPT file (e.g. ZIP's
    `str(list_of_records)`): the original sharegpt record with its key order, extra fields and
    values, plus "source" at the end if it had none; role/content messages are renamed to
    from/value with human/gpt/system. Records of other formats: `{"id", "conversations",
    "source"}`, the id being the record's own or, when conversion generated it
    (`{pool}-{i}`), `str(position)`, its position in the pool: what ZIP compresses never
    depends on the pool's name (docs/methods.md §1.1).
    """
    meta = record["meta"]
    if meta.get("format") != "sharegpt":
        out = to_format(record, "sharegpt")
        return out if has_own_id(record) else {**out, "id": str(position)}
    out = from_canonical(record)
    if "turn_keys" in meta:
        role_key, text_key = meta["turn_keys"]
        rename = {role_key: "from", text_key: "value"}
        out["conversations"] = [
            {rename.get(k, k): turn["from"] if k == role_key else v for k, v in msg.items()}
            for msg, turn in zip(out["conversations"], record["conversations"], strict=True)]
    out.setdefault("source", record["source"])
    return out


ODDITIES = {  # counted in the conversion manifest; such records are kept as they are
    "empty_instruction": "an empty instruction (blank first human turn)",
    "assistant_first": "a conversation that starts with an assistant turn",
}


def oddities(record: dict) -> list[str]:
    """The ODDITIES of a canonical record: valid (see records.py), but likely a data problem."""
    turns = [t for t in record["conversations"] if t["from"] != "system"]
    instruction = next(t["value"] for t in turns if t["from"] == "human")
    return [name for name, found in (("empty_instruction", not instruction.strip()),
                                     ("assistant_first", turns[0]["from"] == "gpt")) if found]


def convert_file(src: str | os.PathLike, dst: str | os.PathLike, fmt: str | None = None, *,
                 id_prefix: str | None = None, default_source: str | None = None,
                 skip_incomplete: bool = False, limit: int | None = None,
                 drop: Collection[str] = ()) -> dict:
    """Stream a pool file (JSON array or JSONL) into canonical JSONL at `dst`, atomically.

    `fmt` defaults to the format detected from the first record; `id_prefix` and
    `default_source` default to the file name up to its first dot. Any bad record raises
    DataError and leaves no `dst`; records without human or gpt turn are logged and skipped when
    `skip_incomplete` (one warning counts them). With `limit`, reading stops after that many
    records were written. Written records with an ODDITY are kept unchanged (the references
    read them as they are), counted per kind and warned about. The pool's health
    (`health.PoolHealth`: empty responses, duplicates, ...) is counted and warned about in one
    line; records of the kinds in `drop` are not written. Returns `{"format", "read",
    "written", "skipped", *ODDITIES, "health", "dropped"}`.
    """
    stem = Path(src).name.split(".")[0]
    id_prefix = stem if id_prefix is None else id_prefix
    default_source = stem if default_source is None else default_source
    if fmt not in (None, "canonical"):
        _format(fmt)
    counts: dict[str, Any] = {"format": fmt, "read": 0, "skipped": 0, **dict.fromkeys(ODDITIES, 0)}
    ids = UniqueIds(src)
    health = PoolHealth(drop)

    def canonical():
        for index, (line, obj) in enumerate(read_records(src)):
            counts["read"] += 1
            try:
                counts["format"] = counts["format"] or detect_format(obj)
                if counts["format"] == "canonical":
                    record = validate_record(obj)
                else:
                    record = to_canonical(obj, counts["format"], index=index,
                                          id_prefix=id_prefix, default_source=default_source)
            except DataError as exc:
                exc.locate(path=src, line=line)
                exc.message += format_hint(obj, counts["format"])
                if not (skip_incomplete and isinstance(exc, IncompleteRecord)):
                    raise
                log.info("skipped %s", exc)
                counts["skipped"] += 1
                continue
            ids.add(record["id"], line)
            if not health.keep(record):
                continue
            for name in oddities(record):
                counts[name] += 1
            yield record

    counts["written"] = write_jsonl(dst, islice(canonical(), limit))
    if counts["skipped"]:
        log.warning("%s: skipped %d records without a human or a gpt turn (each is named in the "
                    "log)", src, counts["skipped"])
    for name, what in ODDITIES.items():
        if counts[name]:
            log.warning("%s: %d of %d records have %s; kept as they are (`%s` in the manifest)",
                        src, counts[name], counts["written"], what, name)
    if message := health.warning(counts["read"] - counts["skipped"]):
        log.warning("%s: %s", src, message)
    return {**counts, **health.manifest()}
