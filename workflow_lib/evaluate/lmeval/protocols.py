"""Named lm-eval protocols (`eval.lmeval.protocol`): a fixed set of lm-eval tasks, each with its
few-shot count and the metric a paper reports, how prompts are rendered, and the rows lm-eval
0.4 does not compute the way the protocol did (a plain subject mean, the average).

`open_llm_v1` is the Open LLM Leaderboard v1 (harness b281b09, as Superfiltering and IterIT
report it): ARC-Challenge 25-shot acc_norm, HellaSwag 10-shot acc_norm, MMLU 5-shot acc as the
plain mean of its 57 subjects (lm-eval 0.4's `mmlu` group weights subjects by size), TruthfulQA
0-shot mc2 (lm-eval 0.4 names it `acc`), no chat template; its average is the mean of the four.

`iterit_open_instruct` is IterIT's eval_scripts/ (JiaQiSJTU/IterIT @ 433ac6f) as near as lm-eval
0.4.11 comes to them: the open-instruct columns (GSM8K 8-shot CoT on a seeded sample of 200,
BBH 3-shot CoT on 40 per task, MMLU 0-shot, TruthfulQA MC, all in the model's chat template with
the few-shot examples in one user turn, as `--use_chat_format` does) and HumanEval pass@1 from
n = 5 samples at T = 0.1, top-p 0.95 (no chat template, as openinstruct_eval.sh runs it), then
ARC-Challenge 25-shot and HellaSwag 10-shot without a chat template (openllmleaderboard_eval.sh).
Benchmarks whose chat template differs from the protocol's run in a second lm-eval pass.
docs/iterit-eval.md says how each differs from the authors' scripts.

This module is read while the job graph is built (the evaluator registry): plain data, no
lm-eval and no metrics contract.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

WORKFLOW_ROOT = Path(__file__).resolve().parents[3]
SAMPLE_SEED = 42  # open-instruct's `random.seed(42)` before `random.sample` of the test items
CODE_TASKS = ("humaneval", "mbpp")  # lm-eval task name prefixes that execute model-written code
SUBJECT_MEAN = "acc_subject_mean"  # metric of a group scored as the plain mean of its subjects
AVERAGE = "average"  # metric of the protocol's own row (benchmark: the protocol's name)


@dataclass(frozen=True)
class Benchmark:
    """One task of a protocol: the lm-eval task or group, its few-shot count, the metric the
    protocol reads (`SUBJECT_MEAN`: the plain mean of the group's subtasks' `acc`), and its
    YAML under the installed lm-eval's `lm_eval/tasks/` (to tell whether that lm-eval has it).

    `sample`: test documents per task, drawn as open-instruct draws them (`random.sample` seeded
    with `SAMPLE_SEED`); `chat_template`: whether its prompts use the chat template when that
    differs from the protocol's (None: the protocol's); `overrides`: task-config keys that
    replace lm-eval's own (`repeats`, `generation_kwargs`: a whole value, not merged)."""

    task: str
    num_fewshot: int
    metric: str
    task_file: str
    sample: int | None = None
    chat_template: bool | None = None
    overrides: Mapping = field(default_factory=dict)

    def spec(self) -> dict:
        """The benchmark as a `hub_tasks` entry of the task folder: task and shots, with its
        sample size, chat template and overrides where it has them."""
        extra = {"sample": self.sample, "chat_template": self.chat_template}
        return {"task": self.task, "num_fewshot": self.num_fewshot,
                **{k: v for k, v in extra.items() if v is not None}, **self.overrides}


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol: its benchmarks, whether prompts use a chat template, whether
    few-shot examples become chat turns (None: lm-eval's default, turns with a chat template)
    and whether it reports the mean of its benchmarks (`AVERAGE`)."""

    name: str
    benchmarks: tuple[Benchmark, ...]
    apply_chat_template: bool
    fewshot_as_multiturn: bool | None = None
    average: bool = True

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
# openinstruct_eval.sh's codex_humaneval: `--unbiased_sampling_size_n 5 --temperature 0.1`;
# eval/codex_humaneval/run_eval.py samples with top_p 0.95, max_new_tokens 512, the Codex stops.
HUMANEVAL_N5_T01 = {
    "repeats": 5,
    "generation_kwargs": {"until": ["\nclass", "\ndef", "\n#", "\nif", "\nprint"],
                          "max_gen_toks": 512, "do_sample": True, "temperature": 0.1,
                          "top_p": 0.95},
}
# eval/gsm/run_eval.py: greedy, max_new_tokens 512 (lm-eval's gsm8k_cot: 256).
GSM8K_512 = {"generation_kwargs": {"until": ["Q:", "</s>", "<|im_end|>"], "max_gen_toks": 512,
                                   "do_sample": False}}
ITERIT_OPEN_INSTRUCT = Protocol(
    name="iterit_open_instruct",
    benchmarks=(
        Benchmark("gsm8k_cot", 8, "exact_match_flexible-extract", "gsm8k/gsm8k-cot.yaml",
                  sample=200, overrides=GSM8K_512),
        Benchmark("bbh_cot_fewshot", 3, "exact_match_get-answer",
                  "bbh/cot_fewshot/_bbh_cot_fewshot.yaml", sample=40),
        Benchmark("mmlu", 0, "acc", "mmlu/default/_mmlu.yaml"),
        Benchmark("truthfulqa_mc1", 0, "acc", "truthfulqa/truthfulqa_mc1.yaml"),
        Benchmark("truthfulqa_mc2", 0, "acc", "truthfulqa/truthfulqa_mc2.yaml"),
        Benchmark("humaneval", 0, "pass@1_create_test", "humaneval/humaneval.yaml",
                  chat_template=False, overrides=HUMANEVAL_N5_T01),
        Benchmark("arc_challenge", 25, "acc_norm", "arc/arc_challenge.yaml", chat_template=False),
        Benchmark("hellaswag", 10, "acc_norm", "hellaswag/hellaswag.yaml", chat_template=False),
    ),
    apply_chat_template=True,
    fewshot_as_multiturn=False,
    average=False,  # IterIT's average also takes MixEval-Hard, which Sieve cannot run
)
PROTOCOLS = {p.name: p for p in (OPEN_LLM_V1, ITERIT_OPEN_INSTRUCT)}


def chosen_benchmarks(block: Mapping) -> list[Benchmark]:
    """The benchmarks `eval.lmeval` runs by its protocol (all, or those `protocol_tasks`
    names), none without a protocol."""
    if block["protocol"] is None:
        return []
    wanted = block["protocol_tasks"]
    return [b for b in PROTOCOLS[block["protocol"]].benchmarks
            if wanted is None or b.task in wanted]


def hub_tasks(block: Mapping) -> list[dict]:
    """The lm-eval tasks of `eval.lmeval`: its protocol's (`Benchmark.spec`), then its
    `hub_tasks`."""
    return [*(b.spec() for b in chosen_benchmarks(block)), *block["hub_tasks"]]


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
    twice or outside the protocol, code-executing tasks without `confirm_run_unsafe_code`."""
    name = block["protocol"]
    if name is not None and name not in PROTOCOLS:
        return [f"eval.lmeval.protocol: {name!r} is not a protocol of Sieve's lm-eval "
                f"(protocols: {', '.join(PROTOCOLS)})"]
    problems = unsafe_code_problems(block)
    if name is None:
        if block["protocol_tasks"] is not None:
            problems.append("eval.lmeval.protocol_tasks: set only with eval.lmeval.protocol")
        return problems
    protocol = PROTOCOLS[name]
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


def unsafe_code_problems(block: Mapping) -> list[str]:
    """One line if `eval.lmeval` runs a task that executes model-written code (`CODE_TASKS`)
    without `confirm_run_unsafe_code`, so that such a run stops before any job."""
    code = [t["task"] for t in hub_tasks(block) if t["task"].startswith(CODE_TASKS)]
    if not code or block["confirm_run_unsafe_code"]:
        return []
    return [f"eval.lmeval.confirm_run_unsafe_code: false, but {', '.join(code)} execute(s) "
            "model-written code; set it to true (in a sandbox) or remove them"]
