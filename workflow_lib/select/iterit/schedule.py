"""IterIT's epoch schedule (docs/methods.md §3.4): which records each epoch of one run sees.

The pool is the training dataset (row i = record i). An ordered list of rows and their scores
is kept; at the start of each epoch:
- epoch 0: score all N records with the base model (or read them from `initial_scores`, the
  reference's `--pre_computed_score_path`, shared by runs on the same pool and model),
  `update(N, m)`;
- epoch e >= 1, strategy `iterative`: re-score the first `count = m · update_ratio` rows
  (update_ratio <= 1: all rows) with the current weights, `update(count, m)`;
- epoch e >= 1, strategy `baseline`: nothing (the same m records every epoch).
The epoch trains on the first m rows, in a fixed random permutation of positions drawn once from
`seed` (the reference's `SubsetRandomSampler(range(m), generator=manual_seed(seed))`).

The window of the next re-scoring is what `update` leaves first: the previous m picks, then the
rows scored >= 1, then the other candidates (docs/methods.md §3.4: likely unintended; it is kept,
as it defines IterIT's behaviour).

Several processes (DDP, docs/methods.md §3.5): every process keeps the same schedule and its
sampler yields the same m rows in the same order; the launcher's data loader gives each process
its share of the batches. The window is re-scored once, in shards: process r scores positions
r, r + W, r + 2W, ... with its replica of the current weights, the scores are gathered on every
process (`all_gather_object`), and each runs the same deterministic selection; `scored_by_rank`
in the epoch's file counts the records each process scored. Process 0 alone writes the files.

Files in `out_dir`, written atomically, one per epoch: `epoch{e}.json` with the order
(`index`: pool rows, `id`: record ids), `score` per position (null: not scorable; positions
beyond `count` keep their older scores, as in the reference), `train_num` (m), `count`, the
selected rows, the rows the Trainer drew (`trained_rows`, in training order), and the seconds
spent scoring, selecting and training. A restarted run re-reads
them: an epoch whose file exists is not re-scored.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workflow_lib.core.jsonio import write_json
from workflow_lib.scoring.iterit_ifd import chat_and_output, ifd_scores, round_scores
from workflow_lib.scoring.shards import read_scores
from workflow_lib.select.iterit.select import update_order

STRATEGIES = ("iterative", "baseline")


@dataclass(frozen=True)
class IterITSettings:
    """What one IterIT run needs (the method's parameters and the derived m)."""

    m: int
    strategy: str
    update_ratio: float
    score_type: str
    diversity_weight_decay: float
    score_batch_size: int
    score_precision: str
    max_length: int
    seed: int
    out_dir: str
    initial_scores: str | None = None   # epoch-0 scores: the pool's `iterit` scorer's parquet


def response_targets(records: Sequence[dict], eos_token: str) -> list[str]:
    """The texts TF-IDF sees: output + the tokenizer's eos string (as the reference's targets)."""
    return [chat_and_output(r)[1] + eos_token for r in records]


def steps_per_epoch(m: int, micro_batch_size: int, grad_acc: int, world_size: int = 1) -> int:
    """Optimizer steps of one epoch of m rows: the m rows make ceil(m / micro_batch_size)
    batches, each process draws ceil(batches / world_size) of them, `grad_acc` per step
    (at least one step, as in the reference)."""
    batches = math.ceil(m / micro_batch_size)
    return max(math.ceil(batches / world_size) // grad_acc, 1)


def process_group() -> tuple[int, int]:
    """(rank, world size) of this process in the training's process group ((0, 1) without)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochSubset(torch.utils.data.Sampler):
    """Yields the current epoch's m rows in a permutation of positions fixed at creation, and
    remembers what the dataloader actually drew (`drawn`)."""

    def __init__(self, m: int, seed: int) -> None:
        self.perm = torch.randperm(m, generator=torch.Generator().manual_seed(seed)).tolist()
        self.rows = list(range(m))
        self.drawn: list[int] = []

    def __len__(self) -> int:
        return len(self.perm)

    def __iter__(self):
        self.drawn = []
        for k in self.perm:
            self.drawn.append(self.rows[k])
            yield self.rows[k]


def window_size(settings: IterITSettings, n_rows: int) -> int:
    """Rows re-scored at an epoch >= 1: m · update_ratio, or all when update_ratio <= 1."""
    if settings.update_ratio <= 1:
        return n_rows
    return min(int(settings.m * settings.update_ratio), n_rows)


class IterITSchedule:
    """The order, scores and epoch subset of one run; `begin_epoch` is called with the model."""

    def __init__(self, settings: IterITSettings, records: Sequence[dict], tokenizer) -> None:
        if settings.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {settings.strategy!r}")
        if not 1 <= settings.m <= len(records):
            raise ValueError(f"m = {settings.m} must be between 1 and the pool size "
                             f"{len(records)}")
        self.settings = settings
        self.records = records
        self.tokenizer = tokenizer
        self.targets = response_targets(records, tokenizer.eos_token)
        self.order = list(range(len(records)))
        self.scores = np.full(len(records), np.nan, dtype=np.float32)
        self.sampler = EpochSubset(settings.m, settings.seed)
        self.out = Path(settings.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.current: int | None = None     # epoch whose order is in memory
        self.started = 0.0
        self.rank, self.world = process_group()

    def path(self, epoch: int) -> Path:
        return self.out / f"epoch{epoch}.json"

    def begin_epoch(self, epoch: int, model) -> dict:
        """Set the subset of `epoch` (scoring and selecting as the strategy says, or reading the
        epoch's file of an earlier attempt); returns the epoch's file content."""
        if self.path(epoch).is_file():
            info = self._load(epoch)
        else:
            if epoch > 0 and self.current != epoch - 1:
                self._load(epoch - 1)
            info = self._advance(epoch, model)
            if self.rank == 0:
                write_json(self.path(epoch), info)
        self.sampler.rows = self.order[:self.settings.m]
        self.current = epoch
        self.started = time.perf_counter()
        return info

    def end_epoch(self, epoch: int) -> None:
        """Record the epoch's training time and the rows the Trainer drew in its file."""
        if self.rank != 0:
            return
        info = json.loads(self.path(epoch).read_text(encoding="utf-8"))
        info["training_s"] = round(time.perf_counter() - self.started, 3)
        info["trained_rows"] = self.sampler.drawn
        write_json(self.path(epoch), info)

    def _advance(self, epoch: int, model) -> dict:
        s = self.settings
        info = {"epoch": epoch, "strategy": s.strategy, "train_num": s.m, "count": 0,
                "n_unscorable": 0, "scoring_s": 0.0, "selection_s": 0.0,
                "scored_by_rank": [0] * self.world}
        if epoch == 0 or s.strategy == "iterative":
            count = len(self.order) if epoch == 0 else window_size(s, len(self.order))
            start = time.perf_counter()
            window, info["scored_by_rank"] = self._window_scores(epoch, count, model)
            scored = time.perf_counter()
            perm = update_order(window, [self.targets[r] for r in self.order[:count]], s.m,
                                score_type=s.score_type, decay=s.diversity_weight_decay)
            info.update(count=count, n_unscorable=int(np.isnan(window).sum()),
                        scoring_s=round(scored - start, 3),
                        selection_s=round(time.perf_counter() - scored, 3))
            self.scores = np.concatenate([window[perm], self.scores[count:]])
            self.order = [self.order[p] for p in perm] + self.order[count:]
            if len(self.order) < s.m:
                raise ValueError(f"only {len(self.order)} records are scorable, fewer than "
                                 f"m = {s.m}")
        return {**info, "index": self.order, "id": [self.records[r]["id"] for r in self.order],
                "score": [None if math.isnan(x) else float(x) for x in self.scores],
                "selected": self.order[:s.m]}

    def _window_scores(self, epoch: int, count: int, model) -> tuple[np.ndarray, list[int]]:
        """Scores of the first `count` rows, read (epoch 0 with initial_scores) or computed in
        shards over the processes, and the number of records each process scored."""
        s = self.settings
        if epoch == 0 and s.initial_scores:
            rows = read_scores(s.initial_scores, self.records)
            scores = round_scores(np.array([math.nan if row["ifd"] is None else row["ifd"]
                                            for row in rows]), s.score_precision)
            return scores, [0] * self.world
        device = next(model.parameters()).device
        # A PEFT model's base model keeps its (active) LoRA layers and is the plain causal LM
        # the scoring kernel expects.
        if hasattr(model, "get_base_model"):
            model = model.get_base_model()
        shard = self.order[:count][self.rank::self.world]
        mine = ifd_scores(model, self.tokenizer, [self.records[r] for r in shard],
                          max_length=s.max_length, batch_size=s.score_batch_size,
                          precision=s.score_precision, device=device,
                          desc=f"IterIT scores, epoch {epoch}, shard {self.rank}/{self.world}")
        if self.world == 1:
            return mine, [len(shard)]
        parts: list = [None] * self.world
        torch.distributed.all_gather_object(parts, mine.tolist())
        scores = np.empty(count, dtype=mine.dtype)
        for rank, part in enumerate(parts):
            scores[rank::self.world] = part
        return scores, [len(part) for part in parts]

    def _load(self, epoch: int) -> dict:
        info = json.loads(self.path(epoch).read_text(encoding="utf-8"))
        self.order = list(info["index"])
        self.scores = np.array([math.nan if x is None else x for x in info["score"]],
                               dtype=np.float32)
        self.current = epoch
        return info


def epoch_summary(out_dir: str | Path) -> list[dict]:
    """Per-epoch counts and seconds (scoring, selecting, training) from the epoch files."""
    keys = ("epoch", "count", "n_unscorable", "scored_by_rank", "scoring_s", "selection_s",
            "training_s")
    files = sorted(Path(out_dir).glob("epoch*.json"), key=lambda p: int(p.stem[5:]))
    return [{k: info.get(k) for k in keys}
            for info in (json.loads(p.read_text(encoding="utf-8")) for p in files)]
