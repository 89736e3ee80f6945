"""Input functions of the rules (functions of a job's wildcards); wildcard constraints. Config
values reach the rules through `lookup()` or the registries, paths through core.paths, and
what is computed from the whole config through config.targets."""

import os

from workflow_lib.core import paths
from workflow_lib.config.grid import method_kind, pools_of_kind
from workflow_lib.config.params import without_docs
from workflow_lib.config.scorers import iterit_scorer_name
from workflow_lib.config.targets import (
    alternatives,
    eval_metrics_files,
    file_methods,
    file_selections,
    gpus_per_job,
    lmeval_heldout_pools,
    selection_manifests,
    selection_outputs,
    selection_report_files,
    stand_in_judges,
    train_resources,
)
from workflow_lib.data.formats import DEFAULT_SOURCE
from workflow_lib.evaluate.inference import eval_device, eval_gpus, inference_settings
from workflow_lib.evaluate.pairwise.testsets import TESTSET_FILES, TESTSETS
from workflow_lib.evaluate.registry import EVALUATORS
from workflow_lib.scoring.presets import PRESETS


wildcard_constraints:
    pool=alternatives(config["pools"]),
    model=alternatives(config["models"]),
    method=alternatives(config["methods"]),
    corpus=alternatives(config["corpora"]),
    budget=r"all|\d+|0\.\d+",
    run=alternatives(RUNS),
    reference=alternatives(RUNS),
    scorer=alternatives(SCORERS),
    scatteritem=r"\d+-of-\d+",


def entry_params(section, wildcard):
    """A params function: the entry of config[section] that the job's `wildcard` names, without
    its documentation fields (a `description:` edit reruns nothing)."""

    def params(wildcards):
        return without_docs(config[section][wildcards[wildcard]])

    return params


def pool_format(wildcards):
    """Record format of a pool (None: detected from the first record)."""
    if config["pools"][wildcards.pool]["source"]["kind"] == "demo":
        return "canonical"
    return config["pools"][wildcards.pool]["format"]


def pool_source_name(wildcards):
    """`source` given to records that have none: never the pool's name, so that the same file
    under two pool names converts to the same records (ZIP compresses `source`)."""
    return config["pools"][wildcards.pool].get("source_name", DEFAULT_SOURCE)


def raw_pool(wildcards):
    """Where a pool's raw records come from: a local file, or the download/generation output."""
    source = config["pools"][wildcards.pool]["source"]
    if source["kind"] == "local":
        return source["path"]
    return paths.fill(paths.RAW_POOL, pool=wildcards.pool)


def model_inputs(wildcards):
    """Files a model preparation needs: the tiny model's tokenizer corpus, nothing otherwise."""
    source = config["models"][wildcards.model]["source"]
    if source["kind"] == "tiny":
        return {"pool": paths.fill(paths.POOL, pool=source["tokenizer_pool"])}
    return {}


def corpus_inputs(wildcards):
    """The file a corpus is read from (hub and stdlib corpora have none)."""
    source = config["corpora"][wildcards.corpus]["source"]
    if source["kind"] == "local":
        return {"raw": source["path"]}
    if source["kind"] == "demo_heldout":
        return {"raw": paths.fill(paths.HELDOUT, pool=source["pool"])}
    return {}


def selection_kind_of(wildcards):
    """The registry entry of a selection job's method kind."""
    return method_kind(config, wildcards.method)


def selection_inputs(wildcards):
    """A selection's pool, and the gathered IFD scores when its kind reads a scorer's."""
    files = {"pool": paths.fill(paths.POOL, pool=wildcards.pool)}
    if selection_kind_of(wildcards).scorer_preset is not None:
        scorer = config["methods"][wildcards.method]["scorer"]
        files["scores"] = paths.fill(paths.SCORES, pool=wildcards.pool, scorer=scorer)
    return files


def selection_device(wildcards):
    """Torch device of a selection whose kind runs a model (None otherwise: no reruns when
    train.device changes)."""
    return eval_device(config) if selection_kind_of(wildcards).uses_device else None


def selection_threads(wildcards):
    """Threads of a selection job: its kind's."""
    return selection_kind_of(wildcards).threads


def selection_mem_mb(wildcards):
    """Memory (MB) of a selection job: its kind's."""
    return selection_kind_of(wildcards).mem_mb


def selection_runtime(wildcards):
    """Runtime (minutes) of a selection job: its kind's."""
    return selection_kind_of(wildcards).runtime


def method_scorer(wildcards):
    """Name and configuration of the scorer a selection method reads (None: it reads none)."""
    if selection_kind_of(wildcards).scorer_preset is None:
        return None
    name = config["methods"][wildcards.method]["scorer"]
    return {"name": name, **config["scorers"][name]}


