"""Helpers shared by the rules: wildcard constraints, input functions, grid expansion."""

import re

from workflow_lib.config import methods_of_kind, selections


def _alternatives(names):
    """Regex matching exactly one of the given names (never matches when the list is empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    pool=_alternatives(config["pools"]),
    model=_alternatives(config["models"]),
    method=_alternatives(config["methods"]),
    corpus=_alternatives(config["corpora"]),
    budget=r"all|\d+|0\.\d+",


OFFLINE_ENV = (
    "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1" if config["offline"] else ""
)


def pool_source(wildcards):
    """The `source` block of a pool."""
    return config["pools"][wildcards.pool]["source"]


def pools_of_kind(kind):
    """Names of the pools whose source is of the given kind."""
    return [name for name, pool in config["pools"].items() if pool["source"]["kind"] == kind]


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


def selection_outputs(cells):
    """data.jsonl and manifest.json of each selection cell."""
    return [f"{c.path}/{name}" for c in cells for name in ("data.jsonl", "manifest.json")]
