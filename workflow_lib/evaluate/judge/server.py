"""A local, deterministic stand-in for the MT-bench and pairwise judges: an OpenAI
chat-completions server on 127.0.0.1 (stdlib only).

It is NOT a judge of quality. Its verdict is derived from the answers' text: an answer's score is
1 + 9·d/(d + 30) rounded down, d = distinct words, so longer, more varied answers score higher,
and equal answers always get equal scores. An MT-bench prompt gets `[[score]]` of the graded
answer (the last one in the prompt); a pairwise prompt (Assistant 1 and 2) gets the two answers'
scores on its first line, "s1 s2", so that the reversed order gets the same scores reversed; an
AlpacaEval ranking prompt (alpaca-eval's alpaca_eval_gpt4 template) gets the ranking list with
rank 1 for the answer with more distinct words (model_1 on a tie). The
tests and the offline demo use it so that the real protocol path (HTTP, retries, verdict
parsing, the cache) runs without a paid API; scores it produces say nothing about model quality.

Switches for failure modes: `no_rating` (verdicts without a score), `fail_status`/`fail_first`
(HTTP errors for the first k requests), `die_after` (stop accepting connections after k answered
requests, as a crashed server would), `delay_s` (slow answers, for timeouts), `api_key` (require
`Authorization: Bearer <key>`; a wrong key gets 401 whose body echoes the header sent, as careless
servers do, so that redaction is tested), `verdict` (a function of the prompt that answers
instead, for tests that replay recorded verdicts).

Standalone: `python -m workflow_lib.evaluate.judge.server --port 8000` serves until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Where the answer being graded sits in FastChat's single-answer judge prompts.
_ANSWER_PATTERNS = (
    re.compile(r"### Assistant A:\n(.*?)\n\n<\|The End of Assistant A's Conversation", re.S),
    re.compile(r"\[The Start of Assistant's Answer\]\n(.*)\n\[The End of Assistant's Answer\]",
               re.S),
)
# The two answers of the pairwise (Superfiltering / Cherry LLM) judge prompt.
_PAIR_PATTERN = re.compile(
    r"\[The Start of Assistant 1's Answer\]\n(.*?)\n\n\[The End of Assistant 1's Answer\]\n\n"
    r"\[The Start of Assistant 2's Answer\]\n(.*)\n\n\[The End of Assistant 2's Answer\]", re.S)


def graded_answer(prompt: str) -> str:
    """The answer a FastChat judge prompt asks to grade (the whole prompt if none is marked)."""
    for pattern in _ANSWER_PATTERNS:
        found = pattern.findall(prompt)
        if found:
            return found[-1]
    return prompt


def _distinct_words(text: str) -> int:
    return len(set(re.findall(r"\w+", text.lower())))


def _score(distinct: int) -> int:
    return 1 + 9 * distinct // (distinct + 30)


# AlpacaEval's ranking prompt (alpaca-eval's alpaca_eval_gpt4 and its kin): two answers in a
# Python-like list, asked back as a ranking list.
_RANKING_PATTERN = re.compile(
    r'"model": "model_1",\s*"answer": """(.*?)"""\s*\},\s*\{\s*"model": "model_2",\s*'
    r'"answer": """(.*?)"""', re.S)


def deterministic_verdict(prompt: str, *, rating: bool = True) -> str:
    """The stand-in judge's verdict on the answer(s) in `prompt`; `rating=False` leaves the
    score(s) (or an AlpacaEval ranking) out."""
    ranking = _RANKING_PATTERN.search(prompt)
    if ranking:
        first, second = (_distinct_words(answer) for answer in ranking.groups())
        if not rating:
            return ("Deterministic stand-in verdict (not a quality judgment): model_1's answer has "
                    f"{first} distinct words, model_2's {second}.")
        best = 1 if first >= second else 2  # more distinct words ranks first; ties: model_1
        return (f"[{{'model': 'model_1', 'rank': {1 if best == 1 else 2}}}, "
                f"{{'model': 'model_2', 'rank': {2 if best == 1 else 1}}}]")
    pair = _PAIR_PATTERN.search(prompt)
    if pair:
        first, second = (_distinct_words(answer) for answer in pair.groups())
        text = ("Deterministic stand-in verdict (not a quality judgment): Assistant 1's answer "
                f"has {first} distinct words, Assistant 2's {second}.")
        return f"{_score(first)} {_score(second)}\n{text}" if rating else text
    distinct = _distinct_words(graded_answer(prompt))
    text = (f"Deterministic stand-in verdict (not a quality judgment): the answer has {distinct} "
            "distinct words.")
    return f"{text} Rating: [[{_score(distinct)}]]" if rating else text


class LocalJudge:
    """The server, started on a free port (`with LocalJudge() as judge: judge.base_url`)."""

    def __init__(self, *, port: int = 0, no_rating: bool = False, fail_status: int = 500,
                 fail_first: int = 0, die_after: int | None = None, delay_s: float = 0.0,
                 api_key: str | None = None, verdict: Callable[[str], str] | None = None) -> None:
        self.no_rating, self.fail_status, self.fail_first = no_rating, fail_status, fail_first
        self.verdict = verdict  # replaces deterministic_verdict (tests replaying recorded verdicts)
        self.die_after, self.delay_s, self.api_key = die_after, delay_s, api_key
        self.requests: list[dict] = []  # bodies of the requests received, in order
        self.answered = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> LocalJudge:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and close the socket (later connections are refused)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def _respond(self, body: dict, authorization: str | None) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            index = len(self.requests)
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return 401, {"error": {"message": f"invalid credentials: {authorization}"}}
        if index <= self.fail_first:
            return self.fail_status, {"error": {"message": "injected failure"}}
        try:
            prompt = body["messages"][-1]["content"]
        except (KeyError, IndexError, TypeError):
            return 400, {"error": {"message": "expected messages with content"}}
        time.sleep(self.delay_s)
        content = (self.verdict(prompt) if self.verdict is not None
                   else deterministic_verdict(prompt, rating=not self.no_rating))
        return 200, {"id": f"local-{index}", "object": "chat.completion",
                     "model": body.get("model"), "created": 0,
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                except (TypeError, ValueError):
                    self._send(400, {"error": {"message": "invalid JSON body"}})
                    return
                self._send(*judge._respond(body, self.headers.get("Authorization")))

            def _send(self, status: int, payload: dict) -> None:
                with judge._lock:
                    judge.answered += 1
                    dying = judge.die_after is not None and judge.answered >= judge.die_after
                if dying:
                    # Refuse new connections before this answer leaves (a listening socket shut
                    # down rejects them), so the client's next request always finds the server
                    # dead; stop from another thread: shutdown() waits for serve_forever.
                    with contextlib.suppress(OSError):
                        judge._server.socket.shutdown(socket.SHUT_RDWR)
                    threading.Thread(target=judge.stop, daemon=True).start()
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with LocalJudge(port=args.port) as judge:
        print(f"deterministic stand-in judge at {judge.base_url} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
