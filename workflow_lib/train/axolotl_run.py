"""Fine-tuning one run with Axolotl, run as a subprocess of the tools interpreter.

Axolotl works in `work_dir` (its output_dir with the checkpoints, and the prepared dataset), which
lies outside the rule's declared output that Snakemake deletes before a job starts: a restarted
job resumes from the newest complete checkpoint there, provided the rendered config and the
selection are unchanged (a stamp file records them with the process layout); otherwise it starts
afresh, saying so. Sharded checkpoints (FSDP, DeepSpeed) written by another world size or strategy
stop the job instead: they cannot be loaded by this layout. Before anything is launched, the
tools environment is checked for what the strategy needs (`check_strategy`). On success
the final model (LoRA merged into the base), the axolotl.yaml it was trained with and a
manifest.json (with the identities of the base and of the trained model) go to `out_dir`, and
`work_dir` is removed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import math
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from workflow_lib.config.batch import world_size
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.core.tool_env import tool_env
from workflow_lib.models.identity import MODEL_FILES, model_fingerprint, model_identity
from workflow_lib.train.axolotl_config import render_axolotl_config, write_axolotl_config
from workflow_lib.train.distributed import check_strategy, launcher_command, process_env
from workflow_lib.train.tokens import mean_tokens

log = logging.getLogger(__name__)

CONFIG_NAME = "axolotl.yaml"
MANIFEST_NAME = "manifest.json"
TOOLS_PACKAGES = ("axolotl", "torch", "transformers", "peft", "accelerate", "datasets", "trl",
                  "deepspeed")
STAMP = "stamp.json"
TRAINER_STATE = "trainer_state.json"  # the Trainer writes it last: a checkpoint without is partial
# Axolotl prints the Trainer's logs as Python dict literals: per-step `{'loss': ...}` and the
# final `{'train_runtime': ..., 'train_loss': ...}`.
_METRICS_LINE = re.compile(r"\{'(?:loss|train_runtime)': .*\}")
# What the Trainer prints when it was started by a launcher but does not use DDP.
_NOT_DISTRIBUTED = "parallel_mode != ParallelMode.DISTRIBUTED"


def axolotl_env(offline: bool, threads: int | None = None) -> dict[str, str]:
    """Environment for Axolotl: no telemetry (it hangs at exit otherwise), unbuffered output.
    Its plugins come from workflow_lib, installed in the tools environment."""
    return tool_env(offline, threads, AXOLOTL_DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")


def run_axolotl(tools_python: str, module: str, args: list[str], env: dict[str, str],
                log_path: str | None = None) -> list[str]:
    """Run `tools_python -m module *args` (see `run_command`)."""
    return run_command([tools_python, "-m", module, *args], env, log_path)


def run_command(cmd: list[str], env: dict[str, str], log_path: str | None = None) -> list[str]:
    """Run `cmd`, copying its output to stderr (the job log) as it comes; returns the output
    lines. Raises UserError naming the log if it exits non-zero."""
    # named by its (last) Python module: axolotl.cli.train also under a launcher
    module = next((cmd[i + 1] for i in reversed(range(len(cmd) - 1)) if cmd[i] == "-m"), cmd[0])
    log.info("running %s", " ".join(cmd))
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                text=True, errors="replace")
    except OSError as err:
        raise UserError(f"cannot run {cmd[0]!r} ({err}); `make tools` builds .venv-tools, "
                        "or set tools_python") from None
    lines = []
    for line in proc.stdout:
        sys.stderr.write(line)
        lines.append(line.rstrip("\n"))
    if proc.wait():
        last = next((x.strip() for x in reversed(lines) if x.strip()), "no output")
        where = f"; full output in {log_path}" if log_path else ""
        raise UserError(f"{module} exited with status {proc.returncode} "
                        f"(last line: {last[:300]!r}){where}")
    return lines


def training_metrics(lines: list[str], earlier: list[dict] | None = None) -> dict:
    """Step losses and the final summary (runtime, mean train loss) from Axolotl's output, after
    the `earlier` steps' records of a resumed run (`resumed_steps`). A step printed more than
    once is kept once. `first_epoch_loss` is the mean loss of the steps of the first epoch (the
    trainer logs every step: `logging_steps` 1), as ZIP relates it to a selection. Raises
    UserError when processes started by a launcher did not train as one data-parallel group."""
    if any(_NOT_DISTRIBUTED in line for line in lines):
        raise UserError("the training processes did not form one data-parallel group (the "
                        f"Trainer says {_NOT_DISTRIBUTED!r}): each would train alone on all data")
    records = [ast.literal_eval(m.group()) for line in lines
               if (m := _METRICS_LINE.search(line))]
    steps = [*(earlier or []), *(r for r in _first_of_each_step(records) if "loss" in r)]
    summary = next((r for r in reversed(records) if "train_loss" in r), {})
    first_epoch = [float(r["loss"]) for r in steps if float(r["epoch"]) <= 1 + 1e-9]
    return {
        "train_loss": float(summary["train_loss"]) if summary else None,
        "train_runtime_s": float(summary["train_runtime"]) if summary else None,
        "logged_losses": [float(r["loss"]) for r in steps],
        "logged_epochs": [float(r["epoch"]) for r in steps],
        "first_epoch_loss": sum(first_epoch) / len(first_epoch) if first_epoch else None,
        "resumed_at_step": len(earlier) if earlier else None,
    }


def resumed_steps(work_dir: Path) -> list[dict]:
    """The logged steps (loss, epoch) of the newest complete checkpoint a run resumes from."""
    states = sorted((c for c in (work_dir / "output").glob("checkpoint-*")
                     if (c / TRAINER_STATE).is_file()), key=lambda c: int(c.name.split("-")[1]))
    history = json.loads((states[-1] / TRAINER_STATE).read_text())["log_history"]
    return [{"loss": h["loss"], "epoch": h["epoch"]} for h in history if "loss" in h]


def _first_of_each_step(records: list[dict]) -> list[dict]:
    """The records in order, each step's once (a step's records printed by several processes
    share its loss, epoch and learning rate)."""
    seen, kept = set(), []
    for record in records:
        key = (record.get("loss"), record.get("epoch"), record.get("learning_rate"))
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


def prepare_work_dir(work_dir: Path, config_text: str, selection_sha256: str,
                     layout: dict) -> bool:
    """Keep `work_dir` for resuming if it was made for the same config and selection and holds a
    complete checkpoint (partial ones are removed); otherwise empty it. Returns whether kept.

    `layout` is the run's `{"world_size", "strategy"}`: a complete sharded checkpoint (any
    strategy but DDP) of another layout raises UserError naming both and the fix."""
    fingerprint = hashlib.sha256(f"{config_text}\n{selection_sha256}".encode()).hexdigest()
    stamp_path = work_dir / STAMP
    stamp = json.loads(stamp_path.read_text()) if stamp_path.is_file() else {}
    checkpoints = list((work_dir / "output").glob("checkpoint-*"))
    for partial in [c for c in checkpoints if not (c / TRAINER_STATE).is_file()]:
        log.warning("removing incomplete checkpoint %s", partial)
        shutil.rmtree(partial)
    complete = sorted(c.name for c in checkpoints if (c / TRAINER_STATE).is_file())
    written = stamp.get("layout")
    if complete and written and written != layout and written["strategy"] != "ddp":
        raise UserError(
            f"{work_dir / 'output' / complete[-1]} is sharded by {written['world_size']} "
            f"processes ({written['strategy']}); this run has {layout['world_size']} "
            f"({layout['strategy']}) and cannot load it: set train.distributed back to resume, or "
            f"delete {work_dir} to start afresh")
    if complete and stamp.get("fingerprint") == fingerprint:
        return True
    if complete:
        log.warning("starting %s afresh: its checkpoints (%s) were made for another config or "
                    "selection", work_dir, ", ".join(complete))
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    stamp_path.write_text(json.dumps({"fingerprint": fingerprint, "layout": layout}))
    return False


def tools_environment(tools_python: str, env: dict[str, str]) -> dict:
    """Python and package versions of the tools interpreter (what Axolotl trained with)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "v = {}\n"
            f"for p in {TOOLS_PACKAGES!r}:\n"
            "    try: v[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps({'python': sys.version.split()[0], 'packages': v}))")
    out = subprocess.run([tools_python, "-c", code], env=env, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def place_model(src: Path, out_dir: Path) -> list[str]:
    """Move the model, its config and the tokenizer files from `src` into `out_dir`, and check
    that the tokenizer loads with a chat template. Returns the file names."""
    from workflow_lib.models.loading import load_tokenizer

    files = sorted({p for pattern in MODEL_FILES for p in src.glob(pattern) if p.is_file()})
    if not any(p.suffix == ".safetensors" for p in files):
        raise UserError(f"Axolotl left no *.safetensors weights in {src}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.move(path, out_dir / path.name)
    if not load_tokenizer(out_dir).chat_template:
        raise UserError(f"the trained model's tokenizer in {out_dir} has no chat template")
    return [p.name for p in files]


def batch_summary(train: dict) -> dict:
    """How the run's global batch is made: micro batch × gradient accumulation × world size,
    with the strategy and launcher that ran the processes."""
    dist = train["distributed"]
    return {"global_batch_size": train["global_batch_size"],
            "micro_batch_size": train["micro_batch_size"],
            "gradient_accumulation_steps": train["gradient_accumulation_steps"],
            "world_size": world_size(train), "nodes": dist["nodes"],
            "gpus_per_node": dist["gpus_per_node"], "strategy": dist["strategy"],
            "launcher": dist["launcher"] if world_size(train) > 1 else None}


def job_arguments(smk) -> dict:
    """The `train_run` arguments every training rule passes the same way, from its Snakemake
    job object (wildcards.run, input.base_model, params.train/work_dir/offline, the output
    folder, threads, log and the configured tools interpreter)."""
    return {"run": smk.wildcards.run, "base_model": smk.input.base_model,
            "train": dict(smk.params.train), "out_dir": smk.output[0],
            "work_dir": smk.params.work_dir, "tools_python": smk.config["tools_python"],
            "offline": smk.params.offline, "threads": smk.threads, "log_path": smk.log[0]}


def train_run(*, run: str, selection: str, base_model: str, train: dict, out_dir: str,
              work_dir: str, tools_python: str, offline: bool, threads: int | None = None,
              log_path: str | None = None, overrides: dict | None = None,
              collect: Callable[[Path, Path], dict] | None = None) -> dict:
    """Fine-tune `base_model` on the canonical JSONL `selection` with the `train` recipe into
    `out_dir` (model + axolotl.yaml + manifest.json); returns the manifest, with the training
    file's mean length in the base model's tokens (`tokens.mean_tokens`) and the trainer's
    metrics (`training_metrics`, first-epoch loss included).

    `overrides` are Axolotl keys set over the rendered config (after `train.extra`; their
    `plugins` are added to the rendered ones);
    `collect(work_dir, out_dir)`, called after training, moves further outputs into `out_dir` and
    returns fields for the manifest."""
    start = time.perf_counter()
    work, out = Path(work_dir), Path(out_dir)
    cfg = render_axolotl_config(train, base_model=base_model, dataset=selection,
                                output_dir=str(work / "output"),
                                prepared_dir=str(work / "prepared"))
    overrides = dict(overrides or {})
    plugins = cfg.get("plugins", []) + overrides.pop("plugins", [])
    cfg.update(overrides, **({"plugins": plugins} if plugins else {}))
    config_text = write_axolotl_config(out / CONFIG_NAME, cfg)
    env = {**axolotl_env(offline, threads), **process_env(train, threads)}
    tools = tools_environment(tools_python, env)
    check_strategy(train, base_model, tools["packages"])
    layout = {"world_size": world_size(train), "strategy": train["distributed"]["strategy"]}
    earlier = None
    if prepare_work_dir(work, config_text, file_sha256(selection), layout):
        log.info("resuming %s from the checkpoint in %s", run, work / "output")
        earlier = resumed_steps(work)
    config_path = work / CONFIG_NAME
    config_path.write_text(config_text, encoding="utf-8")
    metrics = training_metrics(
        run_command(launcher_command(tools_python, train, str(config_path)), env, log_path),
        earlier)
    if not metrics["logged_losses"]:
        raise UserError(f"training {run} took no optimizer step (no loss logged; Axolotl reports "
                        f"train_loss {metrics['train_loss']}): the selection is smaller than one "
                        f"global batch of {train['global_batch_size']} sequences, or every "
                        f"record is longer than sequence_len {train['sequence_len']}; see "
                        f"{log_path or 'the log'}")
    if metrics["train_loss"] is not None and not math.isfinite(metrics["train_loss"]):
        raise UserError(f"training {run} gave a non-finite loss ({metrics['train_loss']}); "
                        f"see {log_path or 'the log'}")
    model_dir = work / "output"
    if train["adapter"] == "lora":
        run_axolotl(tools_python, "axolotl.cli.merge_lora",
                    [str(config_path), f"--lora-model-dir={model_dir}"], env, log_path)
        model_dir = model_dir / "merged"
    files = place_model(model_dir, out)
    collected = collect(work, out) if collect else {}
    manifest = write_manifest(
        out / MANIFEST_NAME,
        inputs={"selection": selection},
        run=run,
        base_model=model_identity(base_model),
        model_fingerprint=model_fingerprint(out),
        train=train,
        batch=batch_summary(train),
        n_records=sum(1 for _ in read_jsonl(selection)),
        mean_tokens=mean_tokens(selection, base_model),
        metrics=metrics,
        files=files,
        wall_time_s=round(time.perf_counter() - start, 3),
        tools_environment=tools,
        **collected,
    )
    shutil.rmtree(work)
    return manifest
