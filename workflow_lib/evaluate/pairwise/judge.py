"""Pairwise judging of two runs' answers (A = the run, B = its reference run) as Cherry LLM's
`eval.py` does it: the judge prompt, its parsing, and both orders of every question.

Every question is judged twice, (A, B) as Assistants 1 and 2, then reversed (B, A), through the
shared judge client and judgment cache (`evaluate.judge`): sample 0 is the first order, sample 1
the reversed one, so that a question whose two answers are equal still gets two calls, as in the
reference. The cache key includes the test set and the record's id: a question that reappears in
another set (39 Vicuna questions are in LIMA) or twice in one set is judged once per record and
order, as the reference's `eval.py` does, and a rerun still pays nothing twice. A verdict whose
first line is not exactly two numbers is recorded, retried up to `unparsable_retries` times, then
counted as a failure — never as the reference's silent [-1, -1] pseudo-score.

Requests: temperature 0 and a fixed `max_tokens` (default 1024). The reference lowers max_tokens
to 4070 − prompt tokens (tiktoken cl100k_base) to fit a 4k context; with a judge whose context
is larger that cap never binds, and the verdict's first line, the only part scored, comes first.
The reference also sends top_p 1 (the API's default, moot at temperature 0); it is not sent.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from workflow_lib.core.jsonio import DataError, read_jsonl, type_name
from workflow_lib.evaluate.judge.cache import JudgmentCache
from workflow_lib.evaluate.judge.client import Endpoint
from workflow_lib.evaluate.judge.runner import (
    Verdict,
    judge_with_retries,
    open_judge,
    run_parallel,
)
from workflow_lib.evaluate.pairwise.score import outcome
from workflow_lib.evaluate.pairwise.testsets import Question

log = logging.getLogger(__name__)

SYSTEM_PROMPT = "You are a helpful and precise assistant for checking the quality of the answer."
USER_TEMPLATE = (
    "[Question]\n{question}\n\n[The Start of Assistant 1's Answer]\n{answer_1}\n\n"
    "[The End of Assistant 1's Answer]\n\n[The Start of Assistant 2's Answer]\n{answer_2}\n\n"
    "[The End of Assistant 2's Answer]\n\n[System]\n{criteria}\n\n")
CRITERIA = (
    "We would like to request your feedback on the performance of two AI assistants in response "
    "to the user question displayed above.\nPlease rate the helpfulness, relevance, accuracy, "
    "level of details of their responses. Each assistant receives an overall score on a scale "
    "of 1 to 10, where a higher score indicates better overall performance.\nPlease first output "
    "a single line containing only two values indicating the scores for Assistant 1 and 2, "
    "respectively. The two scores are separated by a space. In the subsequent line, please "
    "provide a comprehensive explanation of your evaluation, avoiding any potential bias and "
    "ensuring that the order in which the responses were presented does not affect your "
    "judgment.")


def judge_messages(question: str, answer_1: str, answer_2: str) -> list[dict[str, str]]:
    """The system and user messages asking to score `answer_1` and `answer_2` to `question`."""
    user = USER_TEMPLATE.format(question=question, answer_1=answer_1, answer_2=answer_2,
                                criteria=CRITERIA)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_scores(review: str) -> list[float] | None:
    """The two scores on the review's first line (commas read as spaces, split on single
    spaces, exactly two finite numbers); None otherwise."""
    parts = review.split("\n")[0].replace(",", " ").split(" ")
    if len(parts) != 2:
        return None
    try:
        scores = [float(p) for p in parts]
    except ValueError:
        return None
    return scores if all(math.isfinite(s) for s in scores) else None


def load_answers(path: str | os.PathLike) -> dict[tuple[str, str], str]:
    """A run's answer file as {(set, question_id): answer}."""
    answers = {}
    for line, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type_name(record)}", path=path,
                            line=line)
        for key in ("set", "question_id", "answer"):
            if not isinstance(record.get(key), str):
                raise DataError(f"expected str, got {type_name(record.get(key))}", path=path,
                                line=line, field=key)
        answers[record["set"], record["question_id"]] = record["answer"]
    return answers


