"""Sliding-window BPC equals a literal port of the reference's stateful loop (tiny real models)."""

import json
import math
import random
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.scoring.bpc import (
    BpcPartial,
    SlidingWindows,
    bpc_partial,
    combine_partials,
    finish_bpc,
    shard_windows,
    sliding_window_bpc,
    tokenize_corpus,
)
from workflow_lib.scoring.nll import head_only_is_exact

REL = 1e-6
TEXTS = synthetic_texts()
MODELS = [("llama", False), ("gpt2", False), ("llama", True)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="session")
def lms(tmp_path_factory):
    """(model, tokenizer) keyed by (arch, add_bos); init_std 0.3 makes losses context-sensitive."""
    root = tmp_path_factory.mktemp("bpc-models")
    out = {}
    for arch, bos in MODELS:
        path = build_tiny_model(root / f"{arch}-{bos}", TEXTS, arch, init_std=0.3, add_bos=bos)
        out[arch, bos] = (
            AutoModelForCausalLM.from_pretrained(path).eval(),
            AutoTokenizer.from_pretrained(path),
        )
    return out


def reference_bpc(model, tokenizer, texts, block_size, stride):
    """Literal port of the reference loop (docs/methods.md §4.2): stateful windows, full
    logits, masked CE sum."""
    docs = [t for t in texts if len(t) > 0]
    total_chars = sum(len(t) for t in docs)
    ids = [i for t in docs for i in tokenizer.encode(t)]
    width = block_size + 1
    n_win = math.floor((len(ids) - width) / stride + 1)
    prev_end, total = 0, 0.0
    for k in range(n_win):
        begin = k * stride
        end = min(begin + width, len(ids))
        trg = end - prev_end
        window = ids[begin:end]
        mask = [False] * (width - trg) + [True] * trg
        prev_end = end
        x, y, m = torch.tensor([window[:-1]]), torch.tensor(window[1:]), mask[1:]
        y = torch.where(torch.tensor(m), y, -1)
        with torch.no_grad():
            logits = model(x).logits[0].float()
        total += F.cross_entropy(logits, y, ignore_index=-1, reduction="sum").item()
    return total / (total_chars * math.log(2))


_reference_cache = {}


def cached_reference(lms, key, block_size, stride):
    if (key, block_size, stride) not in _reference_cache:
        model, tok = lms[key]
        _reference_cache[key, block_size, stride] = reference_bpc(
            model, tok, TEXTS, block_size, stride
        )
    return _reference_cache[key, block_size, stride]


COMBOS = [(31, 8), (16, 16), (20, 7)]


@pytest.mark.parametrize("key", MODELS)
@pytest.mark.parametrize(("block_size", "stride"), COMBOS)
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_equals_reference(lms, key, block_size, stride, batch_size):
    model, tok = lms[key]
    result = sliding_window_bpc(model, tok, TEXTS, block_size, stride, batch_size, progress=False)
    expected = cached_reference(lms, key, block_size, stride)
    assert result.bpc == pytest.approx(expected, rel=REL)
    assert result.n_unscored_tail + result.n_scored_tokens + 1 == result.n_tokens


def test_reference_is_context_sensitive(lms):
    """Guard: the tolerance is far below the effect of scoring with other contexts."""
    a = cached_reference(lms, ("llama", False), 31, 8)
    b = cached_reference(lms, ("llama", False), 16, 16)
    assert abs(a - b) / a > 1000 * REL


@pytest.mark.parametrize("key", MODELS[:2])
def test_shuffled_and_sharded_windows(lms, key):
    model, tok = lms[key]
    corpus = tokenize_corpus(tok, TEXTS)
    plan = SlidingWindows.plan(len(corpus.ids), 31, 8)
    order = list(range(plan.n_windows))
    random.Random(1).shuffle(order)
    shards = [
        bpc_partial(
            model,
            corpus.ids,
            [order[k] for k in shard_windows(len(order), i, 3)],
            block_size=31,
            stride=8,
            batch_size=4,
        )
        for i in range(3)
    ]
    shards = [BpcPartial(**json.loads(json.dumps(asdict(p)))) for p in shards]  # as cluster jobs
    result = finish_bpc(corpus, combine_partials(reversed(shards)), plan)
    assert result.bpc == pytest.approx(cached_reference(lms, key, 31, 8), rel=REL)
    assert result.n_scored_tokens == plan.n_scored_tokens


