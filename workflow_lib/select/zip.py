"""ZIP (Entropy Law) selection: the authors' ZIP.py, bit-exact and fast, plus a `clean` mode.

The measured quantity is the compression ratio `len(s) / len(zlib.compress(s, 9))` of
`s = str(list_of_record_dicts).encode()` (docs/methods.md §1.2); ZIP keeps the records that compress
worst. One round (docs/methods.md §1.3):

1. stage 1: the k1 lowest entries of the global score vector `g` (float32, `torch.topk`);
2. stage 2: their ratios conditioned on everything selected so far, `ratio(final + [x])`, are
   written back into `g`; the k2 lowest are taken and *all* k2 are retired (`g = 1e6`);
3. stage 3: k3 of those k2 are picked greedily, one at a time, by `ratio(picked + [x])`.

`zip_fast` (mode `reference`) returns the indices ZIP.py returns, in its order. Instead of
recompressing `str(prefix + [x])` for every candidate it keeps a `zlib.compressobj(9)` fed with
the prefix and scores a candidate by compressing only its tail on a copy of that state. Without
intermediate flushes deflate does not depend on how its input is chunked, so the lengths (hence
the float64 ratios, the float32 tensors and `torch.topk`'s choices) are identical;
tests/unit/select/test_zip.py checks this against a literal port of the reference loop
on the zlib build in use, across deflate block boundaries.

Cost: a candidate costs a copy of the deflate state (~0.3 MB), the compression of its tail and
the final flush, which re-encodes every symbol of the still-open deflate block (up to 16k
symbols, ~64-80 kB of repr text here). Stage 3 restarts from an empty prefix each round, so its
flushes grow with the k3 records of that round and per-round cost follows their length; stage 1
sweeps the pool from the shortest records up (quirk Q4), so the first rounds are cheaper than
later ones. The reference's cost per candidate grows with the whole prefix instead (quadratic in
the budget). Candidates are scored on `workers` threads: zlib releases the GIL while deflating.

Quirks of the reference, reproduced deliberately (docs/methods.md §1.4; marked in `zip_fast`):

* Q1 each round retires k2 pool items but keeps only k3; the other k2 - k3 are never reconsidered
  (unless the pool runs short, Q5);
* Q2 the output has k3 * ceil(budget / k3) records (budget overshoot);
* Q3 stage 3 ignores the records selected in earlier rounds (its anchor is empty);
* Q4 stage 1 ranks by a stale mixture of single-record and earlier conditional ratios;
* Q5 when fewer than k1 items are unretired, `topk` returns retired ones, their 1e6 is overwritten
  by a real ratio and they can be selected again (the output may then repeat an index);
* Q6 exclusion is purely via the 1e6 sentinel;
* Q7 ties are broken exactly as `torch.topk` on CPU float32 tensors built from Python floats;
* Q8 results depend on the zlib build: `zlib.ZLIB_RUNTIME_VERSION` is recorded;
* Q9 stage 3 evaluates already-picked candidates too and then masks them with 1e6 (here they are
  not evaluated; the same 1e6 is written).

Where the reference crashes, `check_zip` raises a ZipError naming the problem: a pool smaller
than k1 (torch.topk), a record without `source` (KeyError in its source count). Pipeline records
always have one: the conversion step fills in the pool's `source_name` (default: "unknown", never
the pool's name) where the file has none, and `formats.to_reference_sharegpt` keeps it in the
dicts ZIP compresses, so that value changes the ratios (docs/zip.md); an id generated at
conversion is replaced there by the record's position, so the pool's name never is compressed.
Q5's repeats are counted in the manifest and warned about with the largest k1 that avoids them
(`max_k1_without_repeats`). Both modes log one line per round (selected count, seconds).

`zip_clean` (mode `clean`, off by default) is a deliberate deviation; see its docstring, and
docs/zip.md (bench/zip_modes.py) for how much its selections differ on the demo pool.
"""

from __future__ import annotations

import logging
import math
import os
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from workflow_lib.core.errors import UserError
from workflow_lib.data.records import conversation_text
from workflow_lib.select.budget import Budget
from workflow_lib.select.request import Selected, SelectionRequest

