"""IterIT's complexity score: IFD with the current training model (docs/methods.md §3.1–3.2),
the scoring preset `iterit` (epoch-0 scores of a pool in shards, `scoring.ifd.score_records`)
and the re-scoring during training (`ifd_scores`).

Each record becomes a chat `[system "You are a helpful assistant.", user instruction (+
"\\nInput: " + input)]`; `whole` is that chat plus the assistant's output, `direct` the output
alone, both rendered with the tokenizer's chat template and tokenized without special tokens,
truncated to `max_length`. The response span starts where the output starts in the rendered
text (`rfind`) and is `answer_len = min(max_length, len(whole)) - cond_start` tokens long in both
texts (so it includes the end-of-turn token). IFD = exp(cond) / exp(prior) (0 when prior is 0),
the mean losses coming from the batched kernel `token_losses.span_mean_losses`.

Decisions about the quirks (docs/methods.md §3.5):
- scores are rounded to bfloat16 by default (`precision="bf16"`, the reference stores them in
  the model dtype, bf16) - many ties, broken stably by `iterit_select`; "fp32" keeps float32;
- the output is located where the template puts the assistant's content, not by a bare
  `rfind` (which finds a short output such as "d" inside "<|im_end|>"), and a template that trims
  the output (quirk 4) no longer corrupts the span; a record whose output is not found at all,
  or whose span is empty after truncation, scores NaN and leaves the order (as in the reference);
- a record's own system turn is replaced by the reference's system prompt; for multi-turn
  records the chat is every turn before the last assistant turn, whose text is the output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from workflow_lib.core.jsonio import DataError
from workflow_lib.data.formats import prompt_fields
from workflow_lib.scoring.token_losses import SpanItem, span_mean_losses

SYSTEM_PROMPT = "You are a helpful assistant."
PRECISIONS = {"bf16": torch.bfloat16, "fp32": torch.float32}
_SENTINEL = "\x00iterit-output\x00"


@dataclass(frozen=True)
class ScoringTexts:
    """The rendered texts of one record and where the output starts in each (-1: not found)."""

    whole: str
    direct: str
    whole_at: int
    direct_at: int


def chat_and_output(record: dict) -> tuple[list[dict], str]:
    """The reference's chat (system prompt, user turns, earlier answers) and the output text."""
    turns = [t for t in record["conversations"] if t["from"] != "system"]
    if [t["from"] for t in turns] == ["human", "gpt"]:
        instruction, given, output = prompt_fields(record)
        user = f"{instruction}\nInput: {given}" if given else instruction
        chat = [{"role": "user", "content": user}]
    else:
        if not turns or turns[-1]["from"] != "gpt":
            raise DataError("needs an assistant (gpt) turn last", record_id=record["id"],
                            field="conversations")
        roles = {"human": "user", "gpt": "assistant"}
        chat = [{"role": roles[t["from"]], "content": t["value"]} for t in turns[:-1]]
        output = turns[-1]["value"]
    return [{"role": "system", "content": SYSTEM_PROMPT}, *chat], output


def _render(tokenizer, chat: list[dict], output: str) -> tuple[str, int]:
    """`chat` + the assistant's `output` rendered, and where the output starts in it.

    The start is where the template puts the assistant's content (found by rendering a sentinel
    in its place), provided the output (or, for trimming templates, the stripped output) is there;
    otherwise the reference's `rfind(output)`, -1 if absent. The reference's plain `rfind` finds
    a short output inside the template's own tokens (output "d" in "<|im_end|>").
    """
    def render(content: str) -> str:
        return tokenizer.apply_chat_template([*chat, {"role": "assistant", "content": content}],
                                             tokenize=False)

    text = render(output)
    slot = render(_SENTINEL).find(_SENTINEL)
    for candidate in (output, output.strip()):
        if candidate and slot >= 0 and text.startswith(candidate, slot):
            return text, slot
    return text, text.rfind(output)


def scoring_texts(tokenizer, record: dict) -> ScoringTexts:
    """`whole` and `direct` rendered with the tokenizer's chat template."""
    chat, output = chat_and_output(record)
    whole, whole_at = _render(tokenizer, chat, output)
    direct, direct_at = _render(tokenizer, [], output)
    return ScoringTexts(whole=whole, direct=direct, whole_at=whole_at, direct_at=direct_at)


def span_items(tokenizer, texts: ScoringTexts, max_length: int) -> tuple[SpanItem, SpanItem] | None:
    """(conditioned, direct) spans of the response tokens, or None if the output is not found
    in a rendered text or the span is empty."""
    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False, truncation=True,
                         max_length=max_length)["input_ids"]

    if texts.whole_at < 0 or texts.direct_at < 0:
        return None
    whole_ids, direct_ids = encode(texts.whole), encode(texts.direct)
    cond_start = len(encode(texts.whole[:texts.whole_at]))
    prior_start = len(encode(texts.direct[:texts.direct_at]))
    answer_len = max(min(max_length, len(whole_ids)) - cond_start, 0)
    cond_end = min(cond_start + answer_len, len(whole_ids))
    prior_end = min(prior_start + answer_len, len(direct_ids))
    if min(cond_start, prior_start) < 1 or cond_end <= cond_start or prior_end <= prior_start:
        return None
    return (SpanItem(whole_ids, cond_start, cond_end), SpanItem(direct_ids, prior_start, prior_end))


def ifd_from_losses(cond: float, prior: float) -> float:
    """exp(cond) / exp(prior), 0 when prior is 0 (as the reference), NaN if either is NaN."""
    if math.isnan(cond) or math.isnan(prior):
        return math.nan
    return 0.0 if prior == 0.0 else math.exp(cond) / math.exp(prior)


def span_pairs(tokenizer, records: Sequence[dict], max_length: int
               ) -> list[tuple[SpanItem, SpanItem] | None]:
    """`span_items` of each record (None: not scorable)."""
    return [span_items(tokenizer, scoring_texts(tokenizer, r), max_length) for r in records]


def ifd_scores(model, tokenizer, records: Sequence[dict], *, max_length: int, batch_size: int,
               precision: str = "bf16", device: str | torch.device = "cpu",
               desc: str | None = None) -> np.ndarray:
    """IFD of each record with `model` (float32 array; NaN where unscorable), both passes of all
    records in one length-bucketed batched run."""
    pairs = span_pairs(tokenizer, records, max_length)
    items = [item for pair in pairs if pair is not None for item in pair]
    losses = iter(span_mean_losses(model, items, batch_size=batch_size,
                                   pad_token_id=pad_token_id(tokenizer), device=device,
                                   desc=desc))
    scores = [math.nan if pair is None else ifd_from_losses(next(losses), next(losses))
              for pair in pairs]
    return round_scores(np.array(scores), precision)


def pad_token_id(tokenizer) -> int:
    """The tokenizer's pad id, its eos id when it has none."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def round_scores(scores: np.ndarray, precision: str) -> np.ndarray:
    """Scores as float32 after storage in `precision` (bf16: the reference's model dtype)."""
    return torch.tensor(scores, dtype=torch.float32).to(PRECISIONS[precision]).float().numpy()
