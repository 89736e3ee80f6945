"""Run lm-eval on a model and a task folder, and tidy its results into the metrics contract
(`workflow_lib.evaluate.metrics`).

lm-eval itself runs in the tools interpreter as a subprocess (`python -m lm_eval`), so this
module needs neither lm-eval nor torch.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, atomic_output
from workflow_lib.core.manifest import write_manifest
from workflow_lib.core.tool_env import tool_env
from workflow_lib.evaluate.inference import resolve_dtype
from workflow_lib.evaluate.lmeval.protocols import AVERAGE, PROTOCOLS, SUBJECT_MEAN
from workflow_lib.evaluate.lmeval.tasks import TASKS_FILE
from workflow_lib.evaluate.metrics import MetricRow, RunMetrics, write_metrics
from workflow_lib.models.identity import model_identity


def _number(value: object) -> float | None:
    """A number of lm-eval's as float, None where it has none: "N/A" (a stderr it could not
    compute), NaN or an infinity."""
    if isinstance(value, str):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _n_docs(raw: dict, task: str) -> int | None:
    """Documents evaluated by a task, or by all tasks of a group (None if unknown)."""
    if task in raw["n-samples"]:
        return raw["n-samples"][task]["effective"]
    counts = [_n_docs(raw, sub) for sub in raw.get("group_subtasks", {}).get(task, [])]
    return sum(counts) if counts and None not in counts else None


def tidy_metrics(raw: dict, run: str) -> RunMetrics:
    """lm-eval's results JSON as one row per task (or group), metric and filter. A metric seen
    through a filter other than `none` is named `{metric}_{filter}` (`exact_match_strict`);
    entries without metrics (a group without aggregation) give no rows.
    """
    rows = []
    for task, entry in raw["results"].items():
        for key, value in entry.items():
            metric, sep, filter_name = key.partition(",")
            if not sep or metric.endswith("_stderr"):
                continue  # "alias", group placeholders and the stderrs read below
            rows.append(MetricRow(
                benchmark=task,
                metric=metric if filter_name == "none" else f"{metric}_{filter_name}",
                value=_number(value),
                stderr=_number(entry.get(f"{metric}_stderr,{filter_name}", "N/A")),
                n=_n_docs(raw, task),
                higher_is_better=raw["higher_is_better"][task][metric],
            ))
    return RunMetrics(run, "lmeval", rows)


def _leaves(raw: dict, group: str) -> list[str]:
    """The tasks under `group` (through its subgroups), from the results' `group_subtasks`."""
    subtasks = raw.get("group_subtasks", {})
    return [leaf for sub in subtasks.get(group, [])
            for leaf in (_leaves(raw, sub) if subtasks.get(sub) else [sub])]


def subject_mean(raw: dict, group: str) -> MetricRow:
    """`group`'s accuracy as the plain mean of its subjects' `acc` (every subject counts the
    same, as the Open LLM Leaderboard v1 averaged MMLU; lm-eval 0.4 weights them by size)."""
    subjects = _leaves(raw, group)
    if not subjects:
        raise DataError(f"lm-eval results list no subtasks of {group!r}", field="group_subtasks")
    values = [_number(raw["results"][s]["acc,none"]) for s in subjects]
    return MetricRow(benchmark=group, metric=SUBJECT_MEAN,
                     value=None if None in values else sum(values) / len(values),
                     stderr=None, n=_n_docs(raw, group), higher_is_better=True)


def protocol_rows(raw: dict, rows: Sequence[MetricRow], protocol: str) -> list[MetricRow]:
    """The rows `protocol` adds to lm-eval's: the subject mean of each of its groups scored so
    that ran, and, when every one of its benchmarks ran and it reports one, their average
    (`{protocol}/average`, the mean of each benchmark's protocol metric; null if one of them
    is)."""
    benchmarks = [b for b in PROTOCOLS[protocol].benchmarks if b.task in raw["results"]]
    added = [subject_mean(raw, b.task) for b in benchmarks if b.metric == SUBJECT_MEAN]
    if not PROTOCOLS[protocol].average or len(benchmarks) < len(PROTOCOLS[protocol].benchmarks):
        return added
    value = {(r.benchmark, r.metric): r.value for r in [*rows, *added]}
    scores = [value.get((b.task, b.metric)) for b in benchmarks]
    mean = None if None in scores else sum(scores) / len(scores)
    return [*added, MetricRow(benchmark=protocol, metric=AVERAGE, value=mean, stderr=None,
                              n=None, higher_is_better=True)]


