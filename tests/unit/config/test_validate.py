"""Config validation: defaults, unknown keys named by path, cross-references, grid expansion."""

import copy

import pytest
import yaml

from tests.support import ROOT
from workflow_lib.config.grid import Selection, runs, selections
from workflow_lib.config.validate import load_schema, validate_config
from workflow_lib.core.errors import ConfigError


@pytest.fixture
def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_demo_config_is_valid_and_defaults_are_filled(demo_config):
    validate_config(demo_config)
    assert demo_config["pools"]["demo"]["format"] is None
    assert demo_config["pools"]["demo"]["limit"] is None
    assert demo_config["corpora"]["stdlib_code"]["subset"] is None
    assert demo_config["train"]["lora"] == {"r": 16, "alpha": 32, "dropout": 0.05}


# configs/rehearsal.yaml is an overlay given after a recipe (tests/unit/config/test_rehearsal.py).
RECIPES = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p.name != "rehearsal.yaml")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_configs_are_valid(path):
    validate_config(yaml.safe_load(path.read_text()))


def test_hf_source_defaults_are_filled(demo_config):
    demo_config["pools"]["alpaca"] = {
        "source": {"kind": "huggingface", "repo": "tatsu-lab/alpaca", "revision": "main"}}
    validate_config(demo_config)
    assert demo_config["pools"]["alpaca"]["source"]["split"] == "train"
    assert demo_config["pools"]["alpaca"]["source"]["retries"] == 3


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda c: c.update(bogus=1), "<top level>: unknown key 'bogus'"),
    (lambda c: c["methods"]["random"].update(sed=1), "methods.random: unknown key 'sed'"),
    (lambda c: c["models"]["smollm2-135m"]["source"].update(dtyp="x"),
     "models.smollm2-135m.source: unknown key 'dtyp'"),
    (lambda c: c["pools"]["demo"]["source"].update(n="many"), "pools.demo.source.n:"),
    (lambda c: c["methods"].update(zipp={"kind": "zipp"}), "methods.zipp.kind:"),
    (lambda c: c["experiments"][0].update(budgets=[0]), "experiments.0.budgets.0:"),
    (lambda c: c["experiments"][0].update(budgets=[1.5]), "experiments.0.budgets.0:"),
    (lambda c: c["pools"].update({"a/b": c["pools"]["demo"]}), "pools:"),
    (lambda c: c["experiments"][0].update(methods=["nope"]),
     "experiments.0.methods: 'nope' is not defined in methods"),
    (lambda c: c["experiments"][0].update(base_models=["gpt9"]),
     "experiments.0.base_models: 'gpt9' is not defined in models"),
    (lambda c: c["eval"]["bpc"].update(corpora=["cc"]),
     "eval.bpc.corpora.0: 'cc' is not defined in corpora"),
    (lambda c: c["corpora"]["demo_heldout_text"]["source"].update(pool="nope"),
     "corpora.demo_heldout_text.source.pool: 'nope' is not a demo pool"),
    (lambda c: c["corpora"].update(metrics=c["corpora"]["stdlib_code"]),
     "corpora: 'metrics' is reserved"),
    (lambda c: c["experiments"][0].pop("budgets"),
     "experiments.0: pools, methods and budgets go together"),
    (lambda c: c["experiments"].append({"base_models": []}), "experiments.2: nothing to run"),
    (lambda c: c["eval"]["bpc"]["areas"]["code"].update(corpus="cc"),
     "eval.bpc.areas.code.corpus: 'cc' is not in eval.bpc.corpora (stdlib_code, "),
    (lambda c: c["eval"]["bpc"]["areas"]["code"].update(exclude=["base-gpt9"]),
     "eval.bpc.areas.code.exclude: 'base-gpt9' is not a run (runs: base-smollm2-135m, "),
    (lambda c: c["eval"]["bpc"]["areas"]["code"].update(paper="law"),
     "eval.bpc.areas.code.paper:"),
    (lambda c: c["eval"]["bpc"]["areas"].update(overall=c["eval"]["bpc"]["areas"]["code"]),
     "eval.bpc.areas: 'overall' is reserved"),
])
def test_invalid_configs_name_the_offending_key(demo_config, mutate, expected):
    mutate(demo_config)
    with pytest.raises(ConfigError) as err:
        validate_config(demo_config)
    assert expected in str(err.value)


