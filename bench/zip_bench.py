"""ZIP selection: a straightforward port of the reference loop vs the pipeline's fast path.

The baseline recompresses `str(final + [x])` for every candidate in one process, as ZIP.py does
with n_jobs=1 (docs/methods.md §1.3); the fast path is `workflow_lib.select.zip.zip_fast`
(incremental compression, `--workers` threads). Both run on the same pool in the same run.

The budget only decides when the reference loop stops (after whole rounds of k3), so the
baseline runs once per pool size, up to the largest budget, and the time and output at the end of
each round give its cost and selection for every budget; the fast path runs first, once per
budget and worker count, and each row is printed as soon as the baseline reaches its budget.
The pool is the concatenation of the `--pools` files (converted to the reference's
sharegpt dicts; records without a human or gpt turn skipped), cut to each `--sizes` value.

Times are wall-clock seconds and, on a shared machine more telling, CPU seconds of this process
(`time.process_time`; with two workers it adds both threads, so only its wall time shows what
threads gain). `speedup` is baseline / fast path with one worker, in CPU time; `speedup_wall`
is baseline / the fastest fast path, in wall time.

    .venv/bin/python bench/zip_bench.py [--sizes 2000 4000] [--budgets 200 400 800]
        [--k1 1000 --k2 200 --k3 100] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib
from pathlib import Path

import torch

from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.data.formats import convert_file, to_reference_sharegpt
from workflow_lib.select.zip import zip_fast

POOLS = Path(__file__).resolve().parents[2] / "shared/data/pools"
DEFAULT_POOLS = [POOLS / "alpaca_sample_2k.json", POOLS / "dolly_sample_2k.jsonl"]


def get_compression_ratio(x) -> float:
    s = str(x).encode("utf-8")
    return len(s) / len(zlib.compress(s, level=9))


def baseline_zip(data: list[dict], budget: int, k1: int, k2: int, k3: int,
                 on_round=None) -> list[int]:
    """The reference loop (docs/methods.md §1.3), single process; `on_round(final)` after each
    round."""
    g = torch.tensor([get_compression_ratio([d]) for d in data])
    final: list[int] = []
    while len(final) < budget:
        _, c = torch.topk(g, k=k1, largest=False)
        c = c.tolist()
        anchor = [data[i] for i in final]
        r = torch.tensor([get_compression_ratio([*anchor, data[i]]) for i in c])
        g[c] = r
        _, m = torch.topk(r, k=k2, largest=False)
        s2 = [c[j] for j in m.tolist()]
        g[s2] = 1e6
        d = [data[i] for i in s2]
        sel: list[int] = []
        seld: list[dict] = []
        while len(seld) < k3:
            r3 = torch.tensor([get_compression_ratio([*seld, x]) for x in d])
            r3[sel] = 1e6
            _, j = torch.topk(r3, k=1, largest=False)
            sel.append(j.item())
            seld.append(d[j.item()])
        final += [s2[j] for j in sel]
        if on_round is not None:
            on_round(final)
    return final


def load_pool(paths: list[Path]) -> list[dict]:
    """The records of `paths`, in order, as the reference reads them (sharegpt dicts)."""
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, path in enumerate(paths):
            out = Path(tmp) / f"pool{n}.jsonl"
            convert_file(path, out, skip_incomplete=True)  # as the pool option of that name
            records += [to_reference_sharegpt(r, len(records) + i)
                        for i, (_, r) in enumerate(read_jsonl(out))]
    return records


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, cpu) seconds since a `clock()` value."""
    return tuple(now - then for now, then in zip(clock(), start, strict=True))


def fast_runs(pool, budget, k1, k2, k3, workers) -> tuple[list[tuple], list[list[int]]]:
    """(wall, cpu) times and selections of the fast path, once per worker count."""
    times, selections = [], []
    for w in workers:
        start = clock()
        selections.append(zip_fast(pool, budget, k1, k2, k3, workers=w))
        times.append(since(start))
    return times, selections


def row(n: int, budget: int, out: int, base: tuple | None, times: list[tuple],
        same: bool | None) -> str:
    text = f"{n:>6} {budget:>6} {out:>5} "
    text += "        -        - " if base is None else f"{base[0]:>9.2f} {base[1]:>8.2f} "
    text += " ".join(f"{wall:>7.2f} {cpu:>6.2f}" for wall, cpu in times)
    if base is not None:
        text += (f" {base[1] / times[0][1]:>6.1f}x "
                 f"{base[0] / min(wall for wall, _ in times):>11.1f}x {same!s:>9}")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pools", type=Path, nargs="+", default=DEFAULT_POOLS,
                    help="pool files, concatenated in this order (default: alpaca 2k + dolly 2k)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[None],
                    help="pool sizes (leading records; default: all records)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[100, 200, 400])
    ap.add_argument("--k1", type=int, default=1000)
    ap.add_argument("--k2", type=int, default=200)
    ap.add_argument("--k3", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-baseline", action="store_true",
                    help="time only the fast path (no identity check)")
    args = ap.parse_args()
    missing = [str(p) for p in args.pools if not p.exists()]
    if missing:
        print(f"SKIP: {', '.join(missing)} not found (needs ../shared/data next to the repository)")
        return
    full = load_pool(args.pools)
    print(f"pools {' + '.join(p.name for p in args.pools)}: {len(full)} records, "
          f"k1={args.k1} k2={args.k2} k3={args.k3}, zlib {zlib.ZLIB_RUNTIME_VERSION}, "
          f"torch threads {torch.get_num_threads()}")
    fast_cols = " ".join(f"w{w}_wall w{w}_cpu" for w in args.workers)
    print(f"{'N':>6} {'budget':>6} {'out':>5} base_wall base_cpu {fast_cols} speedup "
          "speedup_wall identical", flush=True)
    for size in args.sizes:
        pool = full[:size]
        fast = {b: fast_runs(pool, b, args.k1, args.k2, args.k3, args.workers)
                for b in args.budgets}
        if args.skip_baseline:
            for b, (times, sels) in fast.items():
                print(row(len(pool), b, len(sels[0]), None, times, None), flush=True)
            continue
        pending = sorted(args.budgets)
        start = clock()

        def on_round(final, pool=pool, fast=fast, pending=pending, start=start):
            spent = since(start)
            print(f"  baseline: {len(final)} selected after {spent[0]:.1f} s wall, "
                  f"{spent[1]:.1f} s CPU", file=sys.stderr, flush=True)
            while pending and len(final) >= pending[0]:
                b = pending.pop(0)
                times, sels = fast[b]
                same = all(sel == final for sel in sels)
                print(row(len(pool), b, len(final), spent, times, same), flush=True)
                if not same:
                    raise SystemExit("the fast path selected differently from the baseline")

        baseline_zip(pool, max(args.budgets), args.k1, args.k2, args.k3, on_round=on_round)


if __name__ == "__main__":
    main()
