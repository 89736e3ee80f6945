"""The registry of selection kinds: every entry resolves, the config schema and checks derive
from it, and rule `select`'s one adapter selects with any file kind."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.support import ROOT
from workflow_lib.config.grid import selections
from workflow_lib.config.validate import load_schema, validate_config
from workflow_lib.core.errors import ConfigError
from workflow_lib.core.jsonio import DataError, write_jsonl
from workflow_lib.data.demo_pool import generate_pool
from workflow_lib.select.budget import Budget, Rounding
from workflow_lib.select.registry import KINDS, SelectionKind, register, selection_kind
from workflow_lib.select.run import run_selection

BUDGET_RULES = {
    "full": Rounding.ROUND, "random": Rounding.ROUND, "longest": Rounding.ROUND,
    "zip": Rounding.ROUND, "superfiltering": Rounding.TRUNCATE, "cherry": Rounding.TRUNCATE,
    "superfiltering_d": Rounding.TRUNCATE, "iterit": Rounding.FLOOR,
}


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_resolves_to_its_function(name):
    kind = KINDS[name]
    assert kind.name == name and callable(kind.load())
    assert kind.version >= 1 and kind.rule in ("select", "train_iterit")


def test_the_schema_enum_is_the_registry():
    method = load_schema()["$defs"]["method"]
    assert method["properties"]["kind"]["enum"] == list(KINDS)
    assert [block["if"]["properties"]["kind"]["const"] for block in method["allOf"]] == list(KINDS)


def test_budget_rules_per_kind():
    assert {name: kind.rounding for name, kind in KINDS.items()} == BUDGET_RULES
    assert [name for name, kind in KINDS.items() if kind.during_training] == ["iterit"]
    assert [name for name, kind in KINDS.items() if kind.ignores_budget] == ["full"]
    assert {name: kind.scorer_preset for name, kind in KINDS.items() if kind.scorer_preset} == {
        "superfiltering": "superfiltering", "cherry": "cherry",
        "superfiltering_d": "superfiltering"}


def test_a_kind_allows_its_own_parameters_and_a_scorer_only_if_it_reads_one():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["methods"]["zip"] = {"kind": "zip"}
    validate_config(config)
    assert config["methods"]["zip"] == {"kind": "zip", "mode": "reference", "k1": 10000,
                                        "k2": 200, "k3": 100, "workers": 2}
    config["methods"]["zip"]["scorer"] = "smollm2-superfiltering"
    with pytest.raises(ConfigError, match=r"methods\.zip: unknown key 'scorer'"):
        validate_config(config)
    assert KINDS["cherry"].schema()["required"] == ["scorer"]


def test_the_registry_imports_neither_torch_nor_numpy():
    """The Snakefile reads it (through config) while it builds the DAG."""
    code = ("import sys, workflow_lib.config.validate, workflow_lib.select.registry; "
            "print(sorted({'torch', 'numpy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_and_repeated_kinds():
    with pytest.raises(ConfigError, match="unknown selection kind 'zipp'"):
        selection_kind("zipp")
    with pytest.raises(ValueError, match="registered twice"):
        register(SelectionKind(name="zip", function="m:f", description="", rounding=Rounding.ROUND))


def test_the_grid_follows_the_registry():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["experiments"][0]["methods"].append("full")
    validate_config(config)
    cells = {(c.method, c.budget): c.during_training for c in selections(config)}
    assert cells[("full", "all")] is False and cells[("zip", "60")] is False
    assert cells[("iterit", "30")] is True


def test_run_selection_validates_the_pool_and_records_the_kind_version(tmp_path):
    pool = tmp_path / "pool.jsonl"
    records = generate_pool(n=40, seed=0)
    write_jsonl(pool, records)
    out = {"data_path": tmp_path / "data.jsonl", "manifest_path": tmp_path / "manifest.json"}
    method = {"kind": "longest", "length": "words"}
    run_selection(pool_path=pool, pool="p", method_name="long", method=method,
                  budget=Budget.parse("0.25"), **out)
    manifest = json.loads(out["manifest_path"].read_text())
    data = [json.loads(line) for line in out["data_path"].read_text().splitlines()]
    assert manifest["method"] == "long" and manifest["params"] == method
    assert manifest["method_version"] == KINDS["longest"].version and manifest["budget"] == 0.25
    assert len(data) == 10 and manifest["selected_ids"] == [r["id"] for r in data]
    write_jsonl(pool, [*records, {**records[0], "id": "x", "extra": 1}])
    with pytest.raises(DataError, match="unexpected field"):
        run_selection(pool_path=pool, pool="p", method_name="long", method=method,
                      budget=Budget(10), **out)