log = logging.getLogger(__name__)

RETIRED = 1e6  # the reference's sentinel for "never pick again"
LEVEL = 9
DEFAULTS = {"mode": "reference", "k1": 10000, "k2": 200, "k3": 100, "workers": 2}


class ZipError(UserError):
    """ZIP parameters or records the reference cannot run with."""


def check_zip(records: Sequence[dict], count: int, k1: int, k2: int, k3: int,
              *, need_source: bool = True) -> None:
    """Validate the inputs the way the reference would fail on them (a count outside 1..pool
    size: BudgetError, as in every method)."""
    n = len(records)
    Budget(count).check(n)
    for name, k in (("k1", k1), ("k2", k2), ("k3", k3)):
        if not isinstance(k, int) or k < 1:
            raise ZipError(f"ZIP {name} must be a positive integer, got {k!r}")
    if k3 > k2:
        raise ZipError(f"ZIP needs k3 <= k2 (stage 3 picks k3 of the k2 stage-2 records), "
                       f"got k3={k3}, k2={k2}")
    if k2 > k1:
        raise ZipError(f"ZIP needs k2 <= k1 (stage 2 keeps k2 of the k1 stage-1 candidates), "
                       f"got k2={k2}, k1={k1}")
    if n < k1:
        raise ZipError(f"ZIP needs a pool of at least k1={k1} records, got {n} (the reference "
                       f"crashes in torch.topk); lower k1 ({_k1_advice(n, count, k2, k3)})")
    if need_source:
        for i, rec in enumerate(records):
            if "source" not in rec:
                raise ZipError(f"record {i} (id {rec.get('id')!r}) has no 'source' key, which "
                               "the reference ZIP.py requires (KeyError in its source count)")


def max_k1_without_repeats(n: int, count: int, k2: int, k3: int) -> int:
    """The largest k1 for which reference mode never repeats a record (quirk Q5).

    Round r (from 0) starts with N - k2·r unretired records; stage 1 takes only unretired ones
    while that is at least k1, so no record comes back if k1 <= N - k2·(rounds - 1), with
    rounds = ceil(count / k3). Above that bound retired records re-enter stage 1 in the last
    rounds and may be picked again.
    """
    return n - k2 * (math.ceil(count / k3) - 1)


def _k1_advice(n: int, count: int, k2: int, k3: int) -> str:
    bound = max_k1_without_repeats(n, count, k2, k3)
    if bound >= k2:
        return f"k1 <= {bound} never repeats a record"
    return f"no k1 >= k2={k2} avoids repeated records here: lower k2 or the budget"


class _Progress:
    """One log line per round: round number, records selected so far, seconds so far."""

    def __init__(self, mode: str, n: int, count: int, k3: int):
        self.start, self.round = time.perf_counter(), 0
        self.rounds = math.ceil(count / k3)
        self.target = self.rounds * k3 if mode == "reference" else count  # Q2 overshoot
        log.info("ZIP %s mode: pool of %d, budget %d: %d records in %d rounds", mode, n, count,
                 self.target, self.rounds)

    def __call__(self, selected: int) -> None:
        self.round += 1
        log.info("round %d/%d: %d/%d selected, %.1f s", self.round, self.rounds, selected,
                 self.target, time.perf_counter() - self.start)


def _f32(values: Sequence[float]) -> torch.Tensor:
    return torch.tensor(list(values))  # python floats -> float32, as in ZIP.py


def _lowest(scores: torch.Tensor, k: int) -> list[int]:
    return torch.topk(scores, k=k, largest=False).indices.tolist()


