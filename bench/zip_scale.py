"""ZIP's cost at the paper's scale: the pipeline's selection (`workflow_lib.select.zip.zip_fast`)
on a pool of ~300k records with a budget of 10k and the paper's k1/k2/k3 (10000/200/100, as
configs/zip-deita.yaml), timed in wall and CPU seconds.

The pool is built, not downloaded: every instruction of the shared Alpaca and Dolly samples
(`../shared/data/pools/`, 4k records) is paired with the responses of other records, chosen by a
seeded generator, until `--size` records exist. The pairs are distinct texts of real lengths, so
zlib works as hard as on a real pool of that size; their compressibility is not a real pool's
(an instruction and an unrelated response), which the budget's selections do not need to be.

The baseline, ZIP.py's own loop, is not run at this size (`bench/zip_bench.py` measures it against
the fast path on the 4k-record pool: it recompresses the whole selected set for each of the 10k
candidates of each of the 100 rounds). The bound printed beside the time is the zlib work the
fast path cannot avoid: compressing every record once (the first global scores), measured here.

    .venv/bin/python bench/zip_scale.py [--size 300000] [--budget 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
import zlib
from pathlib import Path

from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.data.formats import convert_file, to_reference_sharegpt
from workflow_lib.select.zip import zip_fast

POOLS = Path(__file__).resolve().parents[2] / "shared/data/pools"
SOURCES = [POOLS / "alpaca_sample_2k.json", POOLS / "dolly_sample_2k.jsonl"]


def sample_pairs(paths: list[Path]) -> list[tuple[str, str, str]]:
    """(human, gpt, source) of the shared samples' records, in the reference's sharegpt form."""
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            out = Path(tmp) / f"{path.stem}.jsonl"
            convert_file(path, out, skip_incomplete=True)
            for i, (_, record) in enumerate(read_jsonl(out)):
                turns = to_reference_sharegpt(record, i)["conversations"]
                human = next((t["value"] for t in turns if t["from"] == "human"), None)
                gpt = next((t["value"] for t in turns if t["from"] == "gpt"), None)
                if human and gpt:
                    pairs.append((human, gpt, path.stem))
    return pairs


def build_pool(pairs: list[tuple[str, str, str]], size: int, seed: int = 0) -> list[dict]:
    """`size` distinct records, as the reference reads them: instruction i with the response of
    a seeded other record j (id `i-j`, the instruction's source)."""
    rng = random.Random(seed)
    seen, pool = set(), []
    while len(pool) < size:
        i, j = rng.randrange(len(pairs)), rng.randrange(len(pairs))
        if (i, j) in seen:
            continue
        seen.add((i, j))
        pool.append({"id": f"{i}-{j}",
                     "conversations": [{"from": "human", "value": pairs[i][0]},
                                       {"from": "gpt", "value": pairs[j][1]}],
                     "source": pairs[i][2]})
    return pool


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=300_000)
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--k1", type=int, default=10_000)
    ap.add_argument("--k2", type=int, default=200)
    ap.add_argument("--k3", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = clock()
    pool = build_pool(sample_pairs(SOURCES), args.size)
    parts = [repr(r).encode("utf-8") for r in pool]
    megabytes = sum(map(len, parts)) / 1e6
    print(f"pool: {len(pool)} records built from {len(SOURCES)} shared samples, {megabytes:.0f} MB "
          f"of text, in {time.perf_counter() - start[0]:.1f} s")
    bound = clock()
    for part in parts:
        zlib.compress(part, 9)
    bound_wall = time.perf_counter() - bound[0]
    start = clock()
    selected = zip_fast(pool, args.budget, args.k1, args.k2, args.k3, workers=args.workers)
    wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    assert len(selected) == args.budget and len(set(selected)) == args.budget
    print(f"ZIP fast path, pool {len(pool)}, budget {args.budget}, k1/k2/k3 "
          f"{args.k1}/{args.k2}/{args.k3}, {args.workers} workers: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU ({wall / 60:.1f} min)")
    print(f"bound: compressing each record once takes {bound_wall:.1f} s (one thread); the "
          f"selection costs {wall / bound_wall:.1f}x that")


if __name__ == "__main__":
    main()
