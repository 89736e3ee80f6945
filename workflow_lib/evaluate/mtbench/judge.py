"""MT-bench single-answer grading of one model's answers, with a judgment cache.

Every judge call is appended to a JSONL cache (fsynced line by line) keyed by the request (judge
model, messages, temperature, max_tokens), the sample index (0..n-1) and the attempt, so a rerun
or a run resumed after a crash or a dead endpoint never pays for a call twice. A verdict with no
rating is recorded, retried up to `unparsable_retries` times, then counted as a failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path

from tqdm import tqdm

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError
from workflow_lib.evaluate.judge.client import Endpoint, chat_completion
from workflow_lib.evaluate.judge.server import LocalJudge
from workflow_lib.evaluate.mtbench.questions import JudgeItem, parse_rating

log = logging.getLogger(__name__)
# Judge settings that change how calls are made, not what they return.
TRANSPORT_KEYS = ("parallel", "timeout_s", "max_retries", "retry_wait_s")


def request_key(model: str, messages: list[dict], temperature: float, max_tokens: int) -> str:
    """sha256 of the request that determines a verdict (not the URL, never the key)."""
    text = json.dumps([model, messages, temperature, max_tokens], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class JudgmentCache:
    """Append-only JSONL of judge calls: {key, judge_model, sample, attempt, verdict, rating}.

    A last line cut short by a crash is dropped (and truncated away); any other bad line is a
    DataError naming the file and line.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int, int], dict] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if lines[-1]:  # no final newline: the write of this line was interrupted
            log.warning("%s: dropping an incomplete last line", self.path)
            with open(self.path, "r+b") as fh:
                fh.truncate(len(data) - len(lines[-1]))
        for number, line in enumerate(lines[:-1], 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self._entries[entry["key"], entry["sample"], entry["attempt"]] = entry
            except (ValueError, KeyError, TypeError) as err:
                raise DataError(f"bad cache entry ({err}); delete the file to start over",
                                path=self.path, line=number) from None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, sample: int, attempt: int) -> dict | None:
        return self._entries.get((key, sample, attempt))

    def add(self, entry: dict) -> dict:
        """Append `entry` (with key, sample, attempt) durably and remember it."""
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            self._entries[entry["key"], entry["sample"], entry["attempt"]] = entry
        return entry


def judge_one(item: JudgeItem, sample: int, endpoint: Endpoint, cache: JudgmentCache, *,
              temperature: float, max_tokens: int, unparsable_retries: int) -> dict:
    """Grade one answer turn once (sample `sample`): the judgment record, score None if no
    verdict of the `1 + unparsable_retries` attempts had a rating."""
    messages = item.messages()
    key = request_key(endpoint.model, messages, temperature, max_tokens)
    calls = 0
    for attempt in range(unparsable_retries + 1):
        entry = cache.get(key, sample, attempt)
        if entry is None:
            verdict = chat_completion(endpoint, messages, temperature=temperature,
                                      max_tokens=max_tokens)
            calls += 1
            entry = cache.add({"key": key, "judge_model": endpoint.model, "sample": sample,
                               "attempt": attempt, "verdict": verdict,
                               "rating": parse_rating(verdict), "tstamp": time.time()})
        if entry["rating"] is not None:
            break
        log.warning("question %d turn %d sample %d: verdict without a rating (attempt %d/%d): "
                    "%.200r", item.question_id, item.turn, sample, attempt + 1,
                    unparsable_retries + 1, entry["verdict"])
    return {"question_id": item.question_id, "category": item.category, "turn": item.turn,
            "sample": sample, "judge": [endpoint.model, item.prompt_name],
            "user_prompt": item.user, "judgment": entry["verdict"], "score": entry["rating"],
            "attempts": attempt + 1, "new_calls": calls, "tstamp": entry["tstamp"]}


def judge_answers(items: Sequence[JudgeItem], endpoint: Endpoint, cache: JudgmentCache, *,
                  n: int = 1, temperature: float = 0.0, max_tokens: int = 2048,
                  unparsable_retries: int = 2, parallel: int = 1,
                  progress: bool = True) -> list[dict]:
    """`n` judgments of every item, `parallel` requests at a time, in item then sample order.

    On the first failure (JudgeUnavailable) pending calls are cancelled and the error is raised;
    everything already judged stays in the cache.
    """
    tasks = [(item, sample) for item in items for sample in range(n)]
    results: list[dict | None] = [None] * len(tasks)
    with ThreadPoolExecutor(max_workers=parallel) as pool, \
            tqdm(total=len(tasks), desc="judging", disable=not progress) as bar:
        futures = {pool.submit(judge_one, item, sample, endpoint, cache, temperature=temperature,
                               max_tokens=max_tokens, unparsable_retries=unparsable_retries): i
                   for i, (item, sample) in enumerate(tasks)}
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


def judge_endpoint(judge: dict, base_url: str | None = None) -> Endpoint:
    """The Endpoint of a judge config (`eval.mtbench.judge`): its base_url (or `base_url`, the
    local judge's) and the API key from the environment variable named by `api_key_env`."""
    key = None
    if judge["api_key_env"]:
        key = os.environ.get(judge["api_key_env"])
        if not key:
            raise UserError(f"eval.mtbench.judge.api_key_env: environment variable "
                            f"{judge['api_key_env']} is not set (it must hold the judge's API key)")
    return Endpoint(base_url or judge["base_url"], judge["model"], key,
                    timeout_s=judge["timeout_s"], max_retries=judge["max_retries"],
                    retry_wait_s=judge["retry_wait_s"])


def judge_run(run: str, items: Sequence[JudgeItem], judge: dict, cache_path: str | os.PathLike,
              progress: bool = True) -> list[dict]:
    """Judge one run's items with the configured judge (kind "local": the deterministic local
    server, started for this call), using and extending the cache at `cache_path`; the
    judgment records carry `model` = run."""
    cache = JudgmentCache(cache_path)
    settings = {k: judge[k] for k in ("n", "temperature", "max_tokens", "unparsable_retries",
                                      "parallel")}
    with ExitStack() as stack:
        local = stack.enter_context(LocalJudge()) if judge["kind"] == "local" else None
        endpoint = judge_endpoint(judge, local.base_url if local else None)
        log.info("judging %d answer turns x %d with %s at %s (%d cached calls)", len(items),
                 judge["n"], endpoint.model, endpoint.base_url, len(cache))
        judgments = judge_answers(items, endpoint, cache, progress=progress, **settings)
    log.info("%d new judge calls, %d judgments without a rating",
             sum(j["new_calls"] for j in judgments), sum(j["score"] is None for j in judgments))
    return [{"model": run, **j} for j in judgments]