class Prefix:
    """The compressed length of `opener + sep.join(parts + [x]) + closer` for many x, fast.

    Holds a `zlib.compressobj(9)` (the same defaults as `zlib.compress`) fed with
    `opener + sep.join(parts)`; a candidate costs one state copy and the compression of its tail.
    """

    def __init__(self, opener: bytes, sep: bytes, closer: bytes):
        self.sep, self.closer = sep, closer
        self.comp = zlib.compressobj(LEVEL)
        self.emitted = len(self.comp.compress(opener))
        self.raw = len(opener)
        self.empty = True

    def _tail(self, part: bytes) -> bytes:
        return part if self.empty else self.sep + part

    def append(self, part: bytes) -> None:
        data = self._tail(part)
        self.emitted += len(self.comp.compress(data))
        self.raw += len(data)
        self.empty = False

    def ratio_with(self, part: bytes) -> float:
        """ratio of the prefix plus one more part, closed: len(raw) / len(compressed)."""
        tail = self._tail(part) + self.closer
        c = self.comp.copy()
        size = self.emitted + len(c.compress(tail)) + len(c.flush())
        return (self.raw + len(tail)) / size

    def copy(self) -> Prefix:
        new = Prefix.__new__(Prefix)
        new.sep, new.closer, new.emitted, new.raw, new.empty = (
            self.sep, self.closer, self.emitted, self.raw, self.empty)
        new.comp = self.comp.copy()
        return new


class _Scorer:
    """Scores candidate parts against a Prefix, split over `workers` threads.

    zlib releases the GIL while it deflates, so threads share the prefix state without copying
    it between processes.
    """

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self.pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    def __call__(self, prefix: Prefix, parts: Sequence[bytes]) -> list[float]:
        if self.pool is None or len(parts) < 2 * self.workers:
            return [prefix.ratio_with(p) for p in parts]
        step = math.ceil(len(parts) / self.workers)
        chunks = [parts[i:i + step] for i in range(0, len(parts), step)]
        out: list[float] = []
        for res in self.pool.map(lambda ch: [prefix.ratio_with(p) for p in ch], chunks):
            out += res
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def zip_fast(records: Sequence[dict], count: int, k1: int = 10000, k2: int = 200,
             k3: int = 100, workers: int = 2) -> list[int]:
    """Pool indices ZIP.py selects for a budget of `count` records, in its output order (see
    the module docstring).

    `records` are the dicts the reference reads (`formats.to_reference_sharegpt`).
    """
    check_zip(records, count, k1, k2, k3)
    parts = [repr(r).encode("utf-8") for r in records]  # str(list) = "[" + ", ".join(reprs) + "]"
    opener, sep, closer = b"[", b", ", b"]"
    scorer = _Scorer(workers)
    progress = _Progress("reference", len(records), count, k3)
    try:
        g = _f32(scorer(Prefix(opener, sep, closer), parts))
        stage2 = Prefix(opener, sep, closer)  # fed with `final`, across rounds
        final: list[int] = []
        while len(final) < count:  # whole rounds of k3 (Q2)
            cand = _lowest(g, k1)  # stale global view (Q4); retired items when short (Q5)
            r = _f32(scorer(stage2, [parts[i] for i in cand]))
            g[cand] = r
            s2 = [cand[j] for j in _lowest(r, k2)]
            g[s2] = RETIRED  # all k2 retired, k3 kept (Q1); the only exclusion (Q6)
            stage3 = Prefix(opener, sep, closer)  # anchor [] each round (Q3)
            picked: list[int] = []
            while len(picked) < k3:
                done = set(picked)
                open_ = [j for j in range(len(s2)) if j not in done]
                scores = dict(zip(open_, scorer(stage3, [parts[s2[j]] for j in open_]),
                                  strict=True))
                r3 = _f32(scores.get(j, RETIRED) for j in range(len(s2)))  # Q9, ties Q7
                j = _lowest(r3, 1)[0]
                picked.append(j)
                stage3.append(parts[s2[j]])
            for j in picked:
                final.append(s2[j])
                stage2.append(parts[s2[j]])
            progress(len(final))
    finally:
        scorer.close()
    return final


