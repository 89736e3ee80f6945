"""AlpacaEval's instructions and reference outputs: a local JSON file in the data set's format
(a list of {instruction, output, generator, dataset}, e.g. alpaca_eval.json with
text-davinci-003's 805 outputs), that file from the hub at a revision, or the project's own
demo set of a few instructions; and the
checks that a run's answers are to exactly those instructions."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, type_name, write_json
from workflow_lib.data.hub import download_dataset_file, require_online
from workflow_lib.evaluate.pairwise.testsets import Question

SET = "alpaca_eval"
DEMO_GENERATOR = "sieve_demo_reference"
# The demo set: instructions in AlpacaEval's style with short reference outputs written by the
# project (not text-davinci-003's), so that tests and the demo need no data beside the clone.
DEMO = (
    ("Give three tips for staying healthy.",
     "Eat a balanced diet, exercise regularly and sleep seven to eight hours a night."),
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Write a haiku about autumn leaves.",
     "Red leaves drift and fall\nwhispering to the cold ground\nautumn says goodbye"),
    ("Explain what a prime number is in one sentence.",
     "A prime number is a whole number greater than 1 whose only divisors are 1 and itself."),
    ("Translate 'good morning' into Spanish.", "Good morning in Spanish is 'buenos días'."),
)


def demo_reference() -> list[dict]:
    """The demo set's records, in AlpacaEval's format."""
    return [{"dataset": "sieve_demo", "instruction": instruction, "output": output,
             "generator": DEMO_GENERATOR} for instruction, output in DEMO]


def read_reference(path: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """The reference records of a local file (the first `limit` of them); UserError for a
    missing file, DataError naming the record and field for a malformed one."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"eval.alpaca_eval.reference_outputs: {path} does not exist (a JSON list "
                        "of {instruction, output, generator} records, e.g. AlpacaEval's "
                        "alpaca_eval.json with text-davinci-003's outputs)")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"not JSON: {err}", path=path) from None
    if not isinstance(records, list) or not records:
        raise DataError(f"expected a non-empty JSON list, got {type_name(records)}", path=path)
    for i, record in enumerate(records):
        for field in ("instruction", "output", "generator"):
            value = record.get(field) if isinstance(record, dict) else None
            if not isinstance(value, str):
                raise DataError(f"record {i}: {field} must be a string, got {type_name(value)}",
                                path=path, field=field)
    return records[:limit] if limit is not None else records


def load_reference(source: str | Mapping, limit: int | None, offline: bool
                   ) -> tuple[list[dict], dict]:
    """The reference records of `eval.alpaca_eval.reference_outputs` (demo, a local file, or a
    file of a hub data set at a revision), the first `limit`, and where they came from for the
    manifest (`inputs`, `reference_outputs`; a hub source gains the `commit` it resolved to).
    A hub source fails with one line, before any network call, when `offline`."""
    if source == "demo":
        return demo_reference()[:limit], {"inputs": {}, "reference_outputs": source}
    if isinstance(source, Mapping):
        require_online(offline, f"eval.alpaca_eval.reference_outputs ({source['repo']})")
        path, sha = download_dataset_file(source["repo"], source["revision"], source["file"])
        return read_reference(path, limit), {"inputs": {},
                                             "reference_outputs": {**source, "commit": sha}}
    return read_reference(source, limit), {"inputs": {"source": source},
                                           "reference_outputs": source}


def write_reference(path: str | os.PathLike, records: Sequence[dict]) -> None:
    """The reference records the run's answers are judged against (the project's copy)."""
    write_json(path, list(records))


def questions(reference: Sequence[dict]) -> list[Question]:
    """The instructions as questions for the answer generator (id = position in the file)."""
    return [Question(SET, str(i), record["instruction"], "") for i, record in enumerate(reference)]


def model_outputs(answers: Sequence[dict], reference: Sequence[dict], run: str,
                  path: str | os.PathLike) -> list[dict]:
    """A run's answers in AlpacaEval's format, in the reference's order; UserError when they
    are not the answers to exactly the reference's instructions (count or text)."""
    if len(answers) != len(reference):
        raise UserError(f"{path}: {len(answers)} answers for {len(reference)} reference "
                        "instructions (regenerate the answers for this reference file)")
    outputs = []
    for i, (answer, record) in enumerate(zip(answers, reference, strict=True)):
        asked = answer.get("instruction")
        if answer.get("question_id") != str(i) or asked != record["instruction"]:
            raise UserError(f"{path}: answer {i} is to {asked!r:.80}, the "
                            f"reference's instruction {i} is {record['instruction']!r:.80}")
        outputs.append({"instruction": record["instruction"], "output": answer["answer"],
                        "generator": run})
    return outputs
