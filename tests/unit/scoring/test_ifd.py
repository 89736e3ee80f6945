"""IFD scores equal a brute-force port of each reference procedure (tiny GPT-2 and Llama models);
Cherry's length rules hold on both sides of every boundary; fast mode ranks like exact mode; bad
records are reported with reasons."""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from workflow_lib.core.jsonio import DataError
from workflow_lib.data.prompts import ALPACA_INPUT, ALPACA_NO_INPUT
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.report.rank_stats import spearman, top_overlap
from workflow_lib.scoring.ifd import ifd_fields, score_records
from workflow_lib.scoring.presets import PRESETS, preset

WORDS = ("the", "of", "and", "to", "in", "is", "you", "that", "it", "was", "for", "on", "as")
# Superfiltering's own max_length is 1024 and Cherry's 512; smaller values make truncation and
# the length checks happen on short test records.
MAX_LENGTH = {"superfiltering": 24, "cherry": 72}
TEMPLATE_DOCS = [t.format(instruction="the of and", input="to in")
                 for t in (ALPACA_NO_INPUT, ALPACA_INPUT)] * 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", params=[("gpt2", False), ("llama", True)], ids=["gpt2", "llama"])
def arch(request):
    """A tiny GPT-2 (no BOS, like GPT-2) and a tiny Llama-style model (BOS, like LLaMA)."""
    return request.param


def tiny_lm(folder, arch, texts):
    name, bos = arch
    path = build_tiny_model(folder, texts, name, init_std=0.3, add_bos=bos)
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def lm(arch, tmp_path_factory):
    """Trained on word salad: the Alpaca template costs about one token per byte."""
    return tiny_lm(tmp_path_factory.mktemp("lm"), arch, synthetic_texts())


@pytest.fixture(scope="module")
def alpaca_lm(arch, tmp_path_factory):
    """Trained on the Alpaca templates too: the Cherry cue "### Response:" is 3 tokens, as
    SmolLM2's (GPT-2, no BOS), or BOS + 3, as LLaMA's (Llama)."""
    return tiny_lm(tmp_path_factory.mktemp("alpaca-lm"), arch, synthetic_texts() + TEMPLATE_DOCS)


@pytest.fixture(scope="module")
def scorers(lm, alpaca_lm):
    """The model each preset is tested with."""
    return {"superfiltering": lm, "cherry": alpaca_lm}


def record(rid, instruction, output, input_=""):
    human = f"{instruction}\n\n{input_}" if input_ else instruction
    return {"id": rid, "source": "test", "meta": {"input_len": len(input_)} if input_ else {},
            "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": output}]}


def words(rng, lo, hi):
    return " ".join(rng.choices(WORDS, k=rng.randint(lo, hi)))


def random_records(n, seed=0):
    rng = random.Random(seed)
    return [record(f"r{i}", words(rng, 1, 12), words(rng, 1, 30),
                   words(rng, 1, 6) if rng.random() < 0.4 else "") for i in range(n)]


# --- brute-force ports of the reference procedures (docs/methods.md §2.1, §2.2) -----------------

def reference_superfiltering(model, tok, instruction, input_, output, max_length):
    """code_ifd/data_analysis.py + put_analysis_to_data.py, one record, batch size 1."""
    prompt = f"{instruction}\n{input_}\n" if input_ != "" else f"{instruction}\n"
    whole = prompt + output
    n_prompt = len(tok.encode(prompt, truncation=True, max_length=max_length))
    ids = torch.tensor([tok.encode(output, truncation=True, max_length=max_length - n_prompt + 1)])
    with torch.no_grad():
        loss_d = model(ids, labels=ids.contiguous()).loss
        ids = torch.tensor([tok.encode(whole, truncation=True, max_length=max_length)])
        start = len(tok.encode(whole[: whole.rfind(output)]))
        labels = ids.clone()
        labels[0, :start] = -100
        loss_c = model(ids, labels=labels).loss
    ppl_d, ppl_c = torch.exp(loss_d).item(), torch.exp(loss_c).item()
    return ppl_c / ppl_d


def token_loss_list(model, tok, text, max_length):
    """Cherry's get_perplexity_and_embedding_part_text: per-token loop over the full sequence."""
    ids = torch.tensor([tok.encode(text, truncation=True, max_length=max_length)])
    with torch.no_grad():
        logits = model(ids).logits
    return [F.nll_loss(F.log_softmax(logits[0, i - 1], dim=-1)[None], ids[0, i][None]).item()
            for i in range(1, ids.shape[1])]


