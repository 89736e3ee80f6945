"""MT-bench single-answer grading of one model's answers, through the judgment cache.

Every judge call is cached (`evaluate.judge.cache`) by request, sample index (0..n-1) and attempt,
so a rerun or a run resumed after a crash or a dead endpoint never pays for a call twice. A
verdict with no rating is recorded, retried up to `unparsable_retries` times, then counted as a
failure.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence

from workflow_lib.evaluate.judge.cache import JudgmentCache
from workflow_lib.evaluate.judge.client import Endpoint
from workflow_lib.evaluate.judge.runner import judge_with_retries, open_judge, run_parallel
from workflow_lib.evaluate.mtbench.questions import JudgeItem, parse_rating

log = logging.getLogger(__name__)


def judge_one(item: JudgeItem, sample: int, endpoint: Endpoint, cache: JudgmentCache, *,
              temperature: float, max_tokens: int, unparsable_retries: int) -> dict:
    """Grade one answer turn once (sample `sample`): the judgment record, score None if no
    verdict of the `1 + unparsable_retries` attempts had a rating."""
    verdict = judge_with_retries(endpoint, cache, item.messages(), sample=sample,
                                 temperature=temperature, max_tokens=max_tokens,
                                 unparsable_retries=unparsable_retries, parse=parse_rating,
                                 field="rating",
                                 label=f"question {item.question_id} turn {item.turn}")
    return {"question_id": item.question_id, "category": item.category, "turn": item.turn,
            "sample": sample, "judge": [endpoint.model, item.prompt_name],
            "user_prompt": item.user, "judgment": verdict.text, "score": verdict.parsed,
            "attempts": verdict.attempts, "new_calls": verdict.new_calls,
            "tstamp": verdict.tstamp}


def judge_answers(items: Sequence[JudgeItem], endpoint: Endpoint, cache: JudgmentCache, *,
                  n: int = 1, temperature: float = 0.0, max_tokens: int = 2048,
                  unparsable_retries: int = 2, parallel: int = 1,
                  progress: bool = True) -> list[dict]:
    """`n` judgments of every item, `parallel` requests at a time, in item then sample order.

    On the first failure (JudgeUnavailable) pending calls are cancelled and the error is raised;
    everything already judged stays in the cache.
    """
    tasks = [functools.partial(judge_one, item, sample, endpoint, cache, temperature=temperature,
                               max_tokens=max_tokens, unparsable_retries=unparsable_retries)
             for item in items for sample in range(n)]
    return run_parallel(tasks, parallel=parallel, progress=progress)


def judge_run(run: str, items: Sequence[JudgeItem], judge: dict, cache_path: str | os.PathLike,
              progress: bool = True) -> list[dict]:
    """Judge one run's items with the configured judge (kind "local": the deterministic local
    server, started for this call), using and extending the cache at `cache_path`; the
    judgment records carry `model` = run."""
    cache = JudgmentCache(cache_path)
    settings = {k: judge[k] for k in ("n", "temperature", "max_tokens", "unparsable_retries",
                                      "parallel")}
    with open_judge(judge, setting="eval.mtbench.judge") as endpoint:
        log.info("judging %d answer turns x %d with %s at %s (%d cached calls)", len(items),
                 judge["n"], endpoint.model, endpoint.base_url, len(cache))
        judgments = judge_answers(items, endpoint, cache, progress=progress, **settings)
    log.info("%d new judge calls, %d judgments without a rating",
             sum(j["new_calls"] for j in judgments), sum(j["score"] is None for j in judgments))
    return [{"model": run, **j} for j in judgments]
