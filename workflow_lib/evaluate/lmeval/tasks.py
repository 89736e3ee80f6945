"""A self-contained lm-eval task folder: the demo pools' held-out tasks and offline benchmarks.

`write_task_folder` writes one YAML per task plus its data as JSONL under `data/`, always with
absolute paths (lm-eval resolves `data_files` against its working directory), and `tasks.json`
with the names to pass to `--tasks`. Local benchmarks are rebuilt from the public files:
GSM8K (`question`/`answer` JSONL), MMLU (a folder of `{dev,test}/{subject}_{split}.csv` with a
header row and answers 0-3) and TruthfulQA (`mc_task.json`, scored with the mc2 metric).
lm-eval's own tasks run through a group per chat-template setting (`HUB_GROUP`, with the run's;
`HUB_GROUPS` for the protocol benchmarks that set their own), each entry overriding lm-eval's
task config (shots, a seeded sample of the test documents, repeats, generation settings).
"""

from __future__ import annotations

import csv
import inspect
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, read_jsonl, read_records, write_json, write_jsonl
from workflow_lib.evaluate.lmeval.protocols import SAMPLE_SEED

GSM8K_MAX_GEN_TOKS = 256  # room for a worked solution, as in lm-eval's gsm8k task
HUB_GROUP = "sieve_hub"
# The group of the protocol benchmarks that set their own chat template, by that setting.
HUB_GROUPS = {True: "sieve_hub_chat", False: "sieve_hub_plain"}
TASKS_FILE = "tasks.json"
PROCESS_MODULE = "sieve_process"
MMLU_CHOICES = ("A", "B", "C", "D")
# The "QA prompt" of the TruthfulQA paper (Lin et al., 2022), which every mc2 number uses.
TRUTHFULQA_PRIMER = (
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain.\n\n"
)
_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$")


def truthfulqa_mc2(doc: dict, results: list) -> dict[str, float]:
    """lm-eval `process_results` for TruthfulQA mc2: the probability mass of the true answers,
    normalised over all answers.

    `results` holds one `(loglikelihood, is_greedy)` pair per choice in `doc["choices"]` order;
    `doc["labels"]` is 1 for a true answer, 0 for a false one.
    """
    lls = [ll for ll, _ in results]
    top = max(lls)
    weights = [math.exp(ll - top) for ll in lls]
    true_mass = sum(w for w, label in zip(weights, doc["labels"], strict=True) if label)
    return {"mc2": true_mass / sum(weights)}


def seeded_sample(dataset, k: int, seed: int):
    """lm-eval `process_docs`: `k` documents drawn as open-instruct draws them
    (`random.seed(seed); random.sample(docs, k)`), all of them where there are no more than
    `k`. Positions are drawn, so the same documents in the same order give the same draw."""
    if len(dataset) <= k:
        return dataset
    return dataset.select(random.Random(seed).sample(range(len(dataset)), k))


def _sample_function(k: int) -> str:
    """The name of the task folder's `process_docs` function drawing `k` documents."""
    return f"sample_{k}"


def gsm8k_answer(solution: str) -> str:
    """The final answer of a GSM8K solution: the number after `####`, without thousands commas."""
    lines = solution.strip().splitlines()
    match = _GSM8K_FINAL.search(lines[-1]) if lines else None
    if match is None:
        raise ValueError("no final '#### <answer>' line")
    return match.group(1).replace(",", "")


class _Function(str):
    """`module.function` in the task folder, written as lm-eval's `!function` YAML tag."""


