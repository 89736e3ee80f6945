"""Adding an evaluator takes one module, one registry entry and one rule file (with its adapter
script), docs/metrics-contract.md: in a copy of the repository, a toy evaluator `model_size` (the
bytes of a run's model folder) is added that way alone, and the config schema, the Snakefile's
includes, the metrics contract, metrics.csv and the paper table all take it up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import TINY_CONFIG, TOOLS_PYTHON, copy_repository, snakemake_in, write_config

MODULE = '''"""The bytes of a run's model folder (a toy evaluator)."""

from pathlib import Path

from workflow_lib.evaluate.metrics import MetricRow, RunMetrics

UNITS = {"bytes": 1, "kilobytes": 1000}


def model_size_metrics(run: str, model_dir: str, unit: str) -> RunMetrics:
    """One row: the size of every file in the folder, in `unit`; n = the files."""
    files = [p for p in Path(model_dir).rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files) / UNITS[unit]
    return RunMetrics(run, "model_size", [MetricRow("model_size", unit, size, None, len(files),
                                                    higher_is_better=False)])
'''
ENTRY = '''
register(Evaluator(
    name="model_size",
    schema={
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "description": "The size of every run's model folder.",
        "properties": {
            "enabled": {"type": "boolean", "default": False},
            "unit": {"enum": ["bytes", "kilobytes"], "default": "bytes"},
        },
    },
    enabled=lambda config: config["eval"]["model_size"]["enabled"],
    version=1,
    rules="rules/model_size.smk",
    settings={"unit": lambda config: config["eval"]["model_size"]["unit"]},
))
'''
RULES = '''"""The toy evaluator: the size of every run's model folder."""


rule model_size:
    input:
        model=run_model_dir,
    output:
        metrics=EVALUATORS["model_size"].metrics,
    log:
        paths.log("model_size/{run}"),
    params:
        version=EVALUATORS["model_size"].version,
        unit=EVALUATORS["model_size"].setting(config, "unit"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/model_size.py"
'''
SCRIPT = '''"""Rule model_size: a run's model folder size as its metrics.json."""

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.metrics import write_metrics
from workflow_lib.evaluate.model_size import model_size_metrics


def main(smk):
    metrics = model_size_metrics(smk.wildcards.run, smk.input.model, smk.params.unit)
    write_metrics(smk.output.metrics, metrics)


run_job(snakemake, main)
'''


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A copy of the repository with the toy evaluator added: its module, its registry entry,
    its rule file and the rule's script; nothing else is edited."""
    root = tmp_path_factory.mktemp("add_evaluator") / "sieve"
    copy_repository(root)
    (root / "workflow_lib/evaluate/model_size.py").write_text(MODULE)
    with open(root / "workflow_lib/evaluate/registry.py", "a") as registry:
        registry.write(ENTRY)
    (root / "rules/model_size.smk").write_text(RULES)
    (root / "scripts/model_size.py").write_text(SCRIPT)
    return root


def toy_config(**block) -> dict:
    """The tiny config's base model alone (no training), BPC off, the toy evaluator on."""
    config = json.loads(json.dumps(TINY_CONFIG))
    config["experiments"] = [{"base_models": ["tiny"]}]
    config["eval"]["bpc"]["corpora"] = []
    config["eval"]["model_size"] = {"enabled": True, **block}
    config["tools_python"] = str(TOOLS_PYTHON)  # lm-eval's (the copy has no .venv-tools)
    return config


def test_the_schema_takes_the_new_evaluators_block(clone, tmp_path):
    write_config(tmp_path, toy_config(units="bytes"))
    proc = snakemake_in(clone, tmp_path, "-n")
    assert proc.returncode != 0
    assert "eval.model_size: unknown key 'units' (allowed: enabled, unit)" \
        in proc.stdout + proc.stderr


def test_without_the_entry_the_block_is_unknown(tmp_path):
    """The block is the entry's: the repository itself rejects it."""
    from tests.support import snakemake

    write_config(tmp_path, toy_config())
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "eval: unknown key 'model_size'" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_an_evaluator_added_through_the_registry_reaches_the_paper_table(clone, tmp_path):
    write_config(tmp_path, toy_config(unit="kilobytes"))
    run = snakemake_in(clone, tmp_path, "tables")
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "results/eval/base-tiny/model_size/metrics.json")
                         .read_text())
    model = tmp_path / "resources/models/tiny"
    files = [p for p in model.rglob("*") if p.is_file()]
    assert metrics["evaluator"] == "model_size"
    [row] = metrics["metrics"]
    assert row["metric"] == "kilobytes" and row["n"] == len(files)
    assert row["value"] == pytest.approx(sum(p.stat().st_size for p in files) / 1000)
    table = (tmp_path / "results/tables/main.md").read_text()
    assert "model_size (kilobytes) ↓" in table
    assert (tmp_path / "logs/model_size/base-tiny.log").is_file()