def test_all_problems_are_reported_at_once(demo_config):
    demo_config["bogus"] = 1
    demo_config["methods"]["random"]["sed"] = 1
    with pytest.raises(ConfigError) as err:
        validate_config(demo_config)
    assert "bogus" in str(err.value) and "sed" in str(err.value)


def test_selections_expand_the_grid_once_per_cell(demo_config):
    validate_config(demo_config)
    demo_config["experiments"][0]["methods"] = ["full", "random", "longest"]
    demo_config["experiments"][0]["budgets"] = [120, 0.1]
    demo_config["experiments"][1:] = [copy.deepcopy(demo_config["experiments"][0])]
    cells = list(selections(demo_config))
    assert cells == [
        Selection("demo", "full", "all"),
        Selection("demo", "random", "120"), Selection("demo", "random", "0.1"),
        Selection("demo", "longest", "120"), Selection("demo", "longest", "0.1"),
    ]
    assert cells[1].path == "results/selections/demo/random/120"


def test_runs_name_base_models_and_fine_tunes(demo_config):
    validate_config(demo_config)
    demo_config["experiments"][0]["methods"] = ["full", "random", "longest"]
    del demo_config["experiments"][1:]
    names = [r.name for r in runs(demo_config)]
    assert names == ["base-smollm2-135m", "demo-full-all-smollm2-135m",
                     "demo-random-60-smollm2-135m", "demo-longest-60-smollm2-135m"]
    fine_tune = runs(demo_config)[2]
    assert fine_tune.selection == Selection("demo", "random", "60")
    assert fine_tune.model_dir == "results/models/demo-random-60-smollm2-135m"
    assert runs(demo_config)[0].model_dir == "resources/models/smollm2-135m"


def test_ambiguous_run_names_are_rejected(demo_config):
    demo_config["pools"]["demo-b"] = demo_config["pools"]["demo"]
    demo_config["methods"]["c"] = {"kind": "random"}
    demo_config["methods"]["b-c"] = {"kind": "random"}
    demo_config["experiments"] = [
        {"pools": ["demo-b"], "methods": ["c"], "budgets": [120], "base_models": ["smollm2-135m"]},
        {"pools": ["demo"], "methods": ["b-c"], "budgets": [120], "base_models": ["smollm2-135m"]},
    ]
    demo_config["eval"]["pairwise"]["enabled"] = False  # its pairs are found among the runs
    validate_config(demo_config)
    with pytest.raises(ConfigError, match="'demo-b-c-120-smollm2-135m' is ambiguous"):
        runs(demo_config)


SELECTION_ONLY = {
    "pools": {"mine": {"source": {"kind": "local", "path": "mine.json"}}},
    "methods": {"random": {"kind": "random"}, "zip": {"kind": "zip", "k1": 200}},
    "experiments": [{"pools": ["mine"], "methods": ["random", "zip"], "budgets": [20, 0.5]}],
}


def test_selection_only_config_needs_no_model():
    config = validate_config(copy.deepcopy(SELECTION_ONLY))
    assert config["models"] == {} and config["experiments"][0]["base_models"] == []
    assert runs(config) == []
    assert [c.path for c in selections(config)] == [
        "results/selections/mine/random/20", "results/selections/mine/random/0.5",
        "results/selections/mine/zip/20", "results/selections/mine/zip/0.5"]


