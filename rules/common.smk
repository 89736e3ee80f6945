"""Helpers shared by the rules: wildcard constraints, input functions, grid expansion."""

import os
import re
import sys

from workflow_lib.config.grid import (
    method_kind,
    methods_of_kind,
    pairwise_pairs,
    pools_of_kind,
    selections,
)
from workflow_lib.scoring.presets import PRESETS
from workflow_lib.evaluate.judge.runner import TRANSPORT_KEYS
from workflow_lib.evaluate.registry import EVALUATORS, enabled_evaluators
from workflow_lib.evaluate.inference import eval_device as _eval_device
from workflow_lib.evaluate.inference import eval_gpus, inference_settings
from workflow_lib.evaluate.pairwise.testsets import TESTSETS


def _alternatives(names):
    """Regex matching exactly one of the given names (never matches when the list is empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def check_local_sources():
    """Stop when the file of a local pool or corpus is missing but what was made from it
    exists: Snakemake does not check the inputs of a job whose outputs exist, so a path changed
    to a missing file would silently keep the old pool."""
    made_from = {
        "pools": "results/pools/{}.jsonl",
        "corpora": "resources/corpora/{}.jsonl",
    }
    for section, product in made_from.items():
        for name, entry in config[section].items():
            source = entry["source"]
            if source["kind"] != "local" or os.path.exists(source["path"]):
                continue
            if os.path.exists(product.format(name)):
                sys.exit(
                    f"ERROR: {section}.{name}.source.path: {source['path']} does not exist "
                    f"({product.format(name)} was made from an earlier file; correct the "
                    "path or restore the file)"
                )


check_local_sources()
# A relative interpreter path is the workflow's own (.venv-tools next to the Snakefile); a bare
# command such as `python` is looked up on PATH (conda environments). Scripts read it from the
# config, not from params: where the interpreter lives must not make jobs rerun.
if os.sep in config["tools_python"]:
    config["tools_python"] = os.path.join(workflow.basedir, config["tools_python"])
LMEVAL = config["eval"]["lmeval"]
MTBENCH = config["eval"]["mtbench"]
PAIRWISE = config["eval"]["pairwise"]
PAIRS = pairwise_pairs(config)
# Fine-tunes on a selection file (rule train), and IterIT runs that select while training.
FINETUNE_RUNS = {
    name: run
    for name, run in RUNS.items()
    if run.selection is not None and not run.selection.during_training
}
ITERIT_RUNS = {
    name: run
    for name, run in RUNS.items()
    if run.selection is not None and run.selection.during_training
}


wildcard_constraints:
    pool=_alternatives(config["pools"]),
    model=_alternatives(config["models"]),
    method=_alternatives(config["methods"]),
    corpus=_alternatives(config["corpora"]),
    budget=r"all|\d+|0\.\d+",
    run=_alternatives(RUNS),
    reference=_alternatives(RUNS),
    scorer=_alternatives(config["scorers"]),
    scatteritem=r"\d+-of-\d+",


def pool_source(wildcards):
    """The `source` block of a pool."""
    return config["pools"][wildcards.pool]["source"]


def pool_format(wildcards):
    """Record format of a pool (None: detected from the first record)."""
    if pool_source(wildcards)["kind"] == "demo":
        return "canonical"
    return config["pools"][wildcards.pool]["format"]


def pool_source_name(wildcards):
    """`source` given to records that have none."""
    return config["pools"][wildcards.pool].get("source_name", wildcards.pool)


def pool_skip_incomplete(wildcards):
    """Whether records without a human or gpt turn are skipped rather than fatal."""
    return config["pools"][wildcards.pool]["skip_incomplete"]


def pool_limit(wildcards):
    """Number of leading records to keep (None: all)."""
    return config["pools"][wildcards.pool]["limit"]


def raw_pool(wildcards):
    """Where a pool's raw records come from: a local file, or the download/generation output."""
    source = pool_source(wildcards)
    if source["kind"] == "local":
        return source["path"]
    return f"resources/pools/{wildcards.pool}.raw.jsonl"


def model_source(wildcards):
    """The `source` block of a model."""
    return config["models"][wildcards.model]["source"]


