"""A minimal client for any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM,
FastChat's API server, the project's local judge), with a timeout and bounded retries.

The API key is read by the caller from an environment variable and only ever sent in the
`Authorization` header: every message this module produces passes through `redact`.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from workflow_lib.core.errors import UserError

log = logging.getLogger(__name__)
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_WAIT_S = 60.0


class JudgeUnavailable(UserError):
    """The endpoint kept failing (or refused the request); the message names it, not the key."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call the judge. `api_key` never appears in repr or messages."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 120.0
    max_retries: int = 5
    retry_wait_s: float = 2.0

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the API key replaced by `***`."""
        return text.replace(self.api_key, "***") if self.api_key else text


def chat_completion(endpoint: Endpoint, messages: list[dict], *, temperature: float,
                    max_tokens: int) -> str:
    """The assistant message of one chat completion (n=1).

    Connection errors, timeouts, HTTP 408/409/425/429/5xx and malformed responses are retried
    `max_retries` times with exponential backoff (`retry_wait_s`·2^k, at most 60 s); other HTTP
    errors (401, 404, ...) fail at once. Raises JudgeUnavailable.
    """
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    body = json.dumps({"model": endpoint.model, "messages": messages, "n": 1,
                       "temperature": temperature, "max_tokens": max_tokens}).encode()
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    problem = ""
    for attempt in range(endpoint.max_retries + 1):
        if attempt:
            wait = min(endpoint.retry_wait_s * 2 ** (attempt - 1), MAX_WAIT_S)
            log.warning("judge %s: %s; retry %d/%d in %.1f s", url, problem, attempt,
                        endpoint.max_retries, wait)
            time.sleep(wait)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=endpoint.timeout_s) as response:
                return _content(json.loads(response.read()))
        except urllib.error.HTTPError as err:
            detail = err.read(500).decode("utf-8", "replace")
            problem = endpoint.redact(f"HTTP {err.code}: {detail}")
            if err.code not in RETRY_STATUS:
                break
        except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
            # URLError, timeouts, resets; bad JSON or a response without choices[0].message
            problem = endpoint.redact(f"{type(err).__name__}: {err}")
    raise JudgeUnavailable(f"judge {url} (model {endpoint.model}) failed: {problem}")


def _content(response: dict) -> str:
    content = response["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError(f"choices[0].message.content is {type(content).__name__}, not a string")
    return content
