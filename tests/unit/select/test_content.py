"""Selections depend on content, not names: one raw file converted under two pool names gives the
same selection for every kind that selects from a file (docs/methods.md §1.1)."""

import json
import random

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from workflow_lib.data.formats import DEFAULT_SOURCE, convert_file
from workflow_lib.data.records import read_pool
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.scoring.ifd import score_records
from workflow_lib.scoring.presets import preset
from workflow_lib.select.budget import Budget
from workflow_lib.select.registry import KINDS
from workflow_lib.select.request import SelectionRequest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ("a", "my_long_pool_name")
FILE_KINDS = [name for name, kind in KINDS.items() if not kind.during_training]
PARAMS = {"zip": {"k1": 40, "k2": 10, "k3": 5}}  # the pool has 48 records
WORDS = ["the", "a", "cat", "dog", "runs", "fast", "slow", "data", "model", "line", "quote",
         "table", "river", "stone"]


def raw_pool(n: int = 48) -> list[dict]:
    """Alpaca records without id or source: conversion generates `{pool}-{i}` ids."""
    rng = random.Random(3)

    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    return [{"instruction": text(2, 12), "input": text(0, 4) if i % 3 else "",
             "output": text(1, 40)} for i in range(n)]


@pytest.fixture(scope="module")
def pools(tmp_path_factory) -> dict[str, list[dict]]:
    """The raw file converted as rule convert_pool converts it for each pool name."""
    folder = tmp_path_factory.mktemp("pools")
    src = folder / "raw.json"
    src.write_text(json.dumps(raw_pool()))
    out = {}
    for name in NAMES:
        convert_file(src, folder / f"{name}.jsonl", id_prefix=name, default_source=DEFAULT_SOURCE)
        out[name] = list(read_pool(folder / f"{name}.jsonl"))
    assert out[NAMES[0]][0]["id"] != out[NAMES[1]][0]["id"]  # the ids do differ
    return out


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("lm"), synthetic_texts(), "gpt2",
                            init_std=0.3, add_bos=False)
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def select(kind_name: str, records: list[dict], lm) -> list[int]:
    """The kind's selection of 12 records, with its default parameters (IFD kinds: scores of
    the tiny model, computed from each pool's own records)."""
    kind = KINDS[kind_name]
    params = {"kind": kind_name, **{k: p["default"] for k, p in kind.params.items()
                                    if "default" in p}, **PARAMS.get(kind_name, {})}
    scores = scorer = None
    if kind.scorer_preset is not None:
        scorer = {"preset": kind.scorer_preset, "max_length": 256}
        scores = score_records(records, *lm, preset(kind.scorer_preset, 256))
    request = SelectionRequest(records, Budget(12), kind.rounding, params, scores=scores,
                               scorer=scorer)
    return kind.load()(request).indices


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_same_records_under_another_pool_name_give_the_same_selection(pools, lm, kind):
    selections = [select(kind, pools[name], lm) for name in NAMES]
    assert selections[0], f"{kind} selected nothing: the test would prove nothing"
    assert selections[0] == selections[1]
