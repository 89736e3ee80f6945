"""The judgment cache: every judge call appended to a JSONL file (fsynced line by line), keyed by
the request (judge model, messages, temperature, max_tokens, and the test-set record where an
evaluator judges each record on its own), the sample index and the attempt, so that a rerun, or a
run resumed after a crash or a dead endpoint, never pays for a call twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from workflow_lib.core.jsonio import DataError

log = logging.getLogger(__name__)


def request_key(model: str, messages: list[dict], temperature: float, max_tokens: int,
                record: str | None = None) -> str:
    """sha256 of the request that determines a verdict (not the URL, never the key); with
    `record`, of that test-set record's request: two records sending the same prompt are two
    calls, as a judge asked twice may answer differently."""
    request = [model, messages, temperature, max_tokens, *([record] if record is not None else [])]
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


class JudgmentCache:
    """Append-only JSONL of judge calls: {key, judge_model, sample, attempt, verdict, <parsed>,
    tstamp}, where <parsed> is what the evaluator read from the verdict (MT-bench: `rating`,
    pairwise: `scores`), null when unparsable.

    A last line cut short by a crash is dropped (and truncated away); any other bad line is a
    DataError naming the file and line.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int, int], dict] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if lines[-1]:  # no final newline: the write of this line was interrupted
            log.warning("%s: dropping an incomplete last line", self.path)
            with open(self.path, "r+b") as fh:
                fh.truncate(len(data) - len(lines[-1]))
        for number, line in enumerate(lines[:-1], 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self._entries[entry["key"], entry["sample"], entry["attempt"]] = entry
            except (ValueError, KeyError, TypeError) as err:
                raise DataError(f"bad cache entry ({err}); delete the file to start over",
                                path=self.path, line=number) from None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, sample: int, attempt: int) -> dict | None:
        return self._entries.get((key, sample, attempt))

    def add(self, entry: dict) -> dict:
        """Append `entry` (with key, sample, attempt) durably and remember it."""
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            self._entries[entry["key"], entry["sample"], entry["attempt"]] = entry
        return entry
