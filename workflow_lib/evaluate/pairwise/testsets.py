"""The five pairwise test sets (Vicuna 80, Koala 180, WizardLM 218, Self-instruct 252, LIMA 300)
as Cherry LLM's `evaluation/test_data/` holds them, their instruction fields, and the loader.

Each set keeps its own record format; the loader reads every record as a `Question`: the set,
a question id (the record's id field, or its 0-based position for LIMA, which has none), the
instruction (the set's instruction field) and the input (Self-instruct's single instance's
input, "" elsewhere). The judge sees the instruction alone; the generation prompt adds the input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, read_jsonl, type_name
from workflow_lib.data.pinned import PinnedFile, fetch_pinned

CHERRY_COMMIT = "01fac8d"
RAW_URL = ("https://raw.githubusercontent.com/tianyi-lab/Cherry_LLM/{commit}/evaluation/"
           "test_data/{file}")


@dataclass(frozen=True)
class PairwiseSet:
    """One test set: its name (the reference's `dataset_name`), label in tables and plots,
    file, instruction field, id field (None: the record's position), records in the full file,
    and the file's sha256 at CHERRY_COMMIT."""

    name: str
    label: str
    file: str
    field: str
    id_field: str | None
    records: int
    sha256: str


# The sha256 sums are those of ../shared/data/eval/pairwise/, copied unchanged from Cherry_LLM at
# CHERRY_COMMIT: they must equal the pinned commit's files, which a download checks.
TESTSETS = {s.name: s for s in (
    PairwiseSet("vicuna", "Vicuna", "vicuna_test_set.jsonl", "text", "question_id", 80,
                "590c39157bc561eadd7f03cad4be18c2b597f93029780af65f86718f39eafa87"),
    PairwiseSet("koala", "Koala", "koala_test_set.jsonl", "prompt", "id", 180,
                "c8cda5c53810dc30aad34fabbb828fe3eba0957119e00916650c971905d19886"),
    PairwiseSet("wizardlm", "WizardLM", "wizardlm_test_set.jsonl", "Instruction", "idx", 218,
                "1a39103c4ad7e0b68a0f7ed770f13a60cc60749418263dafb20cfe8f5e51901e"),
    PairwiseSet("sinstruct", "Self-instruct", "sinstruct_test_set.jsonl", "instruction", "id",
                252, "81d60a117db495cecedecd9193504fd07c5b5a42f6699ef6b0f9da10fc22f42e"),
    PairwiseSet("lima", "LIMA", "lima_test_set.jsonl", "conversations", None, 300,
                "ec01a8b0564b0b254908e2f3db92d1b38f218756485a6e0576bd8fd2d78cabc9"),
)}

TESTSET_FILES = [s.file for s in TESTSETS.values()]  # their files, in the order of TESTSETS


@dataclass(frozen=True)
class Question:
    """One test question: set name, question id, instruction and input ("" when none)."""

    set: str
    question_id: str
    instruction: str
    input: str


def fetch_testsets(out_dir: str | os.PathLike, local_data: str | os.PathLike | None = None,
                   check_sha256: bool = True) -> dict:
    """Put the five test set files into `out_dir`: copied from the folder `local_data`, or
    downloaded from Cherry_LLM at CHERRY_COMMIT when it is None. Downloads, and local files when
    `check_sha256`, must match the pinned sha256 sums. Returns {file: {"source", "sha256"}}."""
    files = [PinnedFile(s.file, RAW_URL.format(commit=CHERRY_COMMIT, file=s.file), s.sha256)
             for s in TESTSETS.values()]
    return fetch_pinned(files, out_dir, local_data, check_sha256, what="pairwise test set",
                        origin=f"Cherry_LLM {CHERRY_COMMIT}", setting="eval.pairwise.local_data")


def _string(record: dict, key: str, path, line: int, record_id: str | None) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise DataError(f"expected str, got {type_name(value)}", path=path, line=line,
                        record_id=record_id, field=key)
    return value


def _instance_input(record: dict, path, line: int, record_id: str) -> str:
    """Self-instruct: the input of the record's single instance."""
    instances = record.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0],
                                                                                 dict):
        raise DataError("expected a list of exactly one object", path=path, line=line,
                        record_id=record_id, field="instances")
    return _string(instances[0], "input", path, line, record_id)


def load_testset(path: str | os.PathLike, name: str) -> list[Question]:
    """The questions of test set `name` from its file at `path`, in file order (DataError names
    the file, line, record and field of a bad record; question ids must be unique)."""
    spec = TESTSETS[name]
    questions, seen = [], set()
    for index, (line, record) in enumerate(read_jsonl(path)):
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type_name(record)}", path=path,
                            line=line)
        if spec.id_field is None:
            qid = str(index)
        else:
            value = record.get(spec.id_field)
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise DataError(f"expected str or int, got {type_name(value)}", path=path,
                                line=line, field=spec.id_field)
            qid = str(value)
        if qid in seen:
            raise DataError("duplicate question id", path=path, line=line, record_id=qid)
        seen.add(qid)
        instruction = _string(record, spec.field, path, line, qid)
        given = _instance_input(record, path, line, qid) if name == "sinstruct" else ""
        questions.append(Question(name, qid, instruction, given))
    return questions


def load_testsets(folder: str | os.PathLike, names: Iterable[str] | None = None,
                  per_set: int | None = None) -> list[Question]:
    """The questions of the sets `names` (default: all five, in TESTSETS order) from their files
    in `folder`; `per_set` keeps the first N of each set (None: all)."""
    names = list(TESTSETS) if names is None else list(names)
    unknown = [n for n in names if n not in TESTSETS]
    if unknown:
        raise UserError(f"unknown pairwise test set {unknown[0]!r} (known: "
                        f"{', '.join(TESTSETS)})")
    questions: list[Question] = []
    for name in names:
        questions += load_testset(Path(folder) / TESTSETS[name].file, name)[:per_set]
    return questions