def lmeval_model_args(model_dir: str | Path, *, device: str = "cpu", dtype: str = "auto",
                      device_map: str | None = None) -> str:
    """lm-eval's `--model_args` for its `hf` model: the folder, the dtype ("auto": float32 on
    the CPU, bfloat16 on a GPU) and, with `device_map="auto"`, `parallelize=True` (lm-eval
    then loads the model with Accelerate's device map over every GPU it sees)."""
    args = f"pretrained={Path(model_dir).resolve()},dtype={resolve_dtype(dtype, device)}"
    if device_map not in (None, "auto"):
        raise ValueError(f"device_map must be None or 'auto', not {device_map!r}")
    return f"{args},parallelize=True" if device_map else args


def lmeval_command(python: str, model_dir: str | Path, task_dir: str | Path,
                   tasks: Sequence[str], output_dir: str | Path, *, device: str = "cpu",
                   dtype: str = "auto", device_map: str | None = None,
                   batch_size: int | str = 8, limit: int | None = None,
                   apply_chat_template: bool = True, fewshot_as_multiturn: bool | None = None,
                   confirm_run_unsafe_code: bool = False) -> list[str]:
    """The lm-eval command line (model arguments: `lmeval_model_args`; `batch_size` a number
    or "auto"; samples are logged); `fewshot_as_multiturn` false keeps the few-shot examples
    in one user turn of the chat template (lm-eval's default: one turn each);
    `confirm_run_unsafe_code` lets tasks that execute model-written code (humaneval, mbpp)
    run."""
    model_args = lmeval_model_args(model_dir, device=device, dtype=dtype, device_map=device_map)
    cmd = [python, "-m", "lm_eval", "run", "--model", "hf", "--model_args", model_args,
           "--include_path", str(Path(task_dir).resolve()), "--tasks", ",".join(tasks),
           "--device", device, "--batch_size", str(batch_size),
           "--output_path", str(Path(output_dir).resolve()), "--log_samples"]
    if apply_chat_template:
        cmd.append("--apply_chat_template")
        if fewshot_as_multiturn is not None:
            cmd += ["--fewshot_as_multiturn", str(fewshot_as_multiturn).lower()]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    if confirm_run_unsafe_code:
        cmd.append("--confirm_run_unsafe_code")
    return cmd


RESULT_SECTIONS = ("results", "group_subtasks", "higher_is_better", "n-samples", "configs")


def merge_results(raws: Sequence[dict]) -> dict:
    """One results JSON from those of several lm-eval calls on disjoint tasks: their per-task
    sections joined, the rest (config, versions) the first call's."""
    return {**raws[0], **{key: {k: v for raw in raws for k, v in raw.get(key, {}).items()}
                          for key in RESULT_SECTIONS}}


