"""MT-bench (FastChat `llm_judge`) data, answer files, judge prompts, ratings and scores.

The data are FastChat's own files at a pinned commit: the 80 two-turn questions, GPT-4 reference
answers for the math/reasoning/coding questions, and the judge prompt templates. Answers are
written in FastChat's answer format (`question_id, answer_id, model_id, choices, tstamp`) so that
FastChat's `gen_judgment`/`show_result` read them. Judging follows `gen_judgment --mode single`:
`single-v1` for turn 1, `single-v1-multi-turn` for turn 2, and the `single-math-v1` variants with
the reference answer for the categories in `NEED_REF_CATS`; the rating is the first `[[x]]` in the
verdict, else the first `[x]`.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, read_jsonl, type_name
from workflow_lib.data.pinned import PinnedFile, fetch_pinned
from workflow_lib.evaluate.metrics import MetricRow, RunMetrics

FASTCHAT_COMMIT = "0e6d3e4"
RAW_URL = "https://raw.githubusercontent.com/lm-sys/FastChat/{commit}/{path}"
# Local name -> (path in the FastChat repository, sha256 at FASTCHAT_COMMIT).
DATA_FILES = {
    "question.jsonl": (
        "fastchat/llm_judge/data/mt_bench/question.jsonl",
        "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7"),
    "reference_answer/gpt-4.jsonl": (
        "fastchat/llm_judge/data/mt_bench/reference_answer/gpt-4.jsonl",
        "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f"),
    "judge_prompts.jsonl": (
        "fastchat/llm_judge/data/judge_prompts.jsonl",
        "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6"),
}

# FastChat's sampling temperature per category (0.7 for any other category).
TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                "reasoning": 0.0, "stem": 0.1, "humanities": 0.1, "arena-hard-200": 0.0}
DEFAULT_TEMPERATURE = 0.7
NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
# Judge prompt by (reference-guided, turn).
JUDGE_PROMPTS = {(False, 1): "single-v1", (True, 1): "single-math-v1",
                 (False, 2): "single-v1-multi-turn", (True, 2): "single-math-v1-multi-turn"}
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def fetch_data(out_dir: str | os.PathLike, local_data: str | os.PathLike | None = None,
               check_sha256: bool = True) -> dict:
    """Put the three MT-bench files into `out_dir` (FastChat's layout under data/mt_bench):
    copied from the folder `local_data`, or downloaded from GitHub at FASTCHAT_COMMIT when it is
    None. Downloads, and local files when `check_sha256`, must match the pinned sha256 sums.
    Returns {name: {"source", "sha256"}}."""
    files = [PinnedFile(name, RAW_URL.format(commit=FASTCHAT_COMMIT, path=path), sha256)
             for name, (path, sha256) in DATA_FILES.items()]
    return fetch_pinned(files, out_dir, local_data, check_sha256, what="MT-bench",
                        origin=f"FastChat {FASTCHAT_COMMIT}", setting="eval.mtbench.local_data")


def _field(record: Mapping, key: str, kind: type | tuple[type, ...], path, line: int):
    value = record.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(f"expected {getattr(kind, '__name__', kind)}, got {type_name(value)}",
                        path=path, line=line, record_id=str(record.get("question_id")),
                        field=key)
    return value


def _two_strings(record: Mapping, key: str, path, line: int) -> list[str]:
    turns = _field(record, key, list, path, line)
    if len(turns) != 2 or not all(isinstance(t, str) for t in turns):
        raise DataError("expected a list of two strings", path=path, line=line,
                        record_id=str(record.get("question_id")), field=key)
    return turns


def _objects(path: str | os.PathLike):
    """(line, record) of a JSONL file whose every line must be a JSON object."""
    for line, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type_name(record)}", path=path,
                            line=line)
        yield line, record


def load_questions(path: str | os.PathLike) -> list[dict]:
    """MT-bench questions (`question_id` int, `category` str, `turns` two strings)."""
    questions, seen = [], set()
    for line, record in _objects(path):
        qid = _field(record, "question_id", int, path, line)
        _field(record, "category", str, path, line)
        _two_strings(record, "turns", path, line)
        if qid in seen:
            raise DataError("duplicate question_id", path=path, line=line, record_id=str(qid))
        seen.add(qid)
        questions.append(record)
    return questions


def subset_questions(questions: Sequence[dict], per_category: int | None) -> list[dict]:
    """The first `per_category` questions of each category, in file order (None: all)."""
    if per_category is None:
        return list(questions)
    taken: dict[str, int] = {}
    chosen = []
    for q in questions:
        if taken.get(q["category"], 0) < per_category:
            taken[q["category"]] = taken.get(q["category"], 0) + 1
            chosen.append(q)
    return chosen


def load_answers(path: str | os.PathLike) -> dict[int, list[str]]:
    """A FastChat answer file (model or reference answers) as {question_id: [turn1, turn2]},
    first choice."""
    answers = {}
    for line, record in _objects(path):
        qid = _field(record, "question_id", int, path, line)
        choices = _field(record, "choices", list, path, line)
        if not choices or not isinstance(choices[0], dict):
            raise DataError("expected a non-empty list of objects", path=path, line=line,
                            record_id=str(qid), field="choices")
        answers[qid] = _two_strings(choices[0], "turns", path, line)
    return answers


def load_judge_prompts(path: str | os.PathLike) -> dict[str, dict]:
    """Judge prompt templates by name; the four single-answer grading prompts must be there."""
    prompts = {}
    for line, record in _objects(path):
        name = _field(record, "name", str, path, line)
        for key in ("system_prompt", "prompt_template", "output_format"):
            _field(record, key, str, path, line)
        prompts[name] = record
    for name in JUDGE_PROMPTS.values():
        if name not in prompts:
            raise DataError(f"judge prompt {name!r} missing", path=path)
        if prompts[name]["output_format"] != "[[rating]]":
            raise DataError(f"judge prompt {name!r}: output_format must be [[rating]]", path=path)
    return prompts


def answer_record(question_id: int, model_id: str, turns: Sequence[str], tstamp: float) -> dict:
    """One line of a FastChat answer file; `answer_id` is derived from the content, so equal
    answers give identical files."""
    digest = hashlib.sha256(repr((question_id, model_id, list(turns))).encode()).hexdigest()
    return {"question_id": question_id, "answer_id": digest[:22], "model_id": model_id,
            "choices": [{"index": 0, "turns": list(turns)}], "tstamp": tstamp}


@dataclass(frozen=True)
class JudgeItem:
    """One answer turn to grade: the judge prompt's name and the rendered messages."""

    question_id: int
    category: str
    turn: int
    prompt_name: str
    system: str
    user: str

    def messages(self) -> list[dict[str, str]]:
        """OpenAI chat messages, as FastChat sends them (system message only if non-empty)."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": self.user}]


def judge_items(questions: Iterable[dict], answers: Mapping[int, Sequence[str]],
                references: Mapping[int, Sequence[str]], prompts: Mapping[str, dict],
                answer_file: str | os.PathLike = "answers") -> list[JudgeItem]:
    """The single-answer grading items of every question, turn 1 then turn 2 per question.

    Raises DataError when a question has no answer, or a reference-guided one no reference.
    """
    items = []
    for q in questions:
        qid = q["question_id"]
        if qid not in answers:
            raise DataError("no answer to this question", path=answer_file, record_id=str(qid))
        a1, a2 = answers[qid]
        ref_based = q["category"] in NEED_REF_CATS
        refs = {}
        if ref_based:
            if qid not in references:
                raise DataError(f"no reference answer for this {q['category']} question",
                                path="reference_answer/gpt-4.jsonl", record_id=str(qid))
            refs = {"ref_answer_1": references[qid][0], "ref_answer_2": references[qid][1]}
        q1, q2 = q["turns"]
        for turn, fields in ((1, {"question": q1, "answer": a1}),
                             (2, {"question_1": q1, "question_2": q2, "answer_1": a1,
                                  "answer_2": a2})):
            prompt = prompts[JUDGE_PROMPTS[ref_based, turn]]
            user = prompt["prompt_template"].format(**fields, **refs)
            items.append(JudgeItem(qid, q["category"], turn, prompt["name"],
                                   prompt["system_prompt"], user))
    return items


def parse_rating(verdict: str) -> float | None:
    """The rating in a judge's verdict: the first `[[x]]`, else the first `[x]`; None if absent."""
    match = _RATING.search(verdict) or _RATING_BACKUP.search(verdict)
    return float(ast.literal_eval(match.group(1))) if match else None


def _mean_and_stderr(values: Sequence[float]) -> tuple[float, float | None]:
    mean = statistics.fmean(values)
    stderr = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None
    return mean, stderr


def mtbench_metrics(run: str, judgments: Sequence[dict], n: int) -> RunMetrics:
    """Metrics of one run's judgments (`question_id, category, turn, sample, score`, score
    None for a failed judgment).

    Per item (question, turn) the median over the judge's `n` samples that gave a rating; the
    score is the mean of the items' medians, with the standard error over items. Rows:
    `mt_bench` score, score_turn1, score_turn2, judge_spread (range of the per-sample mean
    scores: how much the `n` judgments disagree), failures (judgments with no rating, counted,
    never scored); `mt_bench_{category}` score.
    """
    by_item: dict[tuple[int, int], list[float]] = {}
    category: dict[int, str] = {}
    per_sample: dict[int, list[float]] = {}
    failures = 0
    for j in judgments:
        category[j["question_id"]] = j["category"]
        by_item.setdefault((j["question_id"], j["turn"]), [])
        if j["score"] is None:
            failures += 1
            continue
        by_item[j["question_id"], j["turn"]].append(j["score"])
        per_sample.setdefault(j["sample"], []).append(j["score"])
    medians = {key: statistics.median(v) for key, v in by_item.items() if v}
    if not medians:
        raise UserError(f"run {run}: none of the {len(judgments)} MT-bench judgments gave a "
                        "rating; see the judgments file for the verdicts")

    def row(benchmark: str, metric: str, values: Sequence[float]) -> MetricRow:
        value, stderr = _mean_and_stderr(values)
        return MetricRow(benchmark, metric, value, stderr, n=len(values), higher_is_better=True)

    rows = [row("mt_bench", "score", list(medians.values()))]
    for turn in (1, 2):
        values = [v for (_, t), v in medians.items() if t == turn]
        if values:
            rows.append(row("mt_bench", f"score_turn{turn}", values))
    sample_means = [statistics.fmean(v) for v in per_sample.values()]
    rows.append(MetricRow("mt_bench", "judge_spread", max(sample_means) - min(sample_means),
                          stderr=None, n=n, higher_is_better=False))
    rows.append(MetricRow("mt_bench", "failures", float(failures), stderr=None,
                          n=len(judgments), higher_is_better=False))
    for cat in dict.fromkeys(category.values()):
        values = [v for (qid, _), v in medians.items() if category[qid] == cat]
        if values:
            rows.append(row(f"mt_bench_{cat}", "score", values))
    return RunMetrics(run, "mtbench", rows)
