"""lm-eval on every run's model, with one task folder shared by all runs."""

# --- to be moved to rules/common.smk (RUNS, the run constraint, run_model_dir, eval_device and
# gpus_per_job are there already) -----------------------------------------------------------------
LMEVAL = config["eval"]["lmeval"]


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


# ------------------------------------------------------------------------------------------------


localrules:
    lmeval_tasks,


rule lmeval_tasks:
    input:
        unpack(lmeval_task_inputs),
    output:
        directory("results/eval/tasks"),
    log:
        "logs/lmeval_tasks.log",
    params:
        lmeval=lmeval_task_settings(),
        heldout_pools=lmeval_heldout_pools(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/lmeval_tasks.py"


rule lmeval:
    input:
        model=run_model_dir,
        tasks="results/eval/tasks",
    output:
        results="results/eval/{run}/lmeval/results.json",
        metrics="results/eval/{run}/lmeval/metrics.json",
    log:
        "logs/lmeval/{run}.log",
    benchmark:
        "benchmarks/lmeval/{run}.tsv"
    params:
        python=config["tools_python"],
        device=eval_device(),
        batch_size=LMEVAL["batch_size"],
        limit=LMEVAL["limit"],
        apply_chat_template=LMEVAL["apply_chat_template"],
        offline=config["offline"],
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=gpus_per_job(),
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/lmeval.py"
