"""Adding a selection method takes one module and one registry entry (docs/adding-a-method.md):
in a copy of the repository, a toy kind `every_nth` is added that way alone, and the schema,
the wildcard constraints, rule `select` and its adapter script all take it up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support import TINY_CONFIG, copy_repository, planned_jobs, snakemake_in, write_config
from workflow_lib.data.demo_pool import generate_pool

MODULE = '''"""Every n-th record of the pool, in pool order (a toy kind)."""

from workflow_lib.select.request import Selected, SelectionRequest


def every_nth_selection(request: SelectionRequest) -> Selected:
    """Records 0, step, 2·step, ... up to the budget."""
    every = range(0, len(request.records), request.params["step"])
    return Selected(list(every)[: request.count()])
'''
ENTRY = '''
register(SelectionKind(
    name="every_nth",
    function="workflow_lib.select.every_nth:every_nth_selection",
    description="Every n-th record of the pool, in pool order.",
    rounding=Rounding.ROUND,
    params={"step": {"type": "integer", "minimum": 1, "default": 2,
                     "description": "Take every step-th record."}},
))
'''
CELL = "results/selections/demo/nth/10"


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A copy of the repository with the toy kind added: its module and its registry entry."""
    root = tmp_path_factory.mktemp("add_method") / "sieve"
    copy_repository(root)
    (root / "workflow_lib/select/every_nth.py").write_text(MODULE)
    with open(root / "workflow_lib/select/registry.py", "a") as registry:
        registry.write(ENTRY)
    return root


def toy_config(**method) -> dict:
    config = json.loads(json.dumps(TINY_CONFIG))
    config["methods"] = {"nth": {"kind": "every_nth", **method}}
    config["experiments"] = [{"pools": ["demo"], "methods": ["nth"], "budgets": [10]}]
    config["eval"]["bpc"]["corpora"] = []
    return config


def test_the_schema_takes_the_new_kinds_parameters(clone, tmp_path):
    write_config(tmp_path, toy_config(stp=3))
    proc = snakemake_in(clone, tmp_path, "-n")
    assert proc.returncode != 0
    assert ("methods.nth: unknown key 'stp' (allowed: description, kind, step)"
            in proc.stdout + proc.stderr)


@pytest.mark.slow
def test_a_kind_added_through_the_registry_alone_selects_through_snakemake(clone, tmp_path):
    write_config(tmp_path, toy_config(step=3))
    plan = snakemake_in(clone, tmp_path, "-n", "select_all")
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = planned_jobs(plan)
    assert jobs["select"] == 1 and jobs["convert_pool"] == 1, jobs

    run = snakemake_in(clone, tmp_path, f"{CELL}/data.jsonl", f"{CELL}/manifest.json")
    assert run.returncode == 0, run.stderr[-3000:]
    pool = generate_pool(n=60, seed=0)
    data = [json.loads(line) for line in (tmp_path / CELL / "data.jsonl").open()]
    assert data == pool[::3][:10]
    manifest = json.loads((tmp_path / CELL / "manifest.json").read_text())
    assert manifest["method"] == "nth" and manifest["params"] == {"kind": "every_nth", "step": 3}
    assert manifest["method_version"] == 1 and manifest["budget"] == 10
    assert manifest["selected_ids"] == [r["id"] for r in data]
    assert (tmp_path / "logs/select/demo/nth/10.log").is_file()


@pytest.mark.slow
def test_a_new_kind_appears_in_every_view_of_the_selection_report(clone, tmp_path):
    """docs/adding-a-method.md: the table, the overlap, the rank agreement (the kind's pick
    order, the registry's default `ranks_by`) and the distributions, beside the baselines."""
    config = toy_config(step=3)
    config["methods"].update(random={"kind": "random"}, longest={"kind": "longest"})
    config["experiments"][0]["methods"] = ["nth", "random", "longest"]
    write_config(tmp_path, config)
    run = snakemake_in(clone, tmp_path, "selection_report")
    assert run.returncode == 0, run.stderr[-3000:]
    table = (tmp_path / "results/tables/selections.csv").read_text()
    assert "demo,nth,10," in table
    log = (tmp_path / "logs/selection_plots/demo.log").read_text()
    assert "3 selections" in log
    assert re.search(r"orderings: response chars \(\d+\), nth pick order \(10\) \(10\)", log), log
