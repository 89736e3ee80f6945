"""Corpus reading: subset filter, limit before empty documents are dropped, clear errors."""

import json

import pytest

from workflow_lib.core.jsonio import DataError
from workflow_lib.data.corpora import heldout_documents, read_corpus, stdlib_documents

ROWS = [
    {"content": "a", "subset": "cc", "meta": {}},
    {"content": "", "subset": "python", "meta": {}},
    {"content": "b", "subset": "python", "meta": {}},
    {"content": "c", "subset": "cc", "meta": {}},
    {"content": "d", "subset": "python", "meta": {}},
]


def test_read_corpus_filters_then_limits(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert read_corpus(path) == ["a", "", "b", "c", "d"]
    assert read_corpus(path, "cc") == ["a", "c"]
    assert read_corpus(path, "python", limit=2) == ["", "b"]  # limit before empty docs drop
    with pytest.raises(DataError, match=r"no documents of subset 'math'.*'cc', 'python'"):
        read_corpus(path, "math")


@pytest.mark.parametrize(("text", "pattern"), [
    (json.dumps(ROWS[0]) + "\n{oops\n", r"corpus.jsonl:2"),
    (json.dumps({"text": "x"}) + "\n", r"corpus.jsonl:1: field 'content': expected a string"),
    (json.dumps({"content": "x"}) + "\n", None),
])
def test_read_corpus_errors_name_file_and_line(tmp_path, text, pattern):
    path = tmp_path / "corpus.jsonl"
    path.write_text(text)
    if pattern is None:
        with pytest.raises(DataError, match=r"corpus.jsonl:1: field 'subset'"):
            read_corpus(path, "cc")
    else:
        with pytest.raises(DataError, match=pattern):
            read_corpus(path)


def test_stdlib_corpus_reads_real_source_files():
    docs = [d for _, d in stdlib_documents(["json", "textwrap.py"])]
    paths = [d["meta"]["stdlib_path"] for d in docs]
    assert paths[-1] == "textwrap.py" and "json/__init__.py" in paths
    assert paths[:-1] == sorted(paths[:-1])
    assert all("def " in d["content"] or "import" in d["content"] for d in docs if d["content"])


def test_unknown_stdlib_module_is_a_clear_error():
    with pytest.raises(DataError, match="no module 'nosuchmod'"):
        list(stdlib_documents(["nosuchmod"]))


def test_heldout_corpus_joins_question_and_answer(tmp_path):
    path = tmp_path / "heldout.jsonl"
    path.write_text(json.dumps({"id": "h1", "family": "unit", "question": "Q?", "answer": "4"})
                    + "\n")
    assert [d["content"] for _, d in heldout_documents(path)] == ["Q?\n4"]