def model_inputs(wildcards):
    """Files a model preparation needs: the tiny model's tokenizer corpus, nothing otherwise."""
    source = model_source(wildcards)
    if source["kind"] == "tiny":
        return {"pool": f"results/pools/{source['tokenizer_pool']}.jsonl"}
    return {}


def corpus_config(wildcards):
    """A corpus's configuration block."""
    return config["corpora"][wildcards.corpus]


def corpus_inputs(wildcards):
    """The file a corpus is read from (hub and stdlib corpora have none)."""
    source = corpus_config(wildcards)["source"]
    if source["kind"] == "local":
        return {"raw": source["path"]}
    if source["kind"] == "demo_heldout":
        return {"raw": f"resources/eval/{source['pool']}/heldout.jsonl"}
    return {}


def model_config(wildcards):
    """A model's configuration block."""
    return config["models"][wildcards.model]


def method_params(wildcards):
    """A method's configuration (kind and parameters); changing it reruns its selections."""
    return config["methods"][wildcards.method]


def selection_kind_of(wildcards):
    """The registry entry of a selection job's method kind."""
    return method_kind(config, wildcards.method)


def file_methods():
    """Methods whose kind selects from a file (rule select), not during training."""
    return [m for m in config["methods"] if not method_kind(config, m).during_training]


def selection_inputs(wildcards):
    """A selection's pool, and the gathered IFD scores when its kind reads a scorer's."""
    files = {"pool": f"results/pools/{wildcards.pool}.jsonl"}
    if selection_kind_of(wildcards).scorer_preset is not None:
        scorer = method_params(wildcards)["scorer"]
        files["scores"] = f"results/scores/{wildcards.pool}/{scorer}.parquet"
    return files


def selection_device(wildcards):
    """Torch device of a selection whose kind runs a model (None otherwise: no reruns when
    train.device changes)."""
    return eval_device() if selection_kind_of(wildcards).uses_device else None


def selection_threads(wildcards):
    """Threads of a selection job: its kind's."""
    return selection_kind_of(wildcards).threads


def selection_mem_mb(wildcards):
    """Memory (MB) of a selection job: its kind's."""
    return selection_kind_of(wildcards).mem_mb


def selection_runtime(wildcards):
    """Runtime (minutes) of a selection job: its kind's."""
    return selection_kind_of(wildcards).runtime


def file_selections():
    """Selection cells of the grid that are files (not chosen during training)."""
    return [cell for cell in selections(config) if not cell.during_training]


def selection_outputs(cells):
    """data.jsonl and manifest.json of each selection cell."""
    return [
        f"{c.path}/{name}" for c in cells for name in ("data.jsonl", "manifest.json")
    ]


def train_inputs(wildcards):
    """A fine-tuning run's selection and its base model folder."""
    run = FINETUNE_RUNS[wildcards.run]
    return {
        "data": f"{run.selection.path}/data.jsonl",
        "base_model": f"resources/models/{run.base_model}",
    }


def iterit_train_inputs(wildcards):
    """An IterIT run's pool, base model folder and the shared epoch-0 scores."""
    run = ITERIT_RUNS[wildcards.run]
    pool = run.selection.pool
    return {
        "pool": f"results/pools/{pool}.jsonl",
        "base_model": f"resources/models/{run.base_model}",
        "initial_scores": f"results/scores/{pool}/iterit-{run.base_model}.parquet",
    }


def iterit_method(wildcards):
    """The configuration of an IterIT run's method; changing it reruns the run."""
    return config["methods"][ITERIT_RUNS[wildcards.run].selection.method]


def iterit_budget(wildcards):
    """An IterIT run's budget label (m, or a fraction of the pool)."""
    return ITERIT_RUNS[wildcards.run].selection.budget


def iterit_score_batch_size():
    """Batch size of the epoch-0 scoring: the largest of the IterIT methods' (8 if none)."""
    sizes = [
        config["methods"][m]["score_batch_size"]
        for m in methods_of_kind(config, "iterit")
    ]
    return max(sizes, default=8)


def gpus_per_job():
    """GPUs a training or evaluation job asks the scheduler for (train.device decides)."""
    return int(config["train"]["device"] == "gpu")