def reference_cherry(model, tok, instruction, input_, output, max_length):
    """Cherry_LLM @ 01fac8d for one record: cherry_seletion/data_analysis.py --mod cherry --prompt
    alpaca stores the token losses, data_by_IFD.py slices them and skips records. Returns the IFD,
    or the reason the project reports where data_by_IFD.py skips the record (`continue`)."""
    template = ALPACA_INPUT if input_ else ALPACA_NO_INPUT
    prompt = template.format(instruction=instruction, input=input_)
    whole, direct = prompt + output, "### Response:" + output
    # data_analysis.py
    n_prompt = len(tok.encode(prompt, truncation=True, max_length=max_length))
    losses_1 = token_loss_list(model, tok, direct, max_length - n_prompt + 4)
    losses_2 = token_loss_list(model, tok, whole, max_length)

    # data_by_IFD.py (its instruct_i_len is the prompt's length, n_prompt)
    def part(text, max_len, losses):
        ids = tok.encode(text, truncation=True, max_length=max_len)
        start = len(tok.encode(text[: text.rfind(output)]))
        return len(ids) - start, np.array(losses[start - 1 : len(ids) - 1])

    if not max_length - n_prompt > 0:
        return "prompt_too_long"
    len_1, loss_1 = part(direct, max_length - n_prompt + 4, losses_1)
    len_2, loss_2 = part(whole, max_length, losses_2)
    if len_1 <= 0 or len_2 <= 0:
        if output == "":
            return "empty_response"
        return "prompt_too_long" if len_2 <= 0 else "direct_empty"
    if n_prompt + len_1 > max_length:
        return "length_check"
    return loss_2.mean() / loss_1.mean()


REFERENCES = {"superfiltering": reference_superfiltering, "cherry": reference_cherry}


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
@pytest.mark.parametrize("name", ["superfiltering", "cherry"])
def test_exact_mode_equals_the_reference(scorers, name):
    model, tok = scorers[name]
    records = random_records(16, seed=1)
    rows = score_records(records, model, tok, preset(name, MAX_LENGTH[name]), mode="exact")
    n_scored = 0
    for rec, row in zip(records, rows, strict=True):
        expected = REFERENCES[name](model, tok, *ifd_fields(rec), MAX_LENGTH[name])
        if isinstance(expected, str):
            assert (row["reason"], row["ifd"]) == (expected, None)
        elif math.isnan(expected):
            assert row["reason"] is not None and row["ifd"] is None
        else:
            assert row["reason"] is None
            assert row["ifd"] == pytest.approx(expected, rel=1e-5)
            n_scored += 1
    assert n_scored >= 8  # most records are scored, so the comparison is not vacuous


@pytest.mark.parametrize("input_", ["", "to in"])
def test_cherry_length_rules_on_both_sides_of_every_boundary(alpaca_lm, input_):
    """One record at every max_length from one below the prompt's length to past the whole
    record: the prompt check (`max_length - L_p > 0`), the direct truncation (`max_length - L_p +
    4`), the conditioned truncation and the length check (`L_p + len_1 > max_length`) each fall
    between two consecutive max_lengths, and every row equals the reference's."""
    model, tok = alpaca_lm
    rec = record("b", "the of and", "to in is you that it was for on as the", input_)
    instruction, inp, output = ifd_fields(rec)
    prompt = (ALPACA_INPUT if inp else ALPACA_NO_INPUT).format(instruction=instruction, input=inp)
    n_prompt = len(tok.encode(prompt))
    n_response = len(tok.encode(prompt + output)) - n_prompt
    n_cue = len(tok.encode("### Response:"))
    assert n_cue == (4 if tok.encode("x")[0] == tok.bos_token_id else 3)
    ifds = []
    for max_length in range(n_prompt - 1, n_prompt + n_response + 3):
        [row] = score_records([rec], model, tok, preset("cherry", max_length), mode="exact")
        expected = reference_cherry(model, tok, instruction, inp, output, max_length)
        room = max_length - n_prompt  # response tokens that fit in the conditioned pass
        if room <= 0:
            assert expected == "prompt_too_long"
        elif n_cue < 4 and n_response > room:  # a truncated response: len_1 > room
            assert expected == "length_check"
        else:
            assert isinstance(expected, float)
            ifds.append(expected)
        if isinstance(expected, str):
            assert (row["reason"], row["ifd"]) == (expected, None)
        else:
            assert row["reason"] is None
            assert row["ifd"] == pytest.approx(expected, rel=1e-5)
            assert row["n_response"] == min(n_response, room)
    # a cue of 4 tokens: scored at every truncation, each one scoring another IFD; of 3: only
    # the untruncated response is scored
    assert len(ifds) == (n_response + 2 if n_cue == 4 else 3)
    assert len(set(ifds)) == (n_response if n_cue == 4 else 1)


