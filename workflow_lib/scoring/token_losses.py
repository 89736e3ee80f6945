"""Batched mean token cross-entropy over spans of token sequences (IFD, IterIT).

An item is a token sequence and a span `[start, end)` of positions to score: token `t` is
predicted from the logits at `t - 1`, so `start >= 1`. `span_mean_losses` returns the mean
cross-entropy of each span, the quantity Hugging Face's `model(ids, labels=labels).loss` gives
when the labels outside the span are -100 (and, for `start = 1, end = len(ids)`, plain
`labels=ids`).

How it is made fast without changing the numbers:
* items are sorted by length and cut into batches of at most `batch_size` items, at most
  `max_tokens_per_batch` padded tokens and at most a `max_padding` share of padding (default
  10%): a batch of short items next to a long one would otherwise spend most of its matmuls and
  attention on pads, which on a CPU costs more than smaller batches do;
* padding is on the right and no attention mask is passed: causal attention never lets a real
  token see a later pad, and absolute positions (GPT-2) do not shift, so a sequence scores the
  same alone and in a padded batch (up to kernel rounding, ~1e-6);
* an item that repeats an earlier one (same tokens up to the span's end, same span: the same
  computation) is computed once; short answers repeat often (the direct pass of "4" or "Paris"),
  on the demo pool 5-15% of the tokens;
* tokens after a span's end are dropped before the forward pass (they cannot influence it);
  the span's last token is fed, as the references feed the whole sequence, although no logit
  at its position is used: a sequence one token shorter gives the same logits in exact
  arithmetic but other kernel shapes, hence float32 roundings (~1e-6 relative);
* when `head_only_is_exact(model)` the LM head is applied only to scored positions
  (`nll.scored_nll`), which avoids a batch × length × vocabulary logits tensor;
* losses are taken from float32 logits and summed per item in float64.

`batch_size=1` runs one sequence at a time, the reference implementations' loop.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import PreTrainedModel

from workflow_lib.scoring.nll import head_only_is_exact, scored_nll

DEFAULT_MAX_PADDING = 0.1  # share of a batch's tokens that may be padding


@dataclass(frozen=True)
class SpanItem:
    """A token sequence (already truncated) and the span of positions whose loss is wanted."""

    input_ids: list[int]
    start: int  # first scored position (>= 1: token t is predicted from logits[t - 1])
    end: int  # one past the last scored position (<= len(input_ids))

    def __post_init__(self) -> None:
        if self.start < 1 or self.end > len(self.input_ids):
            raise ValueError(
                f"span [{self.start}, {self.end}) does not fit a sequence of "
                f"{len(self.input_ids)} tokens with start >= 1"
            )

    @property
    def n_scored(self) -> int:
        """Number of scored tokens (0 for an empty span)."""
        return max(0, self.end - self.start)


def _computation(item: SpanItem) -> tuple:
    """What an item's loss depends on, for a given model: its span and its tokens up to the end."""
    return item.start, item.end, tuple(item.input_ids[: item.end])


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    max_tokens_per_batch: int | None = None,
    max_padding: float | None = None,
) -> list[list[int]]:
    """Indices of `lengths` grouped into batches, longest first (a memory error shows at once).

    Each batch has at most `batch_size` items, at most `max_tokens_per_batch` padded tokens
    (items × longest) when that is set, and at most a `max_padding` share of padding when that is
    set; an item that fits no open batch starts a new one (alone, if it is longer than the limit).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_padding is not None and not 0 <= max_padding < 1:
        raise ValueError(f"max_padding must be in [0, 1), got {max_padding}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    real = 0  # tokens of the last batch's items
    for i in order:
        if batches:
            batch = batches[-1]
            padded = (len(batch) + 1) * lengths[batch[0]]  # the first item is the longest
            fits = (
                len(batch) < batch_size
                and (max_tokens_per_batch is None or padded <= max_tokens_per_batch)
                and (max_padding is None or real + lengths[i] >= (1 - max_padding) * padded)
            )
            if fits:
                batch.append(i)
                real += lengths[i]
                continue
        batches.append([i])
        real = lengths[i]
    return batches


def span_mean_losses(
    model: PreTrainedModel,
    items: Sequence[SpanItem],
    *,
    batch_size: int,
    pad_token_id: int,
    device: str | torch.device = "cpu",
    max_tokens_per_batch: int | None = None,
    max_padding: float | None = DEFAULT_MAX_PADDING,
    desc: str | None = None,
    head_only: bool | None = None,
) -> list[float]:
    """Mean token cross-entropy over `[start, end)` of each item, in input order (NaN for an
    empty span). Right padding with `pad_token_id`, length-bucketed batches, float32 losses,
    vectorised; `batch_size=1` gives the reference's one-sequence-at-a-time numbers.

    `head_only=None` applies the LM head only to scored positions when that reproduces the
    model's logits (`bpc.head_only_is_exact`); True/False force it. `desc` labels the progress
    bar (on stderr; none when `desc` is None).
    """
    results = [math.nan] * len(items)
    # Only positions up to the span's end are needed; empty spans need no forward pass, and an
    # item equal to an earlier one (same tokens up to its end, same span) takes its loss.
    keys = [_computation(item) if item.n_scored > 0 else None for item in items]
    first: dict[tuple, int] = {}
    for i, key in enumerate(keys):
        if key is not None:
            first.setdefault(key, i)
    todo = sorted(first.values())
    lengths = [items[i].end for i in todo]
    batches = [
        [todo[j] for j in batch]
        for batch in plan_batches(lengths, batch_size, max_tokens_per_batch, max_padding)
    ]
    was_training = model.training
    model.eval()
    try:
        if head_only is None:
            head_only = head_only_is_exact(model)
        with torch.inference_mode():
            for batch in tqdm(batches, desc=desc, unit="batch", file=sys.stderr,
                              disable=desc is None):
                width = max(items[i].end for i in batch)
                tokens = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens[row, : items[i].end] = torch.tensor(items[i].input_ids[: items[i].end])
                # Column c predicts token c + 1 (the last column predicts nothing), which is
                # scored when start <= c + 1 < end.
                target = torch.arange(1, width + 1)
                starts = torch.tensor([items[i].start for i in batch])
                ends = torch.tensor([items[i].end for i in batch])
                mask = (target[None, :] >= starts[:, None]) & (target[None, :] < ends[:, None])
                following = F.pad(tokens[:, 1:], (0, 1), value=pad_token_id)
                tokens, following, mask = tokens.to(device), following.to(device), mask.to(device)
                sums = scored_nll(model, tokens, following, mask, head_only)
                for row, i in enumerate(batch):
                    results[i] = sums[row].item() / items[i].n_scored
    finally:
        model.train(was_training)
    for i, key in enumerate(keys):
        if key is not None:
            results[i] = results[first[key]]
    return results