def train_resources():
    """What a training job asks the scheduler for beyond memory and time: a GPU per process
    of a node (train.device gpu); on several nodes, also the nodes, one task per node and
    `mpi` (the SLURM plugin then runs the job without wrapping it in an srun step, so that
    its own `srun` starts one launcher per node), with the GPUs per node as `gres`."""
    dist = config["train"]["distributed"]
    per_node = dist["gpus_per_node"] * gpus_per_job()
    if dist["nodes"] == 1:
        return {"gpu": per_node}
    resources = {
        "gpu": 0,
        "nodes": dist["nodes"],
        "tasks": dist["nodes"],
        "tasks_per_gpu": 0,  # no --ntasks-per-gpu (the plugin derives it from tasks otherwise)
        "mpi": "srun",
    }
    if per_node:
        resources["gres"] = f"gpu:{per_node}"
    return resources


def eval_device():
    """Torch device of evaluation jobs (train.device decides, as for training)."""
    return _eval_device(config)


def eval_gpus_per_job():
    """GPUs an evaluation job that runs a model asks for (eval.inference.gpus on a GPU)."""
    return eval_gpus(config)


def eval_inference(dtype=None):
    """Device, dtype and device map of an evaluation job (eval.inference; `dtype`: the
    evaluator's own setting, None - eval.inference.dtype)."""
    return inference_settings(config, dtype)


def run_model_dir(wildcards):
    """Model folder a run evaluates: its base model's, or its fine-tune's."""
    return RUNS[wildcards.run].model_dir


def bpc_settings():
    """What a BPC job computes with (eval.bpc without the corpus list, plus the device)."""
    bpc = config["eval"]["bpc"]
    return {
        **{key: bpc[key] for key in ("block_size", "stride", "batch_size")},
        **eval_inference(bpc["dtype"]),
    }


def bpc_results(wildcards):
    """A run's per-corpus BPC results, in the order of eval.bpc.corpora."""
    return expand(
        "results/eval/{run}/bpc/{corpus}.json",
        run=wildcards.run,
        corpus=config["eval"]["bpc"]["corpora"],
    )


def bpc_areas():
    """What the BPC plot and correlations.csv are drawn from: eval.bpc's corpora and areas."""
    return {key: config["eval"]["bpc"][key] for key in ("corpora", "areas")}


def eval_metrics_files():
    """metrics.json of every run for every evaluator the config enables (evaluate.registry)."""
    evaluated = {
        e: e.evaluated_runs(config, list(RUNS)) for e in enabled_evaluators(config)
    }
    return [
        e.metrics_file(run)
        for run in RUNS
        for e, runs in evaluated.items()
        if run in runs
    ]


def selection_manifests():
    """manifest.json of every selection file of the grid."""
    return [f"{cell.path}/manifest.json" for cell in file_selections()]


def lmeval_heldout_pools():
    """Demo pools whose held-out split becomes lm-eval tasks."""
    return pools_of_kind(config, "demo") if LMEVAL["heldout"] else []


def lmeval_task_inputs(wildcards):
    """Held-out files of the demo pools and the local benchmark files or folders."""
    files = {}
    for pool in lmeval_heldout_pools():
        files[f"heldout_{pool}"] = f"resources/eval/{pool}/heldout.jsonl"
        files[f"heldout_mc_{pool}"] = f"resources/eval/{pool}/heldout_mc.jsonl"
    for name, task in LMEVAL["local_tasks"].items():
        files[f"local_{name}"] = task["path"]
    return files


def lmeval_task_settings():
    """The lm-eval settings that shape the task folder (a change rebuilds it)."""
    return {key: LMEVAL[key] for key in ("local_tasks", "hub_tasks", "max_gen_toks")}


def mtbench_source_files(wildcards):
    """The local MT-bench files (a change redoes the copy); none for a download or the demo set."""
    folder = MTBENCH["local_data"]
    if folder is None or MTBENCH["questions"] == "demo":
        return {}
    names = {
        "questions": "question.jsonl",
        "references": "reference_answer/gpt-4.jsonl",
        "prompts": "judge_prompts.jsonl",
    }
    files = {key: os.path.join(folder, name) for key, name in names.items()}
    # Missing files are not inputs, so that the DAG (and dry runs) build on machines without
    # them; the job then fails naming the missing file and the download alternative.
    return {key: path for key, path in files.items() if os.path.isfile(path)}