@pytest.mark.parametrize(("method", "scorers", "expected"), [
    ({"kind": "iterit"}, {},
     "experiments.0.base_models: needed by it (selection during training)"),
    ({"kind": "superfiltering", "scorer": "sf"},
     {"sf": {"model": "gpt2", "preset": "superfiltering"}},
     "scorers.sf.model: 'gpt2' is not defined in models (defined: none); IFD scoring needs"),
    ({"kind": "cherry", "scorer": "c"}, {},
     "methods.it.scorer: 'c' is not defined in scorers (defined: none)"),
])
def test_selection_only_config_names_what_needs_a_model(method, scorers, expected):
    config = copy.deepcopy(SELECTION_ONLY)
    config["methods"]["it"] = method
    config["scorers"] = scorers
    config["experiments"][0]["methods"].append("it")
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert expected in str(err.value)


def test_evaluation_only_config_lists_base_models_alone():
    config = validate_config({
        "models": {"m": {"source": {"kind": "huggingface", "repo": "org/m", "revision": "main"}}},
        "experiments": [{"base_models": ["m"]}]})
    assert config["pools"] == {} and config["methods"] == {}
    assert [r.name for r in runs(config)] == ["base-m"] and list(selections(config)) == []


BUDGET = ('a budget: a count of records (an integer ≥ 1), a fraction of the pool (0 < x < 1) '
          'or "all"')


@pytest.mark.parametrize(("budget", "line"), [
    (0, f"experiments.0.budgets.0: 0 is not {BUDGET}"),
    (-5, f"experiments.0.budgets.0: -5 is not {BUDGET}"),
    (1.5, f"experiments.0.budgets.0: 1.5 is not {BUDGET}"),
    ("half", f"experiments.0.budgets.0: 'half' is not {BUDGET}"),
    (1.0, 'experiments.0.budgets.0: 1.0 is ambiguous: write 1 for one record or "all" for the '
          "whole pool (a fraction is below 1)"),
])
def test_each_bad_budget_is_one_line(demo_config, budget, line):
    demo_config["experiments"][0]["budgets"] = [budget]
    with pytest.raises(ConfigError) as err:
        validate_config(demo_config)
    assert str(err.value) == f"invalid configuration:\n  {line}"


def test_a_whole_float_budget_is_that_count(demo_config):
    demo_config["experiments"][0]["budgets"] = [100.0, 0.5, "all"]
    validate_config(demo_config)
    budgets = demo_config["experiments"][0]["budgets"]
    assert budgets == [100, 0.5, "all"] and isinstance(budgets[0], int)
    assert {cell.budget for cell in selections(demo_config)} >= {"100", "0.5"}


@pytest.mark.parametrize(("mutate", "line"), [
    (lambda c: c["eval"]["lmeval"].update(batch_size="big"),
     "eval.lmeval.batch_size: 'big' is not a batch size: an integer ≥ 1 or \"auto\""),
    (lambda c: c["methods"].update(sd={"kind": "superfiltering_d", "ifd_num": 1.5,
                                        "scorer": "smollm2-superfiltering"}),
     "methods.sd.ifd_num: 1.5 is not a count of records (an integer ≥ 1) or a fraction of the "
     "pool (0 < x < 1)"),
])
def test_a_value_of_none_of_the_forms_is_one_line(demo_config, mutate, line):
    mutate(demo_config)
    with pytest.raises(ConfigError) as err:
        validate_config(demo_config)
    assert str(err.value) == f"invalid configuration:\n  {line}"


def one_ofs(node: object, path: str = "") -> list[tuple[str, dict]]:
    """Every oneOf/anyOf schema in `node`, with where it is."""
    if isinstance(node, dict):
        found = [(path, node)] if "oneOf" in node or "anyOf" in node else []
        items = node.items()
    elif isinstance(node, list):
        found, items = [], enumerate(node)
    else:
        return []
    for key, value in items:
        found += one_ofs(value, f"{path}/{key}")
    return found


def test_every_one_of_has_a_title_for_its_one_line_message():
    schemas = one_ofs(load_schema())
    assert len(schemas) >= 3  # budget, lmeval's batch_size, superfiltering_d's ifd_num
    assert [path for path, schema in schemas if "title" not in schema] == []
