"""Instruction-Following Difficulty (IFD) scores, exact to Superfiltering and Cherry LLM.

IFD compares the loss of a response alone (the *direct* pass) with its loss after the instruction
(the *conditioned* pass); docs/methods.md §2. The two reference families differ in template, direct
text, truncation, ratio and filter; a `Preset` holds these as data, `presets.PRESETS` both:

superfiltering (`tianyi-lab/Superfiltering` @ f0764af, code_ifd/data_analysis.py, GPT-2 scorer)
  prompt `"{instruction}\\n"` or `"{instruction}\\n{input}\\n"`; direct text = the response;
  `L_p = len(encode(prompt, max_length))`; direct ids truncated to `max_length - L_p + 1`;
  direct loss = HF `labels=ids` loss, so the first direct token is not scored when the tokenizer
  adds no BOS (GPT-2): the direct mean has one token fewer than the conditioned one (quirk 1);
  IFD = `ppl_cond / ppl_direct` = `exp(loss_cond) / exp(loss_direct)`.
cherry (`tianyi-lab/Cherry_LLM` @ 01fac8d, cherry_seletion/data_analysis.py + data_by_IFD.py)
  Alpaca prompt; direct text = `"### Response:" + response` (the cue is kept and not scored);
  direct ids truncated to `max_length - L_p + 4`. The selection step skips a record, in this
  order, when `max_length - L_p <= 0` (prompt_too_long), when a span is empty, or when
  `L_p + len_1 > max_length` (length_check; `len_1` = scored direct tokens); IFD =
  `mean loss_cond / mean loss_direct`. When the cue has fewer than 4 tokens (SmolLM2: no BOS,
  3 tokens) the length check drops exactly the records whose response has more than
  `max_length - L_p` tokens, i.e. is truncated in the conditioned pass; with 4 or more (LLaMA:
  BOS + 3) it never fires.

Both: the conditioned ids are `encode(prompt + response)` truncated to `max_length`, and the
first scored position is `len(encode(whole[:whole.rfind(response)]))`: the *untruncated* prefix,
assuming no BPE merge across the prompt/response boundary (quirk 2), so a prompt longer than
`max_length` leaves nothing to score.

iterit (`JiaQiSJTU/IterIT` @ 433ac6f, `scoring.iterit_ifd`): the chat template with IterIT's
  system prompt, IFD = `exp(loss_cond) / exp(loss_direct)`, 0 when the direct loss is 0; a
  record whose output is not found in the rendered chat, or whose span is empty after
  truncation, has the reason `chat_span`.

Where the references turn a failure into 0 or NaN (an exception becomes IFD 0 and is kept as the
lowest score; an empty span becomes NaN and is dropped silently), a row here has no scores and a
`reason` (REASONS). Multi-turn records (anything but one human and one gpt turn): the *last* gpt
turn is the response and every turn before it, rendered `System: …` / `User: …` /
`Assistant: …` and joined by blank lines, is the instruction (no input); later turns are ignored.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow.parquet as pq
import torch

from workflow_lib.core.jsonio import DataError
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.core.threads import set_threads
from workflow_lib.data.formats import prompt_fields
from workflow_lib.data.records import read_pool
from workflow_lib.models.identity import model_fingerprint, model_identity
from workflow_lib.models.loading import load_causal_lm
from workflow_lib.scoring.iterit_ifd import ifd_from_losses, span_pairs
from workflow_lib.scoring.presets import Preset, preset
from workflow_lib.scoring.shards import fingerprint, score_shard, shard_range
from workflow_lib.scoring.token_losses import DEFAULT_MAX_PADDING, SpanItem, span_mean_losses

Mode = Literal["exact", "fast"]

REASONS = {
    "empty_response": "the response is empty",
    "prompt_too_long": "the prompt fills max_length: no response token is left to score",
    "direct_empty": "the direct pass scores no token (e.g. a one-token response without BOS)",
    "length_check": "cherry: prompt tokens + scored direct tokens > max_length (data_by_IFD.py)",
    "nonfinite": "a loss, perplexity or ratio is not finite, or the direct loss is 0",
    "chat_span": "iterit: the output is not found in the rendered chat, or its span is empty",
}

ROLE_LABELS = {"system": "System", "human": "User", "gpt": "Assistant"}


def ifd_fields(record: dict) -> tuple[str, str, str]:
    """`(instruction, input, response)` to score; multi-turn records as the module describes."""
    turns = record["conversations"]
    if [t["from"] for t in turns] == ["human", "gpt"]:
        return prompt_fields(record)
    last = max((i for i, t in enumerate(turns) if t["from"] == "gpt"), default=None)
    if last is None:
        raise DataError("has no gpt turn to score", record_id=record["id"], field="conversations")
    context = "\n\n".join(f"{ROLE_LABELS[t['from']]}: {t['value']}" for t in turns[:last])
    return context, "", turns[last]["value"]


@dataclass(frozen=True)
class Prepared:
    """The two scored spans of a record, or why it cannot be scored."""

    direct: SpanItem | None
    cond: SpanItem | None
    reason: str | None


def _encode(tokenizer, text: str, max_length: int | None = None) -> list[int]:
    """`tokenizer.encode(text, truncation=True, max_length=...)` as the references call it."""
    if max_length is None:
        return tokenizer.encode(text, verbose=False)
    return tokenizer.encode(text, truncation=True, max_length=max_length, verbose=False)


def _span(tokenizer, text: str, response: str, max_length: int) -> SpanItem:
    """Truncated ids of `text` and the span from the untruncated prefix before `response`."""
    ids = _encode(tokenizer, text, max_length)
    start = len(_encode(tokenizer, text[: text.rfind(response)]))
    return SpanItem(ids, max(start, 1), len(ids))


def prepare(record: dict, tokenizer, p: Preset) -> Prepared:
    """Tokenize a record exactly as the preset's reference does."""
    instruction, input_, response = ifd_fields(record)
    template = p.prompt_input if input_ else p.prompt_no_input
    prompt = template.format(instruction=instruction, input=input_)
    n_prompt = len(_encode(tokenizer, prompt, p.max_length))
    direct_max = p.max_length - n_prompt + p.direct_max_offset
    if p.cherry_length_checks:
        return _prepare_cherry(tokenizer, p, prompt, response, n_prompt, direct_max)
    if response == "":
        return Prepared(None, None, "empty_response")
    cond = _span(tokenizer, prompt + response, response, p.max_length)
    if cond.n_scored == 0:
        return Prepared(None, None, "prompt_too_long")
    # HF `labels=ids`: every token but the first is scored (the first is BOS, if any).
    ids = _encode(tokenizer, p.direct_prefix + response, direct_max)
    direct = SpanItem(ids, 1, len(ids))
    if direct.n_scored == 0:
        return Prepared(None, None, "direct_empty")
    return Prepared(direct, cond, None)