def train_inputs(wildcards):
    """A fine-tuning run's selection and its base model folder."""
    run = FINETUNE_RUNS[wildcards.run]
    return {
        "data": f"{run.selection.path}/data.jsonl",
        "base_model": paths.fill(paths.BASE_MODEL, model=run.base_model),
    }


def iterit_train_inputs(wildcards):
    """An IterIT run's pool, base model folder and the shared epoch-0 scores."""
    run = ITERIT_RUNS[wildcards.run]
    pool, model = run.selection.pool, run.base_model
    return {
        "pool": paths.fill(paths.POOL, pool=pool),
        "base_model": paths.fill(paths.BASE_MODEL, model=model),
        "initial_scores": paths.fill(
            paths.SCORES, pool=pool, scorer=iterit_scorer_name(model)
        ),
    }


def iterit_method(wildcards):
    """The configuration of an IterIT run's method; changing it (its description aside) reruns
    the run."""
    return without_docs(config["methods"][ITERIT_RUNS[wildcards.run].selection.method])


def iterit_budget(wildcards):
    """An IterIT run's budget label (m, or a fraction of the pool)."""
    return ITERIT_RUNS[wildcards.run].selection.budget


def run_model_dir(wildcards):
    """Model folder a run evaluates: its base model's, or its fine-tune's."""
    return RUNS[wildcards.run].model_dir


def bpc_results(wildcards):
    """A run's per-corpus BPC results, in the order of eval.bpc.corpora."""
    bpc = EVALUATORS["bpc"]
    return [
        bpc.path("corpus", wildcards.run, corpus=corpus)
        for corpus in config["eval"]["bpc"]["corpora"]
    ]


def lmeval_task_inputs(wildcards):
    """Held-out files of the demo pools and the local benchmark files or folders."""
    files = {}
    for pool in lmeval_heldout_pools(config):
        files[f"heldout_{pool}"] = paths.fill(paths.HELDOUT, pool=pool)
        files[f"heldout_mc_{pool}"] = paths.fill(paths.HELDOUT_MC, pool=pool)
    for name, task in config["eval"]["lmeval"]["local_tasks"].items():
        files[f"local_{name}"] = task["path"]
    return files


def mtbench_source_files(wildcards):
    """The local MT-bench files (a change redoes the copy); none for a download or the demo set."""
    mtbench = config["eval"]["mtbench"]
    folder = mtbench["local_data"]
    if folder is None or mtbench["questions"] == "demo":
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


def pairwise_source_files(wildcards):
    """The local pairwise test set files (a change redoes the copy); none for a download or the
    demo set. Missing files are not inputs (the job names them), as for MT-bench."""
    pairwise = config["eval"]["pairwise"]
    folder = pairwise["local_data"]
    if folder is None or pairwise["questions"] == "demo":
        return {}
    files = {name: os.path.join(folder, s.file) for name, s in TESTSETS.items()}
    return {name: path for name, path in files.items() if os.path.isfile(path)}


def pairwise_judgments(wildcards):
    """The judgments of a run against each of its references."""
    pairwise = EVALUATORS["pairwise"]
    return [
        pairwise.path("judgments", wildcards.run, reference=pair.reference)
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
    scorer = SCORERS[wildcards.scorer]
    return {**scorer, "rules": PRESETS[scorer["preset"]].reference}


def scorer_model_dir(wildcards):
    """Model folder of a scorer."""
    model = SCORERS[wildcards.scorer]["model"]
    return paths.fill(paths.BASE_MODEL, model=model)


def score_shards(wildcards):
    """The shards of a pool's scores by one scorer (scoring.shards of them)."""
    return gather.ifd(paths.SCORE_SHARD, pool=wildcards.pool, scorer=wildcards.scorer)


def pool_selection_manifests(wildcards):
    """manifest.json of every selection file of one pool."""
    return [
        f"{cell.path}/manifest.json"
        for cell in file_selections(config)
        if cell.pool == wildcards.pool
    ]


def pool_score_files(wildcards):
    """The IFD scores that the selection methods of one pool read."""
    scorers = [
        config["methods"][cell.method].get("scorer")
        for cell in file_selections(config)
        if cell.pool == wildcards.pool
    ]
    return [
        paths.fill(paths.SCORES, pool=wildcards.pool, scorer=scorer)
        for scorer in dict.fromkeys(scorers)
        if scorer is not None
    ]


def alpaca_eval_source(wildcards):
    """The local reference outputs file (a change redoes the copy); none for the demo set or a
    hub source. A missing file is not an input (the job names it), as for MT-bench."""
    source = config["eval"]["alpaca_eval"]["reference_outputs"]
    if not isinstance(source, str) or source == "demo" or not os.path.isfile(source):
        return {}
    return {"source": source}
