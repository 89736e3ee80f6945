"""How much ZIP's `clean` mode differs from `reference` mode on the demo pool (Jaccard).

Generates the embedded demo's pool and runs the demo's ZIP method (pool, k's and budget read
from `config.yaml`) in both modes through `workflow_lib.select.zip.select_zip`, then prints the
overlap of the two selections and the statistics the manifest records for each (compression
ratio of the selected set, mean lengths), plus the quality mix of the demo records.

    .venv/bin/python bench/zip_modes.py [--config config.yaml] [--budget 120]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import yaml

from workflow_lib.config.validate import validate_config
from workflow_lib.data.demo_pool import generate_pool
from workflow_lib.select.budget import Budget
from workflow_lib.select.output import selection_stats
from workflow_lib.select.registry import selection_kind
from workflow_lib.select.zip import select_zip

ROOT = Path(__file__).resolve().parents[1]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    ap.add_argument("--method", default="zip", help="a zip method of the config")
    ap.add_argument("--budget", type=int, help="default: the config's first experiment budget")
    args = ap.parse_args()
    config = validate_config(yaml.safe_load(args.config.read_text()))
    source = config["pools"]["demo"]["source"]
    method = config["methods"][args.method]
    budget = args.budget or config["experiments"][0]["budgets"][0]
    pool = generate_pool(n=source["n"], seed=source["seed"])
    count = Budget(budget).count(len(pool), selection_kind("zip").rounding)
    print(f"demo pool: {len(pool)} records; method {args.method}: k1={method['k1']} "
          f"k2={method['k2']} k3={method['k3']}; budget {budget}")
    picked = {}
    print(f"{'mode':>9} {'n':>4} {'distinct':>8} {'ratio':>6} {'resp_chars':>10} {'time_s':>6}  "
          "quality mix")
    for mode in ("reference", "clean"):
        start = time.perf_counter()
        indices, _ = select_zip(pool, count, {**method, "mode": mode})
        seconds = time.perf_counter() - start
        chosen = [pool[i] for i in indices]
        stats = selection_stats(chosen)
        mix = Counter(r["meta"]["quality"] for r in chosen)
        picked[mode] = set(indices)
        print(f"{mode:>9} {len(indices):>4} {len(set(indices)):>8} "
              f"{stats['compression_ratio']:>6.3f} {stats['response_chars_mean']:>10.1f} "
              f"{seconds:>6.2f}  {dict(sorted(mix.items()))}")
    common = picked["reference"] & picked["clean"]
    print(f"overlap {len(common)} records; Jaccard(reference, clean) = "
          f"{jaccard(picked['reference'], picked['clean']):.3f}")


if __name__ == "__main__":
    main()