def test_shards_must_cover_each_window_once(lms):
    model, tok = lms["gpt2", False]
    corpus = tokenize_corpus(tok, TEXTS)
    plan = SlidingWindows.plan(len(corpus.ids), 31, 8)
    part = bpc_partial(model, corpus.ids, range(3), block_size=31, stride=8)
    with pytest.raises(ValueError, match="overlap"):
        combine_partials([part, part])
    with pytest.raises(ValueError, match="missing"):
        finish_bpc(corpus, part, plan)
    with pytest.raises(ValueError, match="duplicates"):
        bpc_partial(model, corpus.ids, [1, 1], block_size=31, stride=8)


def test_stateless_windows_match_reference_indexing():
    n_tokens, block_size, stride = 100, 20, 7
    plan = SlidingWindows.plan(n_tokens, block_size, stride)
    width = block_size + 1
    assert plan.n_windows == math.floor((n_tokens - width) / stride + 1)
    prev_end, scored = 0, []
    for k in range(plan.n_windows):  # the reference's stateful mask, position by position
        begin, end, first = plan.span(k)
        mask = [False] * (width - (end - prev_end)) + [True] * (end - prev_end)
        reference = [begin + j for j in range(1, width) if mask[j]]
        assert list(range(begin + 1 + first, end)) == reference
        scored += reference
        prev_end = end
    assert scored == list(range(1, len(scored) + 1)) and len(scored) == plan.n_scored_tokens
    assert plan.n_unscored_tail == n_tokens - width - (plan.n_windows - 1) * stride
    with pytest.raises(IndexError):
        plan.span(plan.n_windows)


@pytest.mark.parametrize("key", MODELS)
def test_head_only_equals_full_logits(lms, key):
    model, tok = lms[key]
    assert head_only_is_exact(model)
    fast, full = (
        sliding_window_bpc(model, tok, TEXTS, 20, 7, 3, head_only=h, progress=False)
        for h in (True, False)
    )
    assert fast.bpc == pytest.approx(full.bpc, rel=REL)


def test_falls_back_to_full_logits_when_head_is_not_exact(lms):
    """A model that post-processes logits (like Gemma-2's soft-capping) is detected."""
    model, tok = lms["llama", False]

    def scale_logits(module, args, output):
        output.logits = output.logits * 0.5
        return output

    handle = model.register_forward_hook(scale_logits)
    try:
        assert not head_only_is_exact(model)
        with pytest.warns(UserWarning, match="full logits"):
            result = sliding_window_bpc(model, tok, TEXTS, 16, 16, progress=False)
        expected = reference_bpc(model, tok, TEXTS, 16, 16)
    finally:
        handle.remove()
    assert result.bpc == pytest.approx(expected, rel=REL)


def test_short_corpus(lms):
    model, tok = lms["llama", False]
    texts = TEXTS[:2]
    n_tokens = len(tokenize_corpus(tok, texts).ids)
    assert math.floor((n_tokens - 1901) / 512 + 1) <= 0  # where the reference crashes
    with pytest.raises(ValueError, match="fewer than one window"):
        sliding_window_bpc(model, tok, texts, progress=False)
    result = sliding_window_bpc(model, tok, texts, short_corpus="single_window", progress=False)
    # One window over the whole corpus: every target but the first token, scored once.
    assert (result.n_windows, result.n_scored_tokens, result.n_unscored_tail) == (
        1,
        n_tokens - 1,
        0,
    )
    exact_window = reference_bpc(model, tok, texts, n_tokens - 1, 512)
    assert result.bpc == pytest.approx(exact_window, rel=REL)
    with pytest.raises(ValueError, match="nothing to score"):
        sliding_window_bpc(model, tok, ["", ""], progress=False)