@dataclass(frozen=True)
class PairItem:
    """One question with the answers of A and B."""

    set: str
    question_id: str
    question: str
    answer_a: str
    answer_b: str

    def messages(self, reverse: bool) -> list[dict[str, str]]:
        """The judge request: A as Assistant 1 (first order), or B as Assistant 1 (reversed)."""
        first, second = (self.answer_b, self.answer_a) if reverse else (self.answer_a,
                                                                          self.answer_b)
        return judge_messages(self.question, first, second)


def pair_items(questions: Sequence[Question], answers_a: Mapping[tuple[str, str], str],
               answers_b: Mapping[tuple[str, str], str], *, files: tuple[str, str] = ("A", "B")
               ) -> list[PairItem]:
    """The items to judge; the question is the instruction alone (for Self-instruct without the
    instance input the generation prompt had). DataError, naming the answer file (`files`),
    when a question has no answer."""
    items = []
    for q in questions:
        key = (q.set, q.question_id)
        for answers, name in ((answers_a, files[0]), (answers_b, files[1])):
            if key not in answers:
                raise DataError(f"no answer to {q.set} question {q.question_id}", path=name)
        items.append(PairItem(q.set, q.question_id, q.instruction, answers_a[key],
                              answers_b[key]))
    return items


def _judge_order(item: PairItem, reverse: bool, endpoint: Endpoint, cache: JudgmentCache, *,
                 temperature: float, max_tokens: int, unparsable_retries: int) -> Verdict:
    return judge_with_retries(
        endpoint, cache, item.messages(reverse), sample=int(reverse), temperature=temperature,
        max_tokens=max_tokens, unparsable_retries=unparsable_retries, parse=parse_scores,
        field="scores", label=f"{item.set} question {item.question_id} "
                              f"{'reversed' if reverse else 'first'} order",
        record=f"{item.set}/{item.question_id}")


def judge_pairs(items: Sequence[PairItem], endpoint: Endpoint, cache: JudgmentCache, *,
                temperature: float = 0.0, max_tokens: int = 1024, unparsable_retries: int = 2,
                parallel: int = 1, progress: bool = True) -> list[dict]:
    """Both orders of every item, `parallel` requests at a time: one record per item, in item
    order, with the verdicts as presented (`scores` = [A, B] of the first order,
    `scores_reverse` = [B, A] of the reversed one, None when unparsable) and A's `outcome`
    (win, tie, lose, failed).

    On the first failure (JudgeUnavailable) pending calls are cancelled and the error is raised;
    everything already judged stays in the cache.
    """
    tasks = [functools.partial(_judge_order, item, reverse, endpoint, cache,
                               temperature=temperature, max_tokens=max_tokens,
                               unparsable_retries=unparsable_retries)
             for item in items for reverse in (False, True)]
    verdicts = run_parallel(tasks, parallel=parallel, progress=progress)
    return [{"set": item.set, "question_id": item.question_id, "judge_model": endpoint.model,
             "scores": first.parsed, "scores_reverse": second.parsed,
             "outcome": outcome(first.parsed, second.parsed), "review": first.text,
             "review_reverse": second.text, "attempts": [first.attempts, second.attempts],
             "new_calls": first.new_calls + second.new_calls}
            for item, first, second in zip(items, verdicts[0::2], verdicts[1::2], strict=True)]


def judge_pair_run(run: str, reference: str, items: Sequence[PairItem], judge: dict,
                   cache_path: str | os.PathLike, progress: bool = True) -> list[dict]:
    """Judge `run` (A) against `reference` (B) on `items` with the configured judge (kind
    "local": the deterministic stand-in server, started for this call), using and extending
    the cache at `cache_path`; the records carry `run` and `reference`."""
    cache = JudgmentCache(cache_path)
    settings = {k: judge[k] for k in ("temperature", "max_tokens", "unparsable_retries",
                                      "parallel")}
    with open_judge(judge, setting="eval.pairwise.judge") as endpoint:
        log.info("judging %s against %s: %d questions x 2 orders with %s at %s (%d cached "
                 "calls)", run, reference, len(items), endpoint.model, endpoint.base_url,
                 len(cache))
        records = judge_pairs(items, endpoint, cache, progress=progress, **settings)
    log.info("%d new judge calls, %d questions failed", sum(r["new_calls"] for r in records),
             sum(r["outcome"] == "failed" for r in records))
    return [{"run": run, "reference": reference, **r} for r in records]