def zip_clean(records: Sequence[dict], count: int, k1: int = 10000,
              k2: int = 200, k3: int = 100, workers: int = 2,
              text: Callable[[dict], str] = conversation_text) -> list[int]:
    """A deliberate deviation from the reference (mode `clean`, off by default).

    * measures the conversation text only (`text(record)`, records joined with newlines), not the
      Python repr with ids and key names;
    * stage 3 is anchored on everything selected so far (previous rounds included);
    * exactly `count` distinct records (the last round picks only what is missing);
    * only picked records leave the pool: the other stage-2 candidates keep their updated
      conditional score in `g` and can be chosen later; stage 1 never returns picked records,
      and k1/k2 shrink to what is left when the pool runs short.

    Ties are broken by pool index (float64 scores, stable sort). Records are canonical records
    (no `source` needed). Returns distinct pool indices in selection order.
    """
    check_zip(records, count, k1, k2, k3, need_source=False)
    parts = [text(r).encode("utf-8") for r in records]
    opener, sep, closer = b"", b"\n", b""
    scorer = _Scorer(workers)
    progress = _Progress("clean", len(records), count, k3)

    def lowest(ids: Sequence[int], scores: Sequence[float], k: int) -> list[int]:
        return [ids[j] for j in sorted(range(len(ids)), key=lambda j: (scores[j], ids[j]))[:k]]

    try:
        g = scorer(Prefix(opener, sep, closer), parts)
        taken = [False] * len(records)
        anchor = Prefix(opener, sep, closer)  # everything selected so far
        final: list[int] = []
        while len(final) < count:
            free = [i for i in range(len(records)) if not taken[i]]
            cand = lowest(free, [g[i] for i in free], k1)
            r = scorer(anchor, [parts[i] for i in cand])
            for i, v in zip(cand, r, strict=True):
                g[i] = v
            s2 = lowest(cand, r, k2)
            stage3 = anchor.copy()
            for _ in range(min(k3, count - len(final), len(s2))):
                open_ = [i for i in s2 if not taken[i]]
                i = lowest(open_, scorer(stage3, [parts[i] for i in open_]), 1)[0]
                taken[i] = True
                final.append(i)
                stage3.append(parts[i])
            anchor = stage3
            progress(len(final))
    finally:
        scorer.close()
    return final


def select_zip(records: Sequence[dict], count: int, params: dict,
               reference_record: Callable[[dict, int], dict] | None = None
               ) -> tuple[list[int], dict]:
    """Run ZIP on canonical `records` for a budget of `count` records per a method config;
    returns (indices, manifest info).

    `params` may hold mode (reference|clean), k1, k2, k3, workers (DEFAULTS otherwise). In
    reference mode the records are first turned into the reference's dicts by
    `reference_record(record, position)` (default `formats.to_reference_sharegpt`).
    """
    p = {**DEFAULTS, **{k: v for k, v in params.items() if k in DEFAULTS}}
    workers = min(p["workers"], os.cpu_count() or 1)
    ks = p["k1"], p["k2"], p["k3"]
    if p["mode"] == "reference":
        if reference_record is None:
            from workflow_lib.data.formats import to_reference_sharegpt as reference_record
        indices = zip_fast([reference_record(r, i) for i, r in enumerate(records)], count, *ks,
                           workers=workers)
    elif p["mode"] == "clean":
        indices = zip_clean(records, count, *ks, workers=workers)
    else:
        raise ZipError(f"unknown ZIP mode {p['mode']!r}, expected reference or clean")
    info = {"mode": p["mode"], "k1": p["k1"], "k2": p["k2"], "k3": p["k3"],
            "workers": workers, "requested": count, "n_selected": len(indices),
            "n_duplicates": len(indices) - len(set(indices)),
            "zlib_runtime_version": zlib.ZLIB_RUNTIME_VERSION}
    if info["n_duplicates"]:
        log.warning("ZIP selected %d record(s) more than once: with k1=%d the pool of %d ran short "
                    "of unretired records (reference quirk Q5); %s", info["n_duplicates"],
                    p["k1"], len(records), _k1_advice(len(records), count, p["k2"], p["k3"]))
    return indices, info


def zip_selection(request: SelectionRequest) -> Selected:
    """ZIP at the request's budget with at most the job's threads as workers (kind `zip`)."""
    params = {**request.params,
              "workers": min(request.params.get("workers", DEFAULTS["workers"]), request.threads)}
    indices, info = select_zip(request.records, request.count(), params)
    note = (f"ZIP's reference mode selects whole rounds of k3={info['k3']} (quirk Q2; mode clean "
            "selects the budget exactly)" if info["mode"] == "reference" else "")
    return Selected(indices, {"zip": info}, note=note)