def test_exactly_one_window(lms):
    model, tok = lms["gpt2", False]
    n_tokens = len(tokenize_corpus(tok, TEXTS).ids)
    result = sliding_window_bpc(model, tok, TEXTS, n_tokens - 1, 64, progress=False)
    assert (result.n_windows, result.n_scored_tokens, result.n_unscored_tail) == (
        1,
        n_tokens - 1,
        0,
    )
    assert result.bpc == pytest.approx(reference_bpc(model, tok, TEXTS, n_tokens - 1, 64), rel=REL)


def test_unscored_tail_characters_still_count(lms):
    model, tok = lms["gpt2", False]
    n_tokens = len(tokenize_corpus(tok, TEXTS).ids)
    block, stride = 40, 30
    result = sliding_window_bpc(model, tok, TEXTS, block, stride, progress=False)
    n_win = (n_tokens - block - 1) // stride + 1
    assert result.n_unscored_tail == n_tokens - block - 1 - (n_win - 1) * stride > 0
    assert result.n_chars == sum(len(t) for t in TEXTS)
    assert result.bpc == pytest.approx(reference_bpc(model, tok, TEXTS, block, stride), rel=REL)


def test_bos_of_later_documents_are_scored_targets(lms):
    model, tok = lms["llama", True]
    corpus = tokenize_corpus(tok, TEXTS)
    assert [int(corpus.ids[p]) for p in corpus.doc_starts] == [tok.bos_token_id] * len(TEXTS)
    result = sliding_window_bpc(model, tok, TEXTS, 20, 7, progress=False)
    last_scored = result.n_tokens - 1 - result.n_unscored_tail
    assert result.n_scored_bos == sum(0 < p <= last_scored for p in corpus.doc_starts) > 0
    assert result.n_scored_bos >= len(TEXTS) - 2
    plain = sliding_window_bpc(*lms["llama", False], TEXTS, 20, 7, progress=False)
    assert plain.n_scored_bos == 0


def test_empty_documents_are_ignored(lms):
    model, tok = lms["llama", True]
    with_empty = ["", *TEXTS[:10], "", "", *TEXTS[10:], ""]
    a = sliding_window_bpc(model, tok, TEXTS, 16, 16, progress=False)
    b = sliding_window_bpc(model, tok, with_empty, 16, 16, progress=False)
    assert (b.n_empty_docs, b.n_docs) == (4, len(TEXTS))
    assert (b.bpc, b.n_tokens, b.n_chars) == (a.bpc, a.n_tokens, a.n_chars)


def test_characters_are_code_points(lms):
    _, tok = lms["llama", False]
    texts = ["naïve 世界 🙂", "ab"]
    corpus = tokenize_corpus(tok, texts)
    assert corpus.n_chars == 10 + 2
    assert corpus.n_chars < sum(len(t.encode()) for t in texts)


@pytest.mark.parametrize("key", [("llama", True), ("gpt2", False)])
def test_batched_tokenization_equals_per_document_encode(lms, key):
    _, tok = lms[key]
    corpus = tokenize_corpus(tok, TEXTS, chunk_size=5)
    assert corpus.ids.tolist() == [i for t in TEXTS for i in tok.encode(t)]


def test_restores_training_mode(lms):
    model, tok = lms["gpt2", False]  # GPT-2 has dropout: train mode would change the result
    expected = sliding_window_bpc(model, tok, TEXTS, 16, 16, progress=False).bpc
    model.train()
    try:
        assert sliding_window_bpc(model, tok, TEXTS, 16, 16, progress=False).bpc == expected
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize(("block_size", "stride"), [(16, 17), (16, 0), (0, 1)])
def test_rejects_bad_window_geometry(block_size, stride):
    with pytest.raises(ValueError, match="stride"):
        SlidingWindows.plan(100, block_size, stride)