def run_lmeval(model_dir: str | Path, task_dir: str | Path, *, run: str, results: str | Path,
               metrics: str | Path, manifest: str | Path, log: TextIO, python: str,
               device: str = "cpu", dtype: str = "auto", device_map: str | None = None,
               batch_size: int | str = 8, limit: int | None = None,
               apply_chat_template: bool = True, confirm_run_unsafe_code: bool = False,
               offline: bool = True, threads: int | None = None) -> RunMetrics:
    """Evaluate `model_dir` on every task listed in `task_dir`'s tasks.json: one lm-eval call
    for its `tasks` with `apply_chat_template`, then one per entry of its `passes` (protocol
    benchmarks with their own chat template), their results merged (`merge_results`).

    lm-eval's output goes to `log`, an open file (the job's log; lm-eval writes through the same
    file descriptor, so lines stay in order). Its raw files (results, per-document samples) stay
    in `raw/` next to `results` (`raw/pass{n}/` with passes), which receives the (merged)
    results JSON; `metrics` receives
    the tidy metrics (with the rows of the listing's protocol, `protocol_rows`), which are also
    returned; `manifest` records the model's identity, the task listing, the inference settings
    (device, dtype, device map, batch size) and the commands.
    Raises UserError naming the log if lm-eval fails.
    """
    listing = json.loads((Path(task_dir) / TASKS_FILE).read_text(encoding="utf-8"))
    if offline and listing["hub_tasks"]:
        raise UserError(f"eval.lmeval.hub_tasks ({', '.join(listing['hub_tasks'])}) need the "
                        "Hugging Face hub: set offline: false, or remove them")
    raw_dir = Path(results).parent / "raw"
    shutil.rmtree(raw_dir, ignore_errors=True)
    inference = {"device": device, "dtype": resolve_dtype(dtype, device),
                 "device_map": device_map, "batch_size": batch_size}
    protocol = PROTOCOLS[listing["protocol"]] if listing.get("protocol") else None
    calls = [(listing["tasks"], apply_chat_template),
             *((p["tasks"], p["apply_chat_template"]) for p in listing.get("passes", []))]
    # The code_eval metric of humaneval and mbpp asks for this variable besides the flag.
    code_eval = {"HF_ALLOW_CODE_EVAL": "1"} if confirm_run_unsafe_code else {}
    env = tool_env(offline, threads, TOKENIZERS_PARALLELISM="false", **code_eval)
    start, commands, raws = time.perf_counter(), [], []
    for number, (tasks, chat) in enumerate(calls):
        out_dir = raw_dir if len(calls) == 1 else raw_dir / f"pass{number}"
        cmd = lmeval_command(python, model_dir, task_dir, tasks, out_dir, **inference,
                             limit=limit, apply_chat_template=chat,
                             fewshot_as_multiturn=protocol.fewshot_as_multiturn
                             if protocol else None,
                             confirm_run_unsafe_code=confirm_run_unsafe_code)
        commands.append(cmd)
        raws.append(_call_lmeval(cmd, out_dir, env, log))
    raw = merge_results(raws)
    with atomic_output(results, "w") as fh:
        json.dump(raw, fh, indent=2)
    tidy = tidy_metrics(raw, run)
    if protocol is not None:  # absent from a folder written before protocols
        tidy = RunMetrics(run, "lmeval", [*tidy.rows, *protocol_rows(raw, tidy.rows,
                                                                     protocol.name)])
    write_metrics(metrics, tidy)
    # With batch_size auto, batch_sizes are those lm-eval found.
    used = {**inference, "batch_sizes": raw.get("config", {}).get("batch_sizes", [])}
    write_manifest(manifest, inputs={"tasks": Path(task_dir) / TASKS_FILE}, run=run,
                   model=model_identity(model_dir), inference=used, command=commands[0],
                   further_commands=commands[1:],
                   wall_time_s=round(time.perf_counter() - start, 3))
    return tidy


def _call_lmeval(cmd: list[str], out_dir: Path, env: dict, log: TextIO) -> dict:
    """Run one lm-eval command, its output to `log`; its results JSON (one under `out_dir`).
    Raises UserError naming the log if lm-eval fails or leaves no single results file."""
    start = time.perf_counter()
    print("$", " ".join(cmd), file=log, flush=True)
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    print(f"lm-eval exited with {proc.returncode} after {time.perf_counter() - start:.1f} s",
          file=log, flush=True)
    if proc.returncode != 0:
        raise UserError(f"lm-eval failed with exit status {proc.returncode}; see {log.name}")
    found = sorted(out_dir.glob("**/results_*.json"))
    if len(found) != 1:
        raise UserError(f"expected one results_*.json from lm-eval in {out_dir}, found "
                        f"{len(found)}; see {log.name}")
    return json.loads(found[0].read_text(encoding="utf-8"))