def prepare_all(records: Sequence[dict], tokenizer, p: Preset) -> list[Prepared]:
    """`prepare` of each record; a chat preset's spans from `iterit_ifd.span_pairs`."""
    if not p.chat:
        return [prepare(r, tokenizer, p) for r in records]
    return [Prepared(None, None, "chat_span") if pair is None else Prepared(pair[1], pair[0], None)
            for pair in span_pairs(tokenizer, records, p.max_length)]


def _prepare_cherry(
    tokenizer, p: Preset, prompt: str, response: str, n_prompt: int, direct_max: int
) -> Prepared:
    """data_by_IFD.py's skips, in its order, on data_analysis.py's truncations."""
    if p.max_length - n_prompt <= 0:
        return Prepared(None, None, "prompt_too_long")
    if response == "":  # both spans are empty
        return Prepared(None, None, "empty_response")
    direct = _span(tokenizer, p.direct_prefix + response, response, direct_max)
    cond = _span(tokenizer, prompt + response, response, p.max_length)
    if cond.n_scored == 0:
        return Prepared(None, None, "prompt_too_long")
    if direct.n_scored == 0:
        return Prepared(None, None, "direct_empty")
    if n_prompt + direct.n_scored > p.max_length:
        return Prepared(None, None, "length_check")
    return Prepared(direct, cond, None)


def _row(record_id: str, prep: Prepared, losses: tuple[float, float] | None, p: Preset) -> dict:
    """One result row; scores are None whenever `reason` is set."""
    row = {"id": record_id, "loss_direct": None, "loss_cond": None, "ppl_direct": None,
           "ppl_cond": None, "ifd": None, "n_tokens": 0, "n_response": 0, "reason": prep.reason}
    if prep.reason is not None:
        return row
    row["n_tokens"] = prep.direct.end + prep.cond.end
    row["n_response"] = prep.cond.n_scored
    loss_d, loss_c = losses
    try:
        ppl_d, ppl_c = math.exp(loss_d), math.exp(loss_c)
        if p.ratio == "ppl_zero_prior":
            ifd = ifd_from_losses(loss_c, loss_d)
        else:
            ifd = ppl_c / ppl_d if p.ratio == "ppl" else loss_c / loss_d
    except (OverflowError, ZeroDivisionError):
        ifd = math.nan
    if not all(math.isfinite(x) for x in (loss_d, loss_c, ifd)):
        row["reason"] = "nonfinite"
        return row
    row.update(loss_direct=loss_d, loss_cond=loss_c, ppl_direct=ppl_d, ppl_cond=ppl_c, ifd=ifd)
    return row