def test_fast_mode_ranks_like_exact_mode(scorers):
    records = random_records(60, seed=2)
    for name, (model, tok) in scorers.items():
        p = preset(name, MAX_LENGTH[name])
        exact = score_records(records, model, tok, p, mode="exact")
        for max_padding in (None, 0.1):  # heavily padded batches, and the default
            fast = score_records(records, model, tok, p, mode="fast", batch_size=8,
                                 max_tokens_per_batch=1024, max_padding=max_padding)
            assert [r["reason"] for r in fast] == [r["reason"] for r in exact]
            pairs = [(e["ifd"], f["ifd"]) for e, f in zip(exact, fast, strict=True) if e["ifd"]]
            a, b = zip(*pairs, strict=True)
            assert spearman(a, b) >= 0.999
            assert top_overlap(a, b, 0.1) == 1.0
            assert b == pytest.approx(a, rel=1e-4)


def test_bad_records_have_reasons(scorers):
    long_prompt = " ".join(["the of and to in"] * 40)
    records = [
        record("ok", "the of and", "to in is you that"),
        record("empty", "the of and", ""),
        record("long", long_prompt, "to in is"),
        record("one", "the of and", "to"),
    ]
    for name, (model, tok) in scorers.items():
        rows = score_records(records, model, tok, preset(name, MAX_LENGTH[name]), mode="fast")
        reasons = {r["id"]: r["reason"] for r in rows}
        assert reasons["ok"] is None
        assert reasons["empty"] == "empty_response"
        assert reasons["long"] == "prompt_too_long"
        for row in rows:
            if row["reason"]:
                assert row["ifd"] is None and row["loss_direct"] is None
    model, tok = scorers["superfiltering"]
    rows = score_records(records, model, tok, preset("superfiltering", 48), mode="exact")
    has_bos = tok.encode("x")[0] == tok.bos_token_id
    one = next(r for r in rows if r["id"] == "one")
    # a one-token response without BOS: the direct pass scores nothing (the reference: NaN)
    assert one["reason"] == (None if has_bos else "direct_empty")


def test_multi_turn_scores_the_last_response_given_the_conversation():
    rec = {"id": "m", "source": "t", "meta": {}, "conversations": [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello."},
        {"from": "human", "value": "Name a colour."},
        {"from": "gpt", "value": "Blue."},
        {"from": "human", "value": "Thanks"},
    ]}
    assert ifd_fields(rec) == (
        "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Name a colour.", "", "Blue.")
    assert ifd_fields(record("s", "Do it", "Done", "now")) == ("Do it", "now", "Done")
    with pytest.raises(DataError, match="no gpt turn"):
        ifd_fields({"id": "x", "source": "t", "meta": {},
                    "conversations": [{"from": "human", "value": "Hi"}]})


def test_bf16_scores_close_to_fp32(lm):
    model, tok = lm
    records = random_records(12, seed=3)
    fp32 = score_records(records, model, tok, PRESETS["superfiltering"], mode="fast")
    bf16 = score_records(records, model.to(torch.bfloat16), tok, PRESETS["superfiltering"],
                         mode="fast")
    model.to(torch.float32)
    a = [r["ifd"] for r in fp32 if r["ifd"] is not None]
    b = [r["ifd"] for r in bf16 if r["ifd"] is not None]
    assert b == pytest.approx(a, rel=0.05)
    assert b != pytest.approx(a, rel=1e-6)  # bf16 really ran


def test_rank_stats():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert top_overlap([5, 4, 3, 2, 1, 0, 0, 0, 0, 0], [5, 0, 3, 2, 1, 0, 0, 0, 0, 4], 0.2) == 0.5
