"""ZIP selection: a straightforward port of the reference loop vs the pipeline's fast path.

The baseline recompresses `str(final + [x])` for every candidate in one process, as ZIP.py does
with n_jobs=1; the fast path is `workflow_lib.zip_select.zip_fast` (incremental compression,
`--workers` threads). Both run on the same pool and budget in the same run.

    .venv/bin/python bench/zip_bench.py [--budgets 100 200 400] [--k1 1000 --k2 200 --k3 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow_lib.formats import convert_file, to_reference_sharegpt
from workflow_lib.jsonio import read_jsonl
from workflow_lib.zip_select import zip_fast

POOL = Path(__file__).resolve().parents[2] / "shared/data/pools/alpaca_sample_2k.json"


def get_compression_ratio(x) -> float:
    s = str(x).encode("utf-8")
    return len(s) / len(zlib.compress(s, level=9))


def baseline_zip(data: list[dict], budget: int, k1: int, k2: int, k3: int) -> list[int]:
    """The reference loop (methods.md §1.3), single process."""
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
    return final


def load_pool(path: Path) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pool.jsonl"
        convert_file(path, out)
        return [to_reference_sharegpt(r) for _, r in read_jsonl(out)]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pool", type=Path, default=POOL)
    ap.add_argument("--limit", type=int, nargs="+", default=[None],
                    help="pool sizes (leading records; default: the whole file)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[100, 200, 400])
    ap.add_argument("--k1", type=int, default=1000)
    ap.add_argument("--k2", type=int, default=200)
    ap.add_argument("--k3", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-baseline", action="store_true",
                    help="time only the fast path (no identity check)")
    args = ap.parse_args()
    if not args.pool.exists():
        print(f"SKIP: {args.pool} not found (needs ../shared/data next to the repository)")
        return
    full = load_pool(args.pool)
    print(f"pool {args.pool.name}: {len(full)} records, k1={args.k1} k2={args.k2} k3={args.k3}, "
          f"zlib {zlib.ZLIB_RUNTIME_VERSION}, torch threads {torch.get_num_threads()}")
    fast_cols = " ".join(f"fast_w{w}_s".rjust(11) for w in args.workers)
    print(f"{'N':>6} {'budget':>6} {'out':>5} {'baseline_s':>10} {fast_cols} {'speedup':>8} "
          f"{'identical':>9}")
    for limit in args.limit:
        pool = full[:limit] if limit else full
        for budget in args.budgets:
            base_t, base = (None, None) if args.skip_baseline else timed(
                baseline_zip, pool, budget, args.k1, args.k2, args.k3)
            times, same = [], True
            for w in args.workers:
                t, fast = timed(zip_fast, pool, budget, args.k1, args.k2, args.k3, workers=w)
                times.append(t)
                same = same and (base is None or fast == base)
            best = min(times)
            print(f"{len(pool):>6} {budget:>6} {len(fast):>5} "
                  f"{'-' if base_t is None else f'{base_t:.2f}':>10} "
                  + " ".join(f"{t:>11.2f}" for t in times)
                  + f" {'-' if base_t is None else f'{base_t / best:.1f}x':>8} "
                  f"{'-' if base is None else str(same):>9}", flush=True)


if __name__ == "__main__":
    main()