def score_records(
    records: Sequence[dict],
    model,
    tokenizer,
    p: Preset,
    *,
    mode: Mode = "fast",
    batch_size: int = 16,
    max_tokens_per_batch: int | None = None,
    max_padding: float | None = DEFAULT_MAX_PADDING,
    device: str | torch.device = "cpu",
    desc: str | None = None,
) -> list[dict]:
    """IFD rows (`id, loss_direct, loss_cond, ppl_direct, ppl_cond, ifd, n_tokens, n_response,
    reason`) of `records`, in order. `exact`: one sequence at a time with full logits, the
    references' computation; `fast`: both passes of all records in length-bucketed batches
    (`token_losses`, at most a `max_padding` share of each batch padding). `n_tokens` counts
    the tokens of both passes, `n_response` the scored response tokens of the conditioned pass."""
    if mode not in ("exact", "fast"):
        raise ValueError(f"mode must be 'exact' or 'fast', got {mode!r}")
    prepared = prepare_all(records, tokenizer, p)
    items = [item for prep in prepared if prep.reason is None for item in (prep.direct, prep.cond)]
    # Padding is never attended to by real tokens (right padding, causal), so any id works.
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if mode == "exact":
        losses = span_mean_losses(model, items, batch_size=1, pad_token_id=pad, device=device,
                                  desc=desc, head_only=False)
    else:
        losses = span_mean_losses(model, items, batch_size=batch_size, pad_token_id=pad,
                                  device=device, max_tokens_per_batch=max_tokens_per_batch,
                                  max_padding=max_padding, desc=desc)
    pairs = iter(zip(losses[::2], losses[1::2], strict=True))
    return [
        _row(r["id"], prep, next(pairs) if prep.reason is None else None, p)
        for r, prep in zip(records, prepared, strict=True)
    ]


def score_pool_shard(
    pool_path: str,
    out_path: str,
    shard: str,
    model_dir: str,
    scorer: dict,
    *,
    device: str = "cpu",
    threads: int | None = None,
) -> list[dict]:
    """Score shard `shard` ('k-of-N') of a pool file with a scorer config (`model`, `preset`,
    `max_length`, `mode`, `dtype`, `batch_size`, `max_tokens_per_batch`, `max_padding`,
    `chunk_size`), resuming from the shard's progress file (`score_shards.score_shard`)."""
    set_threads(threads)
    records = list(read_pool(pool_path))
    part = [records[i] for i in shard_range(len(records), shard)]
    p = preset(scorer["preset"], scorer.get("max_length"))
    key = fingerprint(pool=file_sha256(pool_path), shard=shard, scorer=scorer, rules=p.reference,
                      model=model_fingerprint(model_dir))
    loaded: list = []  # the model is loaded only when something is left to score

    def score(positions: range) -> list[dict]:
        if not loaded:
            loaded.extend(load_causal_lm(model_dir, dtype=scorer["dtype"], device=device))
        model, tokenizer = loaded
        return score_records(
            part[positions.start : positions.stop], model, tokenizer, p, mode=scorer["mode"],
            batch_size=scorer["batch_size"], max_tokens_per_batch=scorer["max_tokens_per_batch"],
            max_padding=scorer["max_padding"],
            device=device, desc=f"IFD {shard} records {positions.start}-{positions.stop}",
        )

    return score_shard([r["id"] for r in part], score, out_path, key, scorer["chunk_size"])


def write_scores_manifest(path: str, *, scores_path: str, pool_path: str, model_dir: str,
                          scorer: dict) -> dict:
    """Write the manifest of a pool's gathered IFD scores (`shards.gather_scores`): the
    scorer's settings, the scoring model's identity, how many records were scored and how many
    each reason (REASONS) left unscored; returns what was written."""
    reasons = Counter(pq.read_table(scores_path, columns=["reason"])["reason"].to_pylist())
    n_records = sum(reasons.values())
    n_scored = reasons.pop(None, 0)
    return write_manifest(path, inputs={"pool": pool_path, "scores": scores_path},
                          scorer=scorer, model=model_identity(model_dir), n_records=n_records,
                          n_scored=n_scored, n_unscored=dict(sorted(reasons.items())))
