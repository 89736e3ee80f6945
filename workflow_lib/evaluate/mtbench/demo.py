"""The demo's MT-bench data, written by the project in FastChat's format (`eval.mtbench.questions:
demo`): six two-turn questions of plain and reference-guided categories, reference answers for the
math, reasoning and coding ones, and judge prompts with FastChat's names, placeholders and answer
markers (wording of our own). The real FastChat files stay what recipes download or copy; this
set lets the offline demo and the tests run the MT-bench code path on a fresh clone."""

from __future__ import annotations

import json
import os
from pathlib import Path

QUESTIONS = [
    {"question_id": 81, "category": "writing",
     "turns": ["Write a short note about the sea.", "Now make every sentence start with A."]},
    {"question_id": 82, "category": "writing",
     "turns": ["Describe a city at night.", "Shorten it to one sentence."]},
    {"question_id": 111, "category": "math",
     "turns": ["What is 2 + 3?", "And 2 * 3?"]},
    {"question_id": 131, "category": "reasoning",
     "turns": ["Who is taller, Ann or Bo, if Ann is taller than Cy and Cy than Bo?",
               "Is Bo the shortest?"]},
    {"question_id": 121, "category": "coding",
     "turns": ["Write a Python function that adds two numbers.", "Add type hints."]},
    {"question_id": 141, "category": "stem", "turns": ["What is a photon?", "Give an example."]},
]
REFERENCES = {111: ["5", "6"], 131: ["Ann", "Yes"], 121: ["def add(a, b): return a + b",
                                                            "def add(a: int, b: int) -> int: ..."]}
_SINGLE = ("Rate the answer from 1 to 10 as \"[[rating]]\".\n\n[Question]\n{question}\n\n"
           "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]")
_SINGLE_REF = ("Compare with the reference; rate 1 to 10 as \"[[rating]]\".\n\n[Question]\n"
               "{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n"
               "[The End of Reference Answer]\n\n[The Start of Assistant's Answer]\n{answer}\n"
               "[The End of Assistant's Answer]")
_CONVERSATION = ("<|The Start of Assistant A's Conversation with User|>\n\n### User:\n"
                 "{question_1}\n\n### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n"
                 "### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with "
                 "User|>")
_MULTI_REF = ("<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n"
              "### Reference answer:\n{ref_answer_1}\n\n### User:\n{question_2}\n\n"
              "### Reference answer:\n{ref_answer_2}\n\n<|The End of Reference Answer|>\n\n\n"
              + _CONVERSATION)
PROMPTS = [
    {"name": "single-v1", "type": "single", "system_prompt": "You judge answers.",
     "prompt_template": _SINGLE, "output_format": "[[rating]]"},
    {"name": "single-math-v1", "type": "single", "system_prompt": "You judge with a reference.",
     "prompt_template": _SINGLE_REF, "output_format": "[[rating]]"},
    {"name": "single-v1-multi-turn", "type": "single",
     "system_prompt": "Judge the second answer.", "prompt_template": _CONVERSATION,
     "output_format": "[[rating]]"},
    {"name": "single-math-v1-multi-turn", "type": "single",
     "system_prompt": "Judge the second answer with a reference.",
     "prompt_template": _MULTI_REF, "output_format": "[[rating]]"},
]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_demo_data(folder: str | os.PathLike) -> Path:
    """question.jsonl, reference_answer/gpt-4.jsonl and judge_prompts.jsonl under `folder`."""
    folder = Path(folder)
    _jsonl(folder / "question.jsonl", QUESTIONS)
    _jsonl(folder / "reference_answer" / "gpt-4.jsonl", [
        {"question_id": qid, "answer_id": f"ref{qid}", "model_id": "gpt-4",
         "choices": [{"index": 0, "turns": turns}], "tstamp": 0.0}
        for qid, turns in REFERENCES.items()])
    _jsonl(folder / "judge_prompts.jsonl", PROMPTS)
    return folder
