"""Sliding-window bits per character (BPC), exact to "Compression Represents Intelligence Linearly".

The reference (docs/methods.md §4.2; `code/evaluation/main.py`) tokenizes each non-empty
document with `tokenizer.encode` (so BOS-adding tokenizers add one BOS per document), concatenates
the ids and slides a window of `block_size + 1` tokens with step `stride`. Window 0 scores all its
targets, every later window only its last `stride` targets, so each token but the first and an
unscored tail is scored once. BPC = total cross-entropy (nats) / (characters · ln 2).

Differences from the reference, all of which leave the number unchanged (docs/methods.md §4.4):
* windows are a pure function of their index (`SlidingWindows.span`), not a stateful dataset,
  so they can be batched in any order and split into shards (`bpc_partial`, `combine_partials`);
* the LM head is applied only to scored positions, logits are upcast to float32 and losses are
  summed per window in float64, then over windows with `math.fsum` (order independent);
* a corpus shorter than one window raises a clear error (the reference crashes with a negative
  dataset length) unless `short_corpus="single_window"` scores it as one short window.

Reproduced on purpose and reported in `BpcResult`: contexts cross document boundaries, the BOS
tokens of documents 2..n are scored targets without characters (`n_scored_bos`), and the
unscored tail's characters still count in the denominator (`n_unscored_tail`).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Literal

import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from workflow_lib.scoring.nll import head_only_is_exact, scored_nll

ShortCorpus = Literal["error", "single_window"]

@dataclass(frozen=True)
class TokenizedCorpus:
    """Concatenated token ids of the non-empty documents, and what BPC divides by."""

    ids: torch.Tensor  # 1-D int64
    doc_starts: tuple[int, ...]  # position of each document's first token in `ids`
    n_chars: int  # code points of all non-empty documents (Python `len`)
    n_empty_docs: int
    bos_token_id: int | None

    @property
    def n_docs(self) -> int:
        """Number of non-empty documents."""
        return len(self.doc_starts)


def tokenize_corpus(
    tokenizer: PreTrainedTokenizerBase, texts: Iterable[str], chunk_size: int = 256
) -> TokenizedCorpus:
    """Tokenize each non-empty document with the tokenizer's default special tokens; concatenate.

    Equal to `tokenizer.encode(text)` per document (the reference), batched for speed.
    """
    docs = list(texts)
    kept = [t for t in docs if t]
    parts, lengths = [], []
    for i in range(0, len(kept), chunk_size):
        # verbose=False: documents may exceed the model's length; windows never do.
        encoded = tokenizer(kept[i : i + chunk_size], verbose=False)["input_ids"]
        lengths.extend(len(doc_ids) for doc_ids in encoded)
        parts.append(torch.tensor(list(chain.from_iterable(encoded)), dtype=torch.long))
    starts = [0, *accumulate(lengths)][: len(lengths)]
    return TokenizedCorpus(
        ids=torch.cat(parts) if parts else torch.empty(0, dtype=torch.long),
        doc_starts=tuple(starts),
        n_chars=sum(len(t) for t in kept),
        n_empty_docs=len(docs) - len(kept),
        bos_token_id=tokenizer.bos_token_id,
    )


@dataclass(frozen=True)
class SlidingWindows:
    """The reference's windows over `n_tokens` ids, as a pure function of the window index."""

    n_tokens: int
    block_size: int
    stride: int
    n_windows: int

    @classmethod
    def plan(
        cls,
        n_tokens: int,
        block_size: int = 1900,
        stride: int = 512,
        short_corpus: ShortCorpus = "error",
    ) -> SlidingWindows:
        """Windows of `block_size + 1` tokens every `stride` tokens; only full windows are made.

        A corpus shorter than one window raises ValueError, or with
        `short_corpus="single_window"` becomes one window over all its tokens.
        """
        if block_size < 1 or not 1 <= stride <= block_size:
            raise ValueError(f"need 1 <= stride <= block_size, got {stride=}, {block_size=}")
        if short_corpus not in ("error", "single_window"):
            raise ValueError(f"short_corpus must be 'error' or 'single_window': {short_corpus!r}")
        if n_tokens < 2:
            raise ValueError(f"corpus has {n_tokens} token(s): nothing to score")
        width = block_size + 1
        if n_tokens >= width:
            return cls(n_tokens, block_size, stride, (n_tokens - width) // stride + 1)
        if short_corpus == "error":
            raise ValueError(
                f"corpus has {n_tokens} tokens, fewer than one window of {width} "
                f"(block_size {block_size} + 1); use a smaller block_size, more documents, "
                "or short_corpus='single_window' to score it as one shorter window"
            )
        return cls(n_tokens, block_size, stride, 1)

    def span(self, k: int) -> tuple[int, int, int]:
        """(begin, end, first scored target offset) of window k: ids[begin:end] are its tokens.

        Targets are ids[begin + 1:end]; those at offsets >= the third value are scored
        (all for window 0, the last `stride` for later windows).
        """
        if not 0 <= k < self.n_windows:
            raise IndexError(f"window {k} out of range [0, {self.n_windows})")
        begin = k * self.stride
        end = min(begin + self.block_size + 1, self.n_tokens)
        return begin, end, 0 if k == 0 else self.block_size - self.stride

    @property
    def n_scored_tokens(self) -> int:
        """Targets scored over all windows (each exactly once)."""
        _, end, _ = self.span(0)
        return end - 1 + (self.n_windows - 1) * self.stride

    @property
    def n_unscored_tail(self) -> int:
        """Trailing tokens after the last window: never scored, their characters still count."""
        return self.n_tokens - 1 - self.n_scored_tokens


def shard_windows(n_windows: int, shard: int, n_shards: int) -> range:
    """Contiguous window indices of shard `shard` out of `n_shards` (sizes differ by <= 1)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} out of range [0, {n_shards})")
    return range(shard * n_windows // n_shards, (shard + 1) * n_windows // n_shards)


@dataclass(frozen=True)
class BpcPartial:
    """Cross-entropy (nats, float64) of each scored window of one shard.

    Round-trips through JSON as `BpcPartial(**json.loads(json.dumps(dataclasses.asdict(p))))`.
    """

    windows: tuple[int, ...]
    nll_nats: tuple[float, ...]
    n_scored_tokens: int


@dataclass(frozen=True)
class BpcResult:
    """BPC of a corpus and the counts that explain it."""

    bpc: float
    total_nll_nats: float
    n_chars: int
    n_docs: int
    n_empty_docs: int
    n_tokens: int
    n_windows: int
    n_scored_tokens: int
    n_unscored_tail: int  # tokens after the last window: unscored, their characters counted
    n_scored_bos: int  # BOS tokens of documents 2..n: scored targets that carry no characters
    block_size: int
    stride: int


def bpc_partial(
    model: PreTrainedModel,
    ids: torch.Tensor,
    window_indices: Iterable[int] | None = None,
    *,
    block_size: int = 1900,
    stride: int = 512,
    batch_size: int = 8,
    short_corpus: ShortCorpus = "error",
    head_only: bool | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> BpcPartial:
    """Score the given windows (all when None) of the concatenated corpus `ids`.

    Windows may come in any order and from any shard; combine shards with `combine_partials`.
    `head_only=None` applies the LM head only to scored positions when `head_only_is_exact`;
    True/False force it. `device` receives the inputs (default: the input embeddings' device).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    plan = SlidingWindows.plan(len(ids), block_size, stride, short_corpus)
    windows = list(range(plan.n_windows) if window_indices is None else window_indices)
    if len(set(windows)) != len(windows):
        raise ValueError("window_indices contains duplicates")
    spans = [plan.span(k) for k in windows]
    device = device or model.get_input_embeddings().weight.device
    was_training = model.training
    model.eval()
    try:
        if head_only is None:
            head_only = head_only_is_exact(model)
            if not head_only:
                warnings.warn(
                    f"{type(model).__name__}: LM head on hidden states differs from the logits; "
                    "computing full logits",
                    stacklevel=2,
                )
        nll: list[float] = []
        batches = range(0, len(spans), batch_size)
        with torch.inference_mode():
            for i in tqdm(batches, desc="BPC", unit="batch", file=sys.stderr, disable=not progress):
                batch = spans[i : i + batch_size]
                tokens = torch.stack([ids[begin:end] for begin, end, _ in batch]).to(device)
                first = torch.tensor([f for _, _, f in batch], device=device)
                offsets = torch.arange(tokens.shape[1] - 1, device=device)
                mask = offsets[None, :] >= first[:, None]
                nll.extend(
                    scored_nll(model, tokens[:, :-1], tokens[:, 1:], mask, head_only).tolist()
                )
    finally:
        model.train(was_training)
    n_scored = sum(end - begin - 1 - f for begin, end, f in spans)
    return BpcPartial(tuple(windows), tuple(nll), n_scored)


def combine_partials(partials: Iterable[BpcPartial]) -> BpcPartial:
    """Merge shards (in any order); raises if two shards scored the same window."""
    parts = list(partials)
    windows = [k for p in parts for k in p.windows]
    if len(set(windows)) != len(windows):
        raise ValueError("shards overlap: some windows were scored more than once")
    return BpcPartial(
        tuple(windows),
        tuple(v for p in parts for v in p.nll_nats),
        sum(p.n_scored_tokens for p in parts),
    )


def finish_bpc(corpus: TokenizedCorpus, partial: BpcPartial, plan: SlidingWindows) -> BpcResult:
    """BPC of `corpus` from the scored windows; raises unless every window was scored once."""
    if plan.n_tokens != len(corpus.ids):
        raise ValueError(f"plan is for {plan.n_tokens} tokens, corpus has {len(corpus.ids)}")
    if sorted(partial.windows) != list(range(plan.n_windows)):
        missing = sorted(set(range(plan.n_windows)) - set(partial.windows))
        raise ValueError(
            f"windows scored do not cover the corpus exactly once: {len(missing)} missing "
            f"(e.g. {missing[:5]}), {len(partial.windows)} scored of {plan.n_windows}"
        )
    total = math.fsum(partial.nll_nats)
    last_scored = plan.n_tokens - 1 - plan.n_unscored_tail
    n_bos = sum(
        1
        for p in corpus.doc_starts[1:]
        if p <= last_scored and int(corpus.ids[p]) == corpus.bos_token_id
    )
    return BpcResult(
        bpc=total / (corpus.n_chars * math.log(2)),
        total_nll_nats=total,
        n_chars=corpus.n_chars,
        n_docs=corpus.n_docs,
        n_empty_docs=corpus.n_empty_docs,
        n_tokens=plan.n_tokens,
        n_windows=plan.n_windows,
        n_scored_tokens=partial.n_scored_tokens,
        n_unscored_tail=plan.n_unscored_tail,
        n_scored_bos=n_bos,
        block_size=plan.block_size,
        stride=plan.stride,
    )


def sliding_window_bpc(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    block_size: int = 1900,
    stride: int = 512,
    batch_size: int = 8,
    *,
    short_corpus: ShortCorpus = "error",
    **options,
) -> BpcResult:
    """BPC of `texts` under `model`, as the reference computes it (paper default 1900/512).

    `options` (head_only, device, progress: on by default) go to `bpc_partial`.
    """
    corpus = tokenize_corpus(tokenizer, texts)
    plan = SlidingWindows.plan(len(corpus.ids), block_size, stride, short_corpus)
    partial = bpc_partial(model, corpus.ids, block_size=block_size, stride=stride,
                          batch_size=batch_size, short_corpus=short_corpus,
                          **{"progress": True, **options})
    return finish_bpc(corpus, partial, plan)