class _TaskDumper(yaml.SafeDumper):
    """YAML for lm-eval: `_Function` values become `!function module.name`, and strings with
    line breaks are written double-quoted on one line, breaks escaped (readable prompts)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style='"' if "\n" in value else None)


_TaskDumper.add_representer(str, _represent_str)
_TaskDumper.add_representer(
    _Function, lambda dumper, value: dumper.represent_scalar("!function", str(value)))


def _json_data(data_dir: Path, task: str, splits: Mapping[str, Iterable[dict]]) -> dict:
    """Write each split to `data/{task}.{split}.jsonl`; the YAML keys that load them."""
    files = {}
    for split, docs in splits.items():
        path = data_dir / f"{task}.{split}.jsonl"
        write_jsonl(path, docs)
        files[split] = str(path.resolve())
    return {"dataset_path": "json", "dataset_kwargs": {"data_files": files}, "test_split": "test"}


def _file_task(data_dir: Path, task: str, docs: Sequence[dict], spec: Mapping) -> dict:
    """Dataset keys of a task read from one file: the first `num_fewshot` documents become the
    few-shot examples (and leave the test set), then the first `limit` others are tested."""
    k = spec["num_fewshot"]
    test = docs[k:][: spec["limit"]]
    if not test:
        raise DataError(f"task {task!r}: no test documents left after {k} few-shot examples",
                        path=spec["path"])
    if not k:
        return {**_json_data(data_dir, task, {"test": test}), "num_fewshot": 0}
    return {**_json_data(data_dir, task, {"test": test, "fewshot": docs[:k]}),
            "fewshot_split": "fewshot", "num_fewshot": k, "fewshot_config": {"sampler": "first_n"}}


def _exact_match(**options) -> list[dict]:
    return [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
             "ignore_case": True, **options}]


def _regex_filter(name: str, pattern: str, group_select: int = 0) -> dict:
    """A filter keeping the `group_select`-th match of `pattern` in the first generation."""
    return {"name": name, "filter": [
        {"function": "regex", "regex_pattern": pattern, "group_select": group_select},
        {"function": "take_first"}]}


def _mean(*metrics: str) -> list[dict]:
    return [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in metrics]


def heldout_tasks(pool: str, heldout: str | Path, heldout_mc: str | Path, data_dir: Path,
                  max_gen_toks: int) -> list[dict]:
    """The demo pool's held-out split as `{pool}_heldout_gen` (greedy answer, exact match
    ignoring case and punctuation) and `{pool}_heldout_mc` (multiple choice, acc/acc_norm)."""
    gen_docs = [{k: r[k] for k in ("id", "family", "question", "answer")}
                for _, r in read_jsonl(heldout)]
    mc_docs = [{k: r[k] for k in ("id", "family", "question", "choices", "label")}
               for _, r in read_jsonl(heldout_mc)]
    gen = {
        "task": f"{pool}_heldout_gen",
        **_json_data(data_dir, f"{pool}_heldout_gen", {"test": gen_docs}),
        "output_type": "generate_until",
        "doc_to_text": "{{question}}",
        "doc_to_target": "{{answer}}",
        "generation_kwargs": {"until": ["\n", "<|im_end|>", "</s>"],
                              "max_gen_toks": max_gen_toks, "do_sample": False},
        "filter_list": [{"name": "strip", "filter": [{"function": "remove_whitespace"},
                                                     {"function": "take_first"}]}],
        "metric_list": _exact_match(ignore_punctuation=True),
    }
    mc = {
        "task": f"{pool}_heldout_mc",
        **_json_data(data_dir, f"{pool}_heldout_mc", {"test": mc_docs}),
        "output_type": "multiple_choice",
        "doc_to_text": "{{question}}",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "label",
        "metric_list": _mean("acc", "acc_norm"),
    }
    return [gen, mc]


def gsm8k_task(name: str, spec: Mapping, data_dir: Path) -> list[dict]:
    """GSM8K from its JSONL: greedy worked solution, exact match on the final number, read from
    `#### N` (`strict`) or, failing a `####`, the last number in the output (`flexible`)."""
    docs = []
    for line, record in read_records(spec["path"]):
        try:
            answer = gsm8k_answer(record["answer"])
        except (KeyError, ValueError) as exc:
            raise DataError(f"not a GSM8K record: {exc}", path=spec["path"], line=line) from None
        docs.append({"question": record["question"], "solution": record["answer"],
                     "answer": answer})
    number = r"-?[$0-9.,]*[0-9]"
    return [{
        "task": name,
        **_file_task(data_dir, name, docs, spec),
        "output_type": "generate_until",
        "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_target": "{{answer}}",
        "fewshot_config": {"sampler": "first_n", "doc_to_target": "{{solution}}"},
        "generation_kwargs": {"until": ["Question:", "<|im_end|>", "</s>"],
                              "max_gen_toks": GSM8K_MAX_GEN_TOKS, "do_sample": False},
        "filter_list": [_regex_filter("strict", f"#### ({number})"),
                        _regex_filter("flexible", f"({number})", group_select=-1)],
        "metric_list": _exact_match(regexes_to_ignore=[",", r"\$", r"\.$"]),
    }]


def _mmlu_docs(path: Path) -> list[dict]:
    docs = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), 2):
            try:
                answer = int(row["answer"])
                choices = [row[f"choice{i}"] for i in range(4)]
                question = row["question"]
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"not an MMLU row (question,choice0..3,answer): {exc}",
                                path=path, line=line) from None
            if answer not in range(4):
                raise DataError(f"answer {answer} is not 0-3", path=path, line=line)
            docs.append({"question": question, "choices": choices, "answer": answer})
    return docs


def mmlu_tasks(name: str, spec: Mapping, data_dir: Path) -> list[dict]:
    """MMLU as a group `name` over one task per subject (`{name}_{subject}`), micro-averaged.

    One task per subject keeps the standard protocol: few-shot examples come from the same
    subject's dev split (the first `num_fewshot`) and `limit` applies per subject.
    """
    root = Path(spec["path"])
    tests = sorted((root / "test").glob("*_test.csv"))
    if not tests:
        raise DataError("no MMLU subjects (expected test/{subject}_test.csv)", path=root)
    k, subtasks = spec["num_fewshot"], []
    for test in tests:
        subject = test.name.removesuffix("_test.csv")
        splits = {"test": _mmlu_docs(test)[: spec["limit"]]}
        if k:
            dev = root / "dev" / f"{subject}_dev.csv"
            if not dev.is_file():
                raise DataError(f"missing few-shot split dev/{dev.name}", path=root)
            splits["dev"] = _mmlu_docs(dev)[:k]
        task = {
            "task": f"{name}_{subject}",
            **_json_data(data_dir, f"{name}_{subject}", splits),
            "output_type": "multiple_choice",
            "description": "The following are multiple choice questions (with answers) about "
                           f"{subject.replace('_', ' ')}.\n\n",
            "doc_to_text": "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\n"
                           "C. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:",
            "doc_to_choice": list(MMLU_CHOICES),
            "doc_to_target": "answer",
            "num_fewshot": k,
            "metric_list": _mean("acc"),
        }
        if k:
            task.update(fewshot_split="dev", fewshot_config={"sampler": "first_n"})
        subtasks.append(task)
    group = {"group": name, "task": [t["task"] for t in subtasks],
             "aggregate_metric_list": [{"metric": "acc", "aggregation": "mean",
                                        "weight_by_size": True}]}
    return [*subtasks, group]


def truthfulqa_mc2_task(name: str, spec: Mapping, data_dir: Path) -> list[dict]:
    """TruthfulQA multiple choice from `mc_task.json`, scored by `truthfulqa_mc2`."""
    docs = []
    for line, item in read_records(spec["path"]):
        targets = item.get("mc2_targets")
        if not isinstance(targets, dict) or 1 not in targets.values() or "question" not in item:
            raise DataError("not a TruthfulQA item (question, mc2_targets with a true answer)",
                            path=spec["path"], line=line)
        labels = list(targets.values())
        docs.append({"question": item["question"], "choices": list(targets),
                     "labels": labels, "target": labels.index(1)})
    return [{
        "task": name,
        **_file_task(data_dir, name, docs, spec),
        "output_type": "multiple_choice",
        "description": TRUTHFULQA_PRIMER,
        "doc_to_text": "Q: {{question}}\nA:",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "target",
        "process_results": _Function(f"{PROCESS_MODULE}.{truthfulqa_mc2.__name__}"),
        "metric_list": _mean("mc2"),
    }]


LOCAL_KINDS = {"gsm8k": gsm8k_task, "mmlu": mmlu_tasks, "truthfulqa_mc2": truthfulqa_mc2_task}


def _hub_entry(spec: Mapping) -> str | dict:
    """A group's entry for one hub task: its name, or its name and the keys it overrides (a
    `sample` becomes the `process_docs` that draws it)."""
    entry = {k: v for k, v in spec.items()
             if v is not None and k not in ("sample", "chat_template")}
    if spec.get("sample"):
        entry["process_docs"] = _Function(f"{PROCESS_MODULE}.{_sample_function(spec['sample'])}")
    return spec["task"] if list(entry) == ["task"] else entry


def hub_group(hub_tasks: Sequence[Mapping], name: str = HUB_GROUP) -> dict:
    """A group `name` running lm-eval's own tasks by name, each with its own overrides."""
    return {"group": name, "task": [_hub_entry(spec) for spec in hub_tasks]}


