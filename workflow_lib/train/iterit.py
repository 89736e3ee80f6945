"""An IterIT run: one Axolotl fine-tune on the whole pool whose epochs see IterIT's subsets.

The run is a regular `training.train_run` on the pool with the IterIT plugin
(`iterit_plugin`) switched on and these Axolotl keys set:
- `max_steps = epochs · max(floor(ceil(ceil(m / micro_batch) / world_size) / grad_acc), 1)`
  (the reference's, with each of the world_size processes drawing its share of the batches),
  so the learning-rate schedule (warmup, decay) spans the whole run, and `num_epochs`;
- no sample packing, no shuffling of the prepared dataset, long rows truncated rather than
  dropped, `dataloader_drop_last: false` (rows must map one-to-one to records; m need not be a
  multiple of the batch), logging every step (the learning rate per step is kept).
The per-epoch files (`iterit_schedule`) land in `{out_dir}/iterit/` and the manifest gains
an `iterit` block with m, the settings and per-epoch scoring/selection/training seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from workflow_lib.config.batch import world_size
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.core.manifest import file_sha256
from workflow_lib.select.budget import Budget
from workflow_lib.select.iterit.schedule import epoch_summary, steps_per_epoch
from workflow_lib.select.registry import selection_kind
from workflow_lib.train.axolotl_run import train_run

PLUGIN = "workflow_lib.axolotl_plugin.iterit.IterITPlugin"
METHOD_KEYS = ("strategy", "update_ratio", "score_type", "diversity_weight_decay",
               "score_batch_size", "score_precision")
ITERIT = selection_kind("iterit")


def subset_size(n_records: int, budget: Budget) -> int:
    """m: the budget as a count, or floor(N · budget) for a fraction (the reference's ratio,
    the kind's `Rounding.FLOOR`); BudgetError when that is no record."""
    return budget.count(n_records, ITERIT.rounding)


def total_steps(m: int, epochs: int, micro_batch_size: int, grad_acc: int,
                world_size: int = 1) -> int:
    """Optimizer steps of the whole run (the reference's `max_steps`; with several processes,
    each draws its share of the epoch's batches)."""
    return epochs * steps_per_epoch(m, micro_batch_size, grad_acc, world_size)


def iterit_overrides(method: dict, train: dict, *, pool: str, m: int, out_dir: str,
                     initial_scores: str | None = None) -> dict:
    """Axolotl keys of an IterIT run (see the module docstring)."""
    settings = {key: method[key] for key in METHOD_KEYS}
    return {
        "plugins": [PLUGIN],
        "iterit": {"pool": pool, "m": m, **settings, "max_length": train["sequence_len"],
                   "seed": train["seed"], "out_dir": out_dir, "initial_scores": initial_scores},
        "num_epochs": method["num_epochs"],
        "max_steps": total_steps(m, method["num_epochs"], train["micro_batch_size"],
                                 train["gradient_accumulation_steps"], world_size(train)),
        "sample_packing": False,
        "pad_to_sequence_len": False,
        "shuffle_merged_datasets": False,
        "excess_length_strategy": "truncate",
        "dataloader_drop_last": False,
        "logging_steps": 1,
    }


def train_iterit(*, run: str, pool: str, budget: Budget, method: dict, base_model: str,
                 train: dict, out_dir: str, work_dir: str, tools_python: str, offline: bool,
                 threads: int | None = None, log_path: str | None = None,
                 initial_scores: str | None = None) -> dict:
    """Train `base_model` with IterIT on the canonical JSONL `pool`; returns the manifest."""
    n_records = sum(1 for _ in read_jsonl(pool))
    m = subset_size(n_records, budget)
    epochs_dir = str(Path(work_dir) / "iterit")
    overrides = iterit_overrides(method, train, pool=pool, m=m, out_dir=epochs_dir,
                                 initial_scores=initial_scores)

    def collect(work: Path, out: Path) -> dict:
        shutil.move(work / "iterit", out / "iterit")
        epochs = epoch_summary(out / "iterit")
        history = json.loads((out / "iterit" / "log_history.json").read_text(encoding="utf-8"))
        return {"iterit": {
            "m": m, "budget": budget.value, "n_pool": n_records,
            "max_steps": overrides["max_steps"], "method_version": ITERIT.version,
            **{key: method[key] for key in ("num_epochs", *METHOD_KEYS)},
            "initial_scores": initial_scores and {"path": initial_scores,
                                                  "sha256": file_sha256(initial_scores)},
            "epochs": epochs,
            "scoring_s": round(sum(e["scoring_s"] for e in epochs), 3),
            "training_s": round(sum(e["training_s"] or 0 for e in epochs), 3),
            "learning_rates": [h["learning_rate"] for h in history if "learning_rate" in h],
        }}

    return train_run(run=run, selection=pool, base_model=base_model, train=train,
                     out_dir=out_dir, work_dir=work_dir, tools_python=tools_python,
                     offline=offline, threads=threads, log_path=log_path, overrides=overrides,
                     collect=collect)
