"""Streaming JSON/JSONL readers, atomic writers, and the error type for bad input data.

Readers yield `(line_number, value)` so that every later error can name the line it came from.
Writers never leave a partial file: they write a temporary file next to the target and
`os.replace` it onto the target only when everything was written and synced.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from workflow_lib.core.errors import UserError

_JSON_SPACE = " \t\r\n"
_SPACE_RUN = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()
# Decoding is final when it ends (or fails) this far before the end of the buffer: no JSON
# token that fails or stops early as a prefix (`-Infinity`, `1e+5`, `\uXXXX`) is this long.
_LOOKAHEAD = 32


def type_name(value: Any) -> str:
    """Python type name of a JSON value, `null` for None (for error messages)."""
    return "null" if value is None else type(value).__name__


class DataError(UserError, ValueError):
    """Bad input data; the message names file, line, record id and field where known.

    Raised without location deep inside converters, then located by the file-level loop:
    `pool.jsonl:17: record 'alpaca-16': field 'conversations[1].value': expected str, got int`.
    """

    def __init__(self, message: str, *, path: str | os.PathLike | None = None,
                 line: int | None = None, record_id: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.line = message, path, line
        self.record_id, self.field = record_id, field

    def locate(self, *, path: str | os.PathLike | None = None, line: int | None = None,
               record_id: str | None = None) -> None:
        """Fill in the location parts that are still unknown (then re-raise)."""
        self.path = self.path if self.path is not None else path
        self.line = self.line if self.line is not None else line
        self.record_id = self.record_id if self.record_id is not None else record_id

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line else str(self.path))
        if self.record_id is not None:
            parts.append(f"record {self.record_id!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ": ".join([*parts, self.message])


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, value)` for each non-blank line, decoded strictly as UTF-8."""
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"invalid UTF-8 at byte {exc.start} of the line",
                                path=path, line=line_no) from None
            if line_no == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip(_JSON_SPACE):
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})",
                                path=path, line=line_no) from None
            yield line_no, value


class _ArrayScanner:
    """Incremental reader of one top-level JSON array, holding about one element in memory."""

    def __init__(self, fh: IO[bytes], path: str | os.PathLike, chunk_size: int) -> None:
        self.fh, self.path, self.chunk_size = fh, path, chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False  # self.line: line at self.pos

    def error(self, message: str, at: int | None = None) -> DataError:
        line = self.line + self.buf.count("\n", self.pos, self.pos if at is None else at)
        return DataError(message, path=self.path, line=line)

    def read(self) -> None:
        """Append at least one character to the buffer (dropping what was consumed), or set eof.

        Reads at least as much as is pending, so a huge element is re-parsed O(log n) times.
        """
        while not self.eof:
            data = self.fh.read(max(self.chunk_size, len(self.buf) - self.pos))
            pending = self.decoder.getstate()[0]
            try:
                text = self.decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                line = (self.line + self.buf.count("\n", self.pos)
                        + (pending + data)[:exc.start].count(b"\n"))
                raise DataError("invalid UTF-8", path=self.path, line=line) from None
            self.eof = not data
            if text:
                self.buf = self.buf[self.pos:] + text
                self.pos = 0
                return

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """Skip JSON whitespace; the next character, or "" at the end of the file."""
        while True:
            self.advance(_SPACE_RUN.match(self.buf, self.pos).end())
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            self.read()
            if self.eof and self.pos >= len(self.buf):
                return ""

    def value(self) -> Any:
        """Decode the value at the cursor, reading more until it is complete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or (exc.pos + _LOOKAHEAD <= len(self.buf)
                                and not exc.msg.startswith("Unterminated string")):
                    raise self.error(f"invalid JSON: {exc.msg}", exc.pos) from None
            else:
                if self.eof or end + _LOOKAHEAD <= len(self.buf):  # "1.5" may be "1.5e3"
                    self.advance(end)
                    return value
            self.read()

    def found(self) -> str:
        nxt = self.peek()
        return repr(nxt) if nxt else "end of file"

    def elements(self) -> Iterator[tuple[int, Any]]:
        if self.peek() == "\ufeff":
            self.advance(self.pos + 1)
        if self.peek() != "[":
            raise self.error(f"expected a JSON array ('['), found {self.found()}")
        self.advance(self.pos + 1)
        more = self.peek() != "]"
        if not more:
            self.advance(self.pos + 1)
        while more:
            yield self.line, self.value()
            nxt = self.peek()
            if nxt not in (",", "]"):
                raise self.error(f"invalid JSON: expected ',' or ']', found {self.found()}")
            self.advance(self.pos + 1)
            more = nxt == ","
            if more and self.peek() in ("]", ""):
                raise self.error(f"invalid JSON: expected a value after ',', found {self.found()}")
        if self.peek():
            raise self.error("extra data after the top-level array")


def read_json_array(path: str | os.PathLike,
                    chunk_size: int = 1 << 20) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, element)` of a top-level JSON array without loading the whole file.

    The file is read in chunks and each element decoded with `JSONDecoder.raw_decode`; the line
    number is where the element starts.
    """
    with open(path, "rb") as fh:
        yield from _ArrayScanner(fh, path, chunk_size).elements()


def _is_jsonl(path: str | os.PathLike) -> bool:
    """True for `.jsonl`, and for any other file whose first non-space character is not `[`."""
    if Path(path).suffix == ".jsonl":
        return True
    with open(path, "rb") as fh:
        while block := fh.read(4096):
            head = block.removeprefix(codecs.BOM_UTF8).lstrip(_JSON_SPACE.encode())
            if head:
                return not head.startswith(b"[")
    return True


def read_records(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield `(line_number, object)` from a JSONL file or a JSON array file (detected by content).

    Raises DataError for a value that is not a JSON object and for a file without records.
    """
    reader = read_jsonl if _is_jsonl(path) else read_json_array
    count = 0
    for line, value in reader(path):
        if not isinstance(value, dict):
            raise DataError(f"expected a JSON object, got {type_name(value)}", path=path, line=line)
        count += 1
        yield line, value
    if not count:
        raise DataError("no records (empty file)", path=path)


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file next to `path` (`mode` "w": UTF-8 text, "wb": binary).

    On normal exit the file is flushed, fsynced and renamed onto `path`; on any exception it is
    removed and `path` is left untouched. Missing parent directories are created.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open applies the umask to 0o666, unlike mkstemp's 0o600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        encoding = None if mode == "wb" else "utf-8"
        with open(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _dumps(value: Any, indent: int | None = None) -> bytes:
    """JSON as UTF-8 (`ensure_ascii=False`); strings with lone surrogates stay `\\u`-escaped."""
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent).encode("utf-8")
    except UnicodeEncodeError:  # valid JSON escapes such as "\ud800" are not encodable as UTF-8
        return json.dumps(value, indent=indent).encode("ascii")


def write_jsonl(path: str | os.PathLike, values: Iterable[Any]) -> int:
    """Atomically write one JSON value per line; returns the number of lines."""
    count = 0
    with atomic_output(path, "wb") as fh:
        for value in values:
            fh.write(_dumps(value) + b"\n")
            count += 1
    return count


def write_json(path: str | os.PathLike, value: Any, indent: int | None = 2) -> None:
    """Atomically write one JSON document (UTF-8, trailing newline)."""
    with atomic_output(path, "wb") as fh:
        fh.write(_dumps(value, indent) + b"\n")