def mtbench_generation():
    """What shapes a run's MT-bench answers (a change regenerates them)."""
    settings = ("per_category", "max_new_tokens", "batch_size", "seed")
    return {
        **{key: MTBENCH[key] for key in settings},
        **eval_inference(MTBENCH["dtype"]),
    }


def judge_settings(evaluator):
    """What shapes an evaluator's judgments: its judge settings without the transport ones
    (parallel, timeout, retries), which the job reads from the config; the API key stays in the
    environment."""
    judge = config["eval"][evaluator]["judge"]
    return {key: value for key, value in judge.items() if key not in TRANSPORT_KEYS}


def stand_in_judges():
    """The enabled evaluators judged by the local stand-in (their results are not quality
    judgments; the table and plots say so)."""
    return [
        e.name
        for e in enabled_evaluators(config)
        if config["eval"][e.name].get("judge", {}).get("kind") == "local"
    ]


PAIRWISE_SETS = [f"resources/pairwise/{s.file}" for s in TESTSETS.values()]


def pairwise_source_files(wildcards):
    """The local pairwise test set files (a change redoes the copy); none for a download or the
    demo set. Missing files are not inputs (the job names them), as for MT-bench."""
    folder = PAIRWISE["local_data"]
    if folder is None or PAIRWISE["questions"] == "demo":
        return {}
    files = {name: os.path.join(folder, s.file) for name, s in TESTSETS.items()}
    return {name: path for name, path in files.items() if os.path.isfile(path)}


def pairwise_questions():
    """Which questions the answers and judgments are of (a change redoes both)."""
    return {key: PAIRWISE[key] for key in ("testsets", "per_set")}


def pairwise_generation():
    """What shapes a run's pairwise answers (a change regenerates them)."""
    return {
        **{key: PAIRWISE[key] for key in ("template", "max_length", "batch_size")},
        **eval_inference(PAIRWISE["dtype"]),
    }


def pairwise_judgments(wildcards):
    """The judgments of a run against each of its references."""
    return [
        f"results/eval/{wildcards.run}/pairwise/vs_{pair.reference}/judgments.jsonl"
        for pair in PAIRS
        if pair.run == wildcards.run
    ]


def pairwise_labels(wildcards):
    """How a run's metrics name each of its reference runs (the reference's method, or base),
    in the order of pairwise_judgments."""
    return [pair.label for pair in PAIRS if pair.run == wildcards.run]


def scorer_params(wildcards):
    """A scorer's configuration (model, preset, mode, ...) and the reference commit its preset's
    rules follow; changing either rescores the pool."""
    scorer = config["scorers"][wildcards.scorer]
    return {**scorer, "rules": PRESETS[scorer["preset"]].reference}


def scorer_model_dir(wildcards):
    """Model folder of a scorer."""
    return f"resources/models/{scorer_params(wildcards)['model']}"


def method_scorer(wildcards):
    """Name and configuration of the scorer a selection method reads (None: it reads none)."""
    if selection_kind_of(wildcards).scorer_preset is None:
        return None
    name = method_params(wildcards)["scorer"]
    return {"name": name, **config["scorers"][name]}


def selection_pools():
    """Pools with a selection file in the grid, in config order."""
    return list(dict.fromkeys(cell.pool for cell in file_selections()))


SELECTION_PLOTS = ("overlap", "rank_agreement", "distributions")


def selection_report_files():
    """The selection table and each pool's selection plots (rule selection_report); none
    without selection files."""
    if not file_selections():
        return []
    return [
        "results/tables/selections.csv",
        *expand(
            "results/plots/selections/{pool}/{plot}.png",
            pool=selection_pools(),
            plot=SELECTION_PLOTS,
        ),
    ]


def pool_selection_manifests(wildcards):
    """manifest.json of every selection file of one pool."""
    return [
        f"{cell.path}/manifest.json"
        for cell in file_selections()
        if cell.pool == wildcards.pool
    ]


def pool_score_files(wildcards):
    """The IFD scores that the selection methods of one pool read."""
    scorers = [
        config["methods"][cell.method].get("scorer")
        for cell in file_selections()
        if cell.pool == wildcards.pool
    ]
    return [
        f"results/scores/{wildcards.pool}/{scorer}.parquet"
        for scorer in dict.fromkeys(scorers)
        if scorer is not None
    ]
