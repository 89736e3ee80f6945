"""eval.inference reaches the rules: the evaluation jobs' params carry device, dtype and device
map (unchanged on the CPU demo), and their `gpu` resource is eval.inference.gpus on a GPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import ROOT

EVAL_RULES = ("lmeval", "bpc", "mtbench_answers")

# Loads the workflow through Snakemake's API in a child process and prints, for the evaluation
# rules, their params and their gpu resource.
PROBE = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

root, workdir, config = map(Path, sys.argv[1:4])
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=root / "Snakefile",
                            config_settings=ConfigSettings(configfiles=[config]),
                            workdir=workdir)._workflow
    rules = {rule.name: {"params": dict(rule.params.items()),
                         "gpu": rule.resources["gpu"].value}
             for rule in workflow.rules if rule.name in sys.argv[4:]}
print("RULES=" + json.dumps(rules))
"""


def eval_rules(tmp_path: Path, config: dict) -> dict[str, dict]:
    tmp_path.mkdir()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), str(tmp_path),
                           str(tmp_path / "config.yaml"), *EVAL_RULES],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RULES=")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line.removeprefix("RULES="))


def settings_of(rules: dict[str, dict]) -> dict[str, dict]:
    """Each evaluation rule's inference settings, as its job receives them."""
    return {"lmeval": rules["lmeval"]["params"]["inference"],
            "bpc": {k: rules["bpc"]["params"]["settings"][k]
                    for k in ("device", "dtype", "device_map")},
            "mtbench_answers": {k: rules["mtbench_answers"]["params"]["generation"][k]
                                for k in ("device", "dtype", "device_map")}}


def test_eval_jobs_get_the_inference_settings_and_gpus(tmp_path):
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    on_cpu = eval_rules(tmp_path / "cpu", demo)
    cpu = {"device": "cpu", "dtype": "float32", "device_map": None}
    assert settings_of(on_cpu) == dict.fromkeys(EVAL_RULES, cpu)
    assert {rule["gpu"] for rule in on_cpu.values()} == {0}
    assert on_cpu["lmeval"]["params"]["batch_size"] == demo["eval"]["lmeval"]["batch_size"]

    big = {**demo, "train": {**demo["train"], "device": "gpu"},
           "eval": {**demo["eval"], "inference": {"device_map": "auto", "gpus": 4},
                    "bpc": {**demo["eval"]["bpc"], "dtype": "float32"}}}
    on_gpu = eval_rules(tmp_path / "gpu", big)
    gpu = {"device": "cuda", "dtype": "bfloat16", "device_map": "auto"}
    assert settings_of(on_gpu) == {**dict.fromkeys(EVAL_RULES, gpu),
                                   "bpc": {**gpu, "dtype": "float32"}}
    assert {rule["gpu"] for rule in on_gpu.values()} == {4}
