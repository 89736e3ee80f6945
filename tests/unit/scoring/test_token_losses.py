"""Span mean losses equal a brute-force per-token loop and do not depend on batching or padding."""

import math
import random

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.scoring.token_losses import SpanItem, plan_batches, span_mean_losses

PAD = 3  # <|pad|> in tiny_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def model(request, tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp(request.param), synthetic_texts(),
                            request.param, init_std=0.3)
    return AutoModelForCausalLM.from_pretrained(path).eval()


def brute_force(model, item):
    """One forward pass of the whole sequence, then log_softmax and NLL token by token."""
    with torch.no_grad():
        logits = model(torch.tensor([item.input_ids])).logits[0]
    losses = [
        -F.log_softmax(logits[t - 1].float(), dim=-1)[item.input_ids[t]].item()
        for t in range(item.start, item.end)
    ]
    return sum(losses) / len(losses) if losses else math.nan


def random_items(n, seed=0, vocab=250):
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        length = rng.randint(2, 40)
        ids = [rng.randrange(4, vocab) for _ in range(length)]
        start = rng.randint(1, length - 1)
        end = rng.randint(start + 1, length)
        items.append(SpanItem(ids, start, end))
    return items


@pytest.mark.parametrize("head_only", [True, False])
def test_batch_one_equals_brute_force(model, head_only):
    items = random_items(12)
    got = span_mean_losses(model, items, batch_size=1, pad_token_id=PAD, head_only=head_only)
    for item, value in zip(items, got, strict=True):
        assert value == pytest.approx(brute_force(model, item), rel=1e-5)


@pytest.mark.parametrize("head_only", [True, False])
def test_the_model_sees_the_whole_sequence_as_in_the_references(model, head_only):
    """Batch size 1 feeds each sequence up to its span's end, the last scored token included."""
    seen = []
    hook = model.get_input_embeddings().register_forward_pre_hook(
        lambda _, args: seen.append(args[0].tolist()))
    items = [SpanItem([11, 12, 13], 2, 3), SpanItem(list(range(20, 30)), 1, 10)]
    try:
        span_mean_losses(model, items, batch_size=1, pad_token_id=PAD, head_only=head_only)
    finally:
        hook.remove()
    assert sorted(seen) == sorted([item.input_ids] for item in items)


def test_equals_hf_loss_with_masked_labels(model):
    item = SpanItem(list(range(10, 30)), 7, 20)
    ids = torch.tensor([item.input_ids])
    labels = ids.clone()
    labels[0, : item.start] = -100
    with torch.no_grad():
        expected = model(ids, labels=labels).loss.item()
    [got] = span_mean_losses(model, [item], batch_size=1, pad_token_id=PAD)
    assert got == pytest.approx(expected, rel=1e-6)


def test_padded_batches_agree_with_single_sequences(model):
    items = random_items(30, seed=1)
    alone = span_mean_losses(model, items, batch_size=1, pad_token_id=PAD)
    for batch_size, max_tokens, max_padding in [(8, None, None), (30, 200, None), (4, 64, None),
                                                (30, None, 0.1)]:
        batched = span_mean_losses(model, items, batch_size=batch_size, pad_token_id=PAD,
                                   max_tokens_per_batch=max_tokens, max_padding=max_padding)
        assert batched == pytest.approx(alone, abs=1e-5)


def test_padding_id_does_not_matter(model):
    items = random_items(10, seed=2)
    a = span_mean_losses(model, items, batch_size=10, pad_token_id=PAD, max_padding=None)
    b = span_mean_losses(model, items, batch_size=10, pad_token_id=7, max_padding=None)
    assert a == pytest.approx(b, abs=1e-5)


def test_empty_span_is_nan_and_order_is_kept(model):
    items = [SpanItem([5, 6, 7, 8], 4, 4), *random_items(3, seed=3), SpanItem([9, 9], 1, 1)]
    got = span_mean_losses(model, items, batch_size=4, pad_token_id=PAD)
    assert math.isnan(got[0]) and math.isnan(got[-1])
    expected = [brute_force(model, item) for item in items[1:4]]
    assert got[1:4] == pytest.approx(expected, rel=1e-5)


def test_tokens_after_the_span_do_not_count(model):
    ids = list(range(20, 40))
    short = SpanItem(ids[:12], 3, 12)
    longer = SpanItem(ids, 3, 12)
    a, b = span_mean_losses(model, [short, longer], batch_size=2, pad_token_id=PAD)
    assert a == pytest.approx(b, abs=1e-6)


def test_a_repeated_computation_runs_once(model):
    """Items with the same span and tokens up to its end (the rest may differ) share one forward
    row; every item still gets its loss, in input order."""
    base = random_items(4, seed=5)
    tail = SpanItem([*base[2].input_ids[: base[2].end], 7, 8], base[2].start, base[2].end)
    items = [base[0], base[1], base[0], base[2], tail, base[3], base[1]]
    rows = []
    hook = model.register_forward_pre_hook(
        lambda _m, _args, kwargs: rows.append(len(kwargs["input_ids"])), with_kwargs=True)
    try:
        got = span_mean_losses(model, items, batch_size=1, pad_token_id=PAD, head_only=False)
    finally:
        hook.remove()
    assert sum(rows) == 4
    assert got[0] == got[2] and got[1] == got[6] and got[3] == got[4]
    assert got == pytest.approx([brute_force(model, item) for item in items], rel=1e-5)


def test_span_must_fit():
    with pytest.raises(ValueError, match="does not fit"):
        SpanItem([1, 2, 3], 0, 2)
    with pytest.raises(ValueError, match="does not fit"):
        SpanItem([1, 2, 3], 1, 4)


def test_plan_batches():
    lengths = [5, 50, 10, 40, 7, 60]
    assert plan_batches(lengths, 2) == [[5, 1], [3, 2], [4, 0]]
    # 2 × 60 > 100: the longest item alone; 2 × 50 fits; 3 × 40 does not
    assert plan_batches(lengths, 8, 100) == [[5], [1, 3], [2, 4, 0]]
    assert sorted(i for b in plan_batches(lengths, 3, 10) for i in b) == list(range(6))
    # at most 20% padding: 60+50+40 of 3 × 60 (17%) fits, adding 10 (160 of 240) does not
    assert plan_batches(lengths, 8, None, 0.2) == [[5, 1, 3], [2, 4], [0]]
    assert plan_batches(lengths, 8, None, 0.0) == [[5], [1], [3], [2], [4], [0]]
    with pytest.raises(ValueError):
        plan_batches(lengths, 0)
    with pytest.raises(ValueError, match="max_padding"):
        plan_batches(lengths, 2, None, 1.0)
