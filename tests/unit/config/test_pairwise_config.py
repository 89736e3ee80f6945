"""eval.pairwise: which runs are judged against which reference run, the shared judge schema,
and the configuration errors (a reference run missing from the grid, an unknown method, a pair
named twice)."""

import pytest
import yaml

from tests.support import ROOT, load_config
from workflow_lib.config.grid import Pair, pairwise_pairs, runs
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError
from workflow_lib.evaluate.registry import EVALUATORS


def tiny_config() -> dict:
    """The tiny config without its BPC corpus (defined by the tests that use it)."""
    config = load_config("tiny")
    config["eval"]["bpc"]["corpora"] = []
    return config


def tiny(pairs: list[dict], **pairwise) -> dict:
    """The tiny config with `full` in the grid and pairwise judging on."""
    config = tiny_config()
    config["experiments"][0]["methods"] = ["full", "random", "longest"]
    config["eval"]["pairwise"] = {"enabled": True, "pairs": pairs, **pairwise}
    return validate_config(config)


def test_demo_config_judges_the_ifd_selections_against_random():
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert pairwise_pairs(config) == [
        Pair(f"demo-{m}-60-smollm2-135m", "demo-random-60-smollm2-135m", "random")
        for m in ("superfiltering", "cherry")]
    judged = EVALUATORS["pairwise"].evaluated_runs(config, runs(config))
    assert judged == ["demo-superfiltering-60-smollm2-135m", "demo-cherry-60-smollm2-135m"]
    assert config["eval"]["pairwise"]["judge"]["max_tokens"] == 1024  # not MT-bench's 2048
    assert config["eval"]["mtbench"]["judge"]["max_tokens"] == 2048


def test_reference_run_is_at_the_same_budget_unless_the_method_ignores_it():
    config = tiny([{"reference": "full"}, {"reference": "random", "methods": ["longest"]},
                   {"reference": "base", "methods": ["random"]}])
    assert pairwise_pairs(config) == [
        Pair("demo-random-10-tiny", "demo-full-all-tiny", "full"),
        Pair("demo-longest-10-tiny", "demo-full-all-tiny", "full"),
        Pair("demo-longest-10-tiny", "demo-random-10-tiny", "random"),
        Pair("demo-random-10-tiny", "base-tiny", "base")]


def test_pairwise_judging_off_judges_nothing():
    config = validate_config(tiny_config())
    assert pairwise_pairs(config) == []
    assert not EVALUATORS["pairwise"].enabled(config)


@pytest.mark.parametrize(("pairs", "judge", "expected"), [
    ([{"reference": "random"}], {},
     "eval.pairwise.pairs: run 'demo-full-all-tiny' has no reference run "
     "'demo-random-all-tiny' in the experiment grid"),
    ([{"reference": "random", "methods": ["longest", "zip"]}], {},
     "eval.pairwise.pairs.0.methods.1: 'zip' is not defined in methods"),
    ([{"reference": "nope"}], {}, "eval.pairwise.pairs.0.reference: 'nope' is not defined"),
    ([{"reference": "full", "methods": ["longest"]}] * 2, {},
     "eval.pairwise.pairs: demo-longest-10-tiny against demo-full-all-tiny is named twice"),
    ([], {}, "eval.pairwise.pairs: no run to judge"),
    ([{"reference": "full"}], {"n": 3}, "eval.pairwise.judge: unknown key 'n' (allowed: "),
    ([{"reference": "full"}], {"kind": "openai"},
     "eval.pairwise.judge.base_url: required with kind openai"),
    ([{"reference": "full"}], {"api_key_env": "sk-abc"},
     "eval.pairwise.judge.api_key_env: must be the NAME of an environment variable"),
])
def test_pairwise_config_errors_name_the_setting(pairs, judge, expected):
    with pytest.raises(ConfigError) as err:
        tiny(pairs, judge=judge)
    assert expected in str(err.value)
    assert "sk-abc" not in str(err.value)


def test_only_the_overall_winning_score_reaches_the_paper_table():
    pairwise = EVALUATORS["pairwise"]
    assert pairwise.in_paper("pairwise_vs_full", "winning_score")
    assert not pairwise.in_paper("pairwise_vs_full/vicuna", "winning_score")
    assert not pairwise.in_paper("pairwise_vs_full", "win")
    assert EVALUATORS["mtbench"].in_paper("mt_bench", "score")
    assert not EVALUATORS["mtbench"].in_paper("mt_bench_math", "score")
    assert EVALUATORS["lmeval"].in_paper("anything", "acc")