def _process_module(samples: Iterable[int]) -> str:
    """The task folder's Python module: `truthfulqa_mc2`, `seeded_sample` and one
    `sample_{k}` per sample size (lm-eval's `process_docs` takes the dataset only)."""
    wrappers = "".join(
        f"\n\ndef {_sample_function(k)}(dataset):\n"
        f"    return seeded_sample(dataset, {k}, {SAMPLE_SEED})\n" for k in sorted(set(samples)))
    return (f'"""Written by Sieve (workflow_lib/evaluate/lmeval/tasks.py)."""\n\nimport math\n'
            f"import random\n\n\n{inspect.getsource(truthfulqa_mc2)}\n\n"
            f"{inspect.getsource(seeded_sample)}{wrappers}")


def write_task_folder(out_dir: str | Path, *, heldout: Mapping[str, tuple[str, str]],
                      local_tasks: Mapping[str, Mapping], hub_tasks: Sequence[Mapping],
                      max_gen_toks: int, protocol: str | None = None) -> list[str]:
    """Write every task's YAML and data under `out_dir`; returns (and writes to `tasks.json`)
    the task and group names to evaluate, in order: held-out, local, then the hub group.

    `heldout` maps a demo pool to its (heldout.jsonl, heldout_mc.jsonl); `local_tasks` and
    `hub_tasks` are `eval.lmeval.local_tasks` / `hub_tasks` of the config (with its protocol's
    tasks); `protocol`, recorded in `tasks.json`, tells the run which rows to add
    (`run.protocol_rows`). Hub tasks with their own `chat_template` go to `HUB_GROUPS`, listed
    in `tasks.json` as `passes`: one more lm-eval call each, with that setting.
    """
    if not (heldout or local_tasks or hub_tasks):
        raise UserError("no lm-eval tasks: set eval.lmeval.heldout with a demo pool, or add "
                        "eval.lmeval.local_tasks or hub_tasks")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    configs, names = [], []
    for pool, (gen_path, mc_path) in heldout.items():
        tasks = heldout_tasks(pool, gen_path, mc_path, data_dir, max_gen_toks)
        configs += tasks
        names += [t["task"] for t in tasks]
    for name, spec in local_tasks.items():
        configs += LOCAL_KINDS[spec["kind"]](name, spec, data_dir)
        names.append(name)
    plain = [t for t in hub_tasks if t.get("chat_template") is None]
    if plain:
        configs.append(hub_group(plain))
        names.append(HUB_GROUP)
    passes = []
    for chat, group in HUB_GROUPS.items():
        own = [t for t in hub_tasks if t.get("chat_template") is chat]
        if own:
            configs.append(hub_group(own, group))
            passes.append({"tasks": [group], "apply_chat_template": chat})
    for config in configs:
        config["metadata"] = {"version": 1.0}
        text = yaml.dump(config, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True,
                         width=1 << 16)
        (out / f"{config.get('group', config['task'])}.yaml").write_text(text, encoding="utf-8")
    (out / f"{PROCESS_MODULE}.py").write_text(
        _process_module(t["sample"] for t in hub_tasks if t.get("sample")), encoding="utf-8")
    write_json(out / TASKS_FILE, {"tasks": names, "hub_tasks": [t["task"] for t in hub_tasks],
                                  "protocol": protocol, "passes": passes})
    return names
