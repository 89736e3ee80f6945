"""The demo's pairwise test sets, written by the project in the five files' formats (`eval.pairwise
.questions: demo`): three short questions per set, wording of our own, and Self-instruct records
with and without an input. The real files stay what recipes download or copy; this set lets the
offline demo and the tests run the pairwise code path on a fresh clone."""

from __future__ import annotations

import json
import os
from pathlib import Path

from workflow_lib.evaluate.pairwise.testsets import TESTSETS

RECORDS = {
    "vicuna": [
        {"question_id": 1, "text": "How can I sleep better?", "category": "generic"},
        {"question_id": 2, "text": "Why is the sky blue?", "category": "knowledge"},
        {"question_id": 3, "text": "Write a haiku about rain.", "category": "writing"},
    ],
    "koala": [
        {"id": "koala_0", "prompt": "List three uses of a paper clip."},
        {"id": "koala_1", "prompt": "Explain what a list is in Python."},
        {"id": "koala_2", "prompt": "Suggest a name for a bakery."},
    ],
    "wizardlm": [
        {"idx": 1, "Skill": "Math", "Difficulty": 1, "Instruction": "What is 7 times 8?"},
        {"idx": 2, "Skill": "Writing", "Difficulty": 2,
         "Instruction": "Write one sentence about autumn."},
        {"idx": 3, "Skill": "Code Generation", "Difficulty": 3,
         "Instruction": "Write a Python function that reverses a string."},
    ],
    "sinstruct": [
        {"id": "user_oriented_task_0", "motivation_app": "Notes",
         "instruction": "Shorten the sentence.",
         "instances": [{"input": "The meeting that we had planned for today is moved to Monday.",
                        "output": "Today's meeting is moved to Monday."}]},
        {"id": "user_oriented_task_1", "motivation_app": "Calculator",
         "instruction": "Add the numbers.",
         "instances": [{"input": "3, 4, 5", "output": "12"}]},
        {"id": "user_oriented_task_2", "motivation_app": "Trivia",
         "instruction": "Name a planet with rings.",
         "instances": [{"input": "", "output": "Saturn"}]},
    ],
    "lima": [
        {"conversations": "What is a good first programming language?"},
        {"conversations": "Give me a tip for learning to cook."},
        {"conversations": "How do plants make food?"},
    ],
}


def write_demo_data(folder: str | os.PathLike) -> Path:
    """The five test set files (`TESTSETS` names) under `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in RECORDS.items():
        (folder / TESTSETS[name].file).write_text(
            "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder
