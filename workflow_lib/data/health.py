"""Pool health: records a user should hear about, counted at conversion and optionally dropped.

The papers select from pools as published, empty responses and duplicates included, so every
record is kept unless the pool's `drop:` lists its kind. The kinds (a record may have several):

    empty_response       its response (all gpt turns) is blank: whitespace only
    near_empty_response  its response is not blank but has no letter or digit ("...", "-"); not
                         a size threshold: short answers are often right ("7", "t": a
                         "< 2 characters" rule flags 100 of the demo pool's 600 records)
    duplicate            its conversation equals an earlier record's of the same file (ids,
                         sources and meta are ignored); the first copy is not a duplicate
    giant                its conversation text is over GIANT_BYTES bytes of UTF-8

`PoolHealth` counts them over the records it is shown and says which to drop; the counts go to
the pool's manifest (`health`, `dropped`) and one warning line names those found.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection

from workflow_lib.data.records import conversation_text, response_text

GIANT_BYTES = 100_000
HEALTH = {
    "empty_response": "an empty response",
    "near_empty_response": "a response without a letter or digit",
    "duplicate": "the conversation of an earlier record (exact duplicate)",
    "giant": f"over {GIANT_BYTES // 1000} kB of text",
}


def _content_key(record: dict) -> bytes:
    """A digest of the record's conversation (roles and values), its content for duplicates."""
    text = json.dumps(record["conversations"], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class PoolHealth:
    """Counts the HEALTH kinds of the records of one file, and drops the kinds in `drop`."""

    def __init__(self, drop: Collection[str] = ()) -> None:
        unknown = sorted(set(drop) - set(HEALTH))
        if unknown:
            raise ValueError(f"cannot drop {unknown}; known: {', '.join(HEALTH)}")
        self.drop = tuple(kind for kind in HEALTH if kind in drop)
        self.counts: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.seen: set[bytes] = set()

    def kinds(self, record: dict) -> list[str]:
        """The HEALTH kinds of `record`; remembers its conversation for later duplicates."""
        response = response_text(record).strip()
        key = _content_key(record)
        found = {
            "empty_response": not response,
            "near_empty_response": bool(response) and not any(c.isalnum() for c in response),
            "duplicate": key in self.seen,
            "giant": len(conversation_text(record).encode("utf-8", "surrogatepass")) > GIANT_BYTES,
        }
        self.seen.add(key)
        return [kind for kind, hit in found.items() if hit]

    def keep(self, record: dict) -> bool:
        """Count `record`'s kinds; False when one of them is dropped (counted under the first
        such kind in HEALTH order)."""
        kinds = self.kinds(record)
        self.counts.update(kinds)
        reason = next((kind for kind in self.drop if kind in kinds), None)
        if reason is not None:
            self.dropped[reason] += 1
        return reason is None

    def manifest(self) -> dict:
        """`health` (count per kind, and the size threshold) and `dropped` (count per dropped
        kind) for the pool's manifest."""
        return {
            "health": {**{kind: self.counts[kind] for kind in HEALTH},
                       "giant_bytes": GIANT_BYTES},
            "dropped": {kind: self.dropped[kind] for kind in self.drop},
        }

    def warning(self, read: int) -> str | None:
        """One line naming the kinds found among `read` records and what became of them; None
        when none was found."""
        found = [f"{self.counts[kind]} with {what}" for kind, what in HEALTH.items()
                 if self.counts[kind]]
        if not found:
            return None
        fate = (f"dropped {sum(self.dropped.values())} ({', '.join(self.drop)})" if self.drop
                else "all kept")
        return (f"pool health: of {read} records, {'; '.join(found)}; {fate} "
                "(`health` in the manifest; `pools.<name>.drop` removes them)")
