"""Named lm-eval protocols (`eval.lmeval.protocol`): a fixed set of lm-eval tasks, each with its
few-shot count and the metric a paper reports, how prompts are rendered, and the rows lm-eval
0.4 does not compute the way the protocol did (a plain subject mean, the average).

`open_llm_v1` is the Open LLM Leaderboard v1 (harness b281b09, as Superfiltering and IterIT
report it): ARC-Challenge 25-shot acc_norm, HellaSwag 10-shot acc_norm, MMLU 5-shot acc as the
plain mean of its 57 subjects (lm-eval 0.4's `mmlu` group weights subjects by size), TruthfulQA
0-shot mc2 (lm-eval 0.4 names it `acc`), no chat template; its average is the mean of the four.

This module is read while the job graph is built (the evaluator registry): plain data, no
lm-eval and no metrics contract.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WORKFLOW_ROOT = Path(__file__).resolve().parents[3]
SUBJECT_MEAN = "acc_subject_mean"  # metric of a group scored as the plain mean of its subjects
AVERAGE = "average"  # metric of the protocol's own row (benchmark: the protocol's name)


@dataclass(frozen=True)
class Benchmark:
    """One task of a protocol: the lm-eval task or group, its few-shot count, the metric the
    protocol reads (`SUBJECT_MEAN`: the plain mean of the group's subtasks' `acc`), and its
    YAML under the installed lm-eval's `lm_eval/tasks/` (to tell whether that lm-eval has it)."""

    task: str
    num_fewshot: int
    metric: str
    task_file: str


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol: its benchmarks and whether prompts use a chat template."""

    name: str
    benchmarks: tuple[Benchmark, ...]
    apply_chat_template: bool

    @property
    def tasks(self) -> list[str]:
        """Its lm-eval task (or group) names, in order."""
        return [b.task for b in self.benchmarks]


OPEN_LLM_V1 = Protocol(
    name="open_llm_v1",
    benchmarks=(
        Benchmark("arc_challenge", 25, "acc_norm", "arc/arc_challenge.yaml"),
        Benchmark("hellaswag", 10, "acc_norm", "hellaswag/hellaswag.yaml"),
        Benchmark("mmlu", 5, SUBJECT_MEAN, "mmlu/default/_mmlu.yaml"),
        Benchmark("truthfulqa_mc2", 0, "acc", "truthfulqa/truthfulqa_mc2.yaml"),
    ),
    apply_chat_template=False,
)
PROTOCOLS = {p.name: p for p in (OPEN_LLM_V1,)}


def chosen_benchmarks(block: Mapping) -> list[Benchmark]:
    """The benchmarks `eval.lmeval` runs by its protocol (all, or those `protocol_tasks`
    names), none without a protocol."""
    if block["protocol"] is None:
        return []
    wanted = block["protocol_tasks"]
    return [b for b in PROTOCOLS[block["protocol"]].benchmarks
            if wanted is None or b.task in wanted]


def hub_tasks(block: Mapping) -> list[dict]:
    """The lm-eval tasks of `eval.lmeval`: its protocol's, with their few-shot counts, then its
    `hub_tasks`."""
    return [*({"task": b.task, "num_fewshot": b.num_fewshot} for b in chosen_benchmarks(block)),
            *block["hub_tasks"]]


def task_settings(block: Mapping) -> dict:
    """What the task folder is written from (`tasks.write_task_folder`'s keyword arguments but
    `heldout`): local tasks, the hub tasks (the protocol's first), `max_gen_toks`, the protocol."""
    return {"local_tasks": block["local_tasks"], "hub_tasks": hub_tasks(block),
            "max_gen_toks": block["max_gen_toks"], "protocol": block["protocol"]}


def apply_chat_template(block: Mapping) -> bool:
    """`apply_chat_template`, or when unset (null) the protocol's, true without a protocol."""
    if block["apply_chat_template"] is not None:
        return block["apply_chat_template"]
    return True if block["protocol"] is None else PROTOCOLS[block["protocol"]].apply_chat_template


def installed_task_folder(tools_python: str) -> Path | None:
    """`lm_eval/tasks` of the virtual environment of `tools_python` (relative to the workflow's
    folder), None where it is not found (not built yet, or a bare name looked up on PATH)."""
    if os.sep not in tools_python:
        return None
    env = (WORKFLOW_ROOT / tools_python).parent.parent  # not resolved: bin/python is a link
    folders = sorted(env.glob("lib/python3*/site-packages/lm_eval/tasks"))
    return folders[-1] if folders else None


def protocol_problems(block: Mapping, tools_python: str) -> list[str]:
    """What is wrong with `eval.lmeval`'s protocol settings, one line each: an unknown protocol,
    one whose tasks the installed lm-eval lacks, a chat template it does not use, tasks named
    twice or outside the protocol."""
    name = block["protocol"]
    if name is None:
        if block["protocol_tasks"] is not None:
            return ["eval.lmeval.protocol_tasks: set only with eval.lmeval.protocol"]
        return []
    if name not in PROTOCOLS:
        return [f"eval.lmeval.protocol: {name!r} is not a protocol of Sieve's lm-eval "
                f"(protocols: {', '.join(PROTOCOLS)})"]
    protocol, problems = PROTOCOLS[name], []
    folder = installed_task_folder(tools_python)
    lacking = [b.task for b in protocol.benchmarks
               if folder is not None and not (folder / b.task_file).is_file()]
    if lacking:
        problems.append(f"eval.lmeval.protocol: {name} needs lm-eval tasks the installed lm-eval "
                        f"({folder}) lacks: {', '.join(lacking)}")
    unknown = [t for t in block["protocol_tasks"] or [] if t not in protocol.tasks]
    if unknown:
        problems.append(f"eval.lmeval.protocol_tasks: {', '.join(unknown)} not in {name} "
                        f"({', '.join(protocol.tasks)})")
    if block["apply_chat_template"] not in (None, protocol.apply_chat_template):
        problems.append(f"eval.lmeval.apply_chat_template: {name} sets it to "
                        f"{str(protocol.apply_chat_template).lower()}; leave it unset")
    run = [b.task for b in chosen_benchmarks(block)]
    twice = [t["task"] for t in block["hub_tasks"] if t["task"] in run]
    if twice:
        problems.append(f"eval.lmeval.hub_tasks: {', '.join(twice)} already run by protocol "
                        f"{name}; remove them")
    return problems
