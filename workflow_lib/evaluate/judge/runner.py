"""Judging through the cache: one verdict per (request, sample), retried while unparsable, many
requests at a time, against the endpoint a judge config names (the local stand-in started on
demand). MT-bench and pairwise judging both run through here.

A judge config (`eval.<evaluator>.judge`) has `kind` ("local" or an OpenAI-compatible endpoint),
`base_url`, `model`, `api_key_env` (the name of the environment variable holding the key, never
the key), and the transport settings `TRANSPORT_KEYS`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tqdm import tqdm

from workflow_lib.core.errors import UserError
from workflow_lib.evaluate.judge import TRANSPORT_KEYS
from workflow_lib.evaluate.judge.cache import JudgmentCache, request_key
from workflow_lib.evaluate.judge.client import Endpoint, chat_completion
from workflow_lib.evaluate.judge.server import LocalJudge

log = logging.getLogger(__name__)
T = TypeVar("T")


def job_settings(shaping: Mapping, judge_config: Mapping) -> dict:
    """The settings a judging job runs with: those that shape the judgments (a rule parameter,
    so that a change reruns the job) and the transport ones, read from the config."""
    return {**shaping, **{key: judge_config[key] for key in TRANSPORT_KEYS}}


@dataclass(frozen=True)
class Verdict:
    """The last verdict of a request: its text, what was parsed from it (None: no attempt
    parsed), the attempts used, the calls paid in this run (0: all cached) and its time."""

    text: str
    parsed: Any
    attempts: int
    new_calls: int
    tstamp: float


def judge_with_retries(endpoint: Endpoint, cache: JudgmentCache, messages: list[dict], *,
                       sample: int, temperature: float, max_tokens: int, unparsable_retries: int,
                       parse: Callable[[str], Any], field: str, label: str,
                       record: str | None = None) -> Verdict:
    """Ask the judge `messages` (sample `sample`) until `parse` reads the verdict, at most
    `1 + unparsable_retries` attempts; every attempt is cached with the parsed value under
    `field` (None when unparsable) and is answered from the cache when already there. `label`
    names the request in log messages; `record`, when given, makes the request that record's
    own (`cache.request_key`)."""
    key = request_key(endpoint.model, messages, temperature, max_tokens, record)
    calls = 0
    for attempt in range(unparsable_retries + 1):
        entry = cache.get(key, sample, attempt)
        if entry is None:
            verdict = chat_completion(endpoint, messages, temperature=temperature,
                                      max_tokens=max_tokens)
            calls += 1
            entry = cache.add({"key": key, "judge_model": endpoint.model, "sample": sample,
                               "attempt": attempt, "verdict": verdict, field: parse(verdict),
                               "tstamp": time.time()})
        if entry[field] is not None:
            break
        log.warning("%s sample %d: verdict without a %s (attempt %d/%d): %.200r", label, sample,
                    field, attempt + 1, unparsable_retries + 1, entry["verdict"])
    return Verdict(entry["verdict"], entry[field], attempt + 1, calls, entry["tstamp"])


def run_parallel(tasks: Sequence[Callable[[], T]], *, parallel: int = 1, progress: bool = True,
                 desc: str = "judging") -> list[T]:
    """The results of `tasks`, `parallel` at a time, in task order.

    On the first failure (JudgeUnavailable) pending tasks are cancelled and the error is raised;
    what the finished tasks cached stays in the cache.
    """
    results: list[T | None] = [None] * len(tasks)
    with ThreadPoolExecutor(max_workers=parallel) as pool, \
            tqdm(total=len(tasks), desc=desc, disable=not progress) as bar:
        futures = {pool.submit(task): i for i, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                results[futures[future]] = future.result()
                bar.update()
    return results  # type: ignore[return-value]


def judge_endpoint(judge: dict, base_url: str | None = None, *, setting: str) -> Endpoint:
    """The Endpoint of a judge config (found at `setting`, e.g. `eval.mtbench.judge`): its
    base_url (or `base_url`, the local judge's) and the API key from the environment variable
    named by `api_key_env`."""
    key = None
    if judge["api_key_env"]:
        key = os.environ.get(judge["api_key_env"])
        if not key:
            raise UserError(f"{setting}.api_key_env: environment variable "
                            f"{judge['api_key_env']} is not set (it must hold the judge's API key)")
    return Endpoint(base_url or judge["base_url"], judge["model"], key,
                    timeout_s=judge["timeout_s"], max_retries=judge["max_retries"],
                    retry_wait_s=judge["retry_wait_s"])


@contextmanager
def open_judge(judge: dict, *, setting: str) -> Iterator[Endpoint]:
    """The endpoint of a judge config; kind "local" starts the deterministic stand-in server on
    loopback for the duration of the block."""
    if judge["kind"] == "local":
        with LocalJudge() as local:
            yield judge_endpoint(judge, local.base_url, setting=setting)
    else:
        yield judge_endpoint(judge, setting=setting)
