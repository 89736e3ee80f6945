"""Streaming readers, atomic writers and DataError messages of workflow_lib.core.jsonio."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_lib.core.jsonio import (
    DataError,
    atomic_output,
    read_json_array,
    read_jsonl,
    read_records,
    write_json,
    write_jsonl,
)

fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
                      max_examples=60, deadline=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8,
)


def error_text(call) -> str:
    with pytest.raises(DataError) as info:
        call()
    return str(info.value)


def test_data_error_message_names_every_known_part():
    err = DataError("expected str, got int", field="conversations[1].value")
    err.locate(path="pool.jsonl", line=17, record_id="alpaca-16")
    assert str(err) == ("pool.jsonl:17: record 'alpaca-16': field 'conversations[1].value': "
                        "expected str, got int")
    assert str(DataError("no records", path="p.json")) == "p.json: no records"
    assert isinstance(err, ValueError)


def test_locate_keeps_what_is_already_known():
    err = DataError("bad", line=3, record_id="a")
    err.locate(path="f", line=9, record_id="b")
    assert (err.path, err.line, err.record_id) == ("f", 3, "a")


def test_read_jsonl_yields_line_numbers_and_skips_blank_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \r\n{"b": "\xc3\xa9"}\r\n[1]')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "é"}), (5, [1])]


@pytest.mark.parametrize(("content", "fragments"), [
    (b'{"a": 1}\n{"b": "\xff"}\n', ["x.jsonl:2", "invalid UTF-8"]),
    (b'{"a": 1}\n{"a": 1}\n{"b": "trunc', ["x.jsonl:3", "invalid JSON", "Unterminated string"]),
    (b'{"a": 1}\n{"a" 1}\n', ["x.jsonl:2", "invalid JSON", "column 6"]),
])
def test_read_jsonl_errors_name_the_line(tmp_path, content, fragments):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    message = error_text(lambda: list(read_jsonl(path)))
    assert all(f in message for f in fragments), message


@st.composite
def array_files(draw):
    """A JSON array text with random layout, its elements and the line each element starts on."""
    values = draw(st.lists(json_values, max_size=6))
    indent = draw(st.sampled_from([None, 0, 1, 2]))
    spaces = st.sampled_from(["", " ", "\n", "\r\n  ", "\t\n\n"])
    text, lines = "\ufeff" * draw(st.booleans()) + draw(spaces) + "[", []
    for i, value in enumerate(values):
        text += ("," if i else "") + draw(spaces)
        lines.append(text.count("\n") + 1)
        text += json.dumps(value, indent=indent, ensure_ascii=draw(st.booleans())) + draw(spaces)
    return text + "]" + draw(spaces), values, lines


@fixture_ok
@given(array=array_files(), chunk_size=st.sampled_from([1, 2, 3, 5, 16, 1 << 20]))
def test_json_array_streams_across_chunk_boundaries(tmp_path, array, chunk_size):
    text, values, lines = array
    path = tmp_path / "a.json"
    path.write_text(text, encoding="utf-8")
    assert list(read_json_array(path, chunk_size=chunk_size)) == list(zip(lines, values,
                                                                          strict=True))


def test_json_array_keeps_numbers_and_escapes_split_by_chunks(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[12345678, -1.5e+300, "\\ud83d\\ude00 \\u00e9", true, null, -Infinity]')
    for chunk_size in (1, 2, 3):
        assert [v for _, v in read_json_array(path, chunk_size)] == [
            12345678, -1.5e300, "😀 é", True, None, float("-inf")]


def test_json_array_grows_reads_for_a_huge_element(tmp_path):  # 8-byte reads: quadratic
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"text": "x" * 200_000}, 1]))
    assert [v for _, v in read_json_array(path, chunk_size=8)] == [{"text": "x" * 200_000}, 1]


@pytest.mark.parametrize(("content", "line", "fragment"), [
    (b'[\n{"a": 1},\n{"a": 2}', 3, "expected ',' or ']', found end of file"),
    (b'[\n{"a": 1},\n{"a": \n', 4, "invalid JSON: Expecting value"),
    (b'[\n{"a": 1},\n{"a" 1},\n' + b'{"pad": 0},\n' * 200 + b"]", 3, "Expecting ':'"),
    (b'[\n{"a": 1},\n]', 3, "expected a value after ','"),
    (b'[{"a": 1}\n{"a": 2}]', 2, "expected ',' or ']'"),
    (b'[{"a": 1}]\n[]', 2, "extra data after the top-level array"),
    (b'\n{"a": 1}', 2, "expected a JSON array"),
    (b"", 1, "found end of file"),
    (b'[\n{"a": "ok"},\n{"a": "\xe9"}]', 3, "invalid UTF-8"),
    (b'[\n{"a": "ok"},\n{"a": "\xc3', 3, "invalid UTF-8"),
])
@pytest.mark.parametrize("chunk_size", [1, 7, 1 << 20])
def test_json_array_errors_name_the_line(tmp_path, content, line, fragment, chunk_size):
    path = tmp_path / "a.json"
    path.write_bytes(content)
    message = error_text(lambda: list(read_json_array(path, chunk_size)))
    assert f"a.json:{line}:" in message and fragment in message, message


def test_json_array_error_is_found_without_reading_to_the_end(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'[\n{"a" 1},\n' + b'{"pad": 0},\n' * 2000 + b"\xff]")  # \xff: bad UTF-8
    assert "a.json:2: invalid JSON: Expecting ':'" in error_text(
        lambda: list(read_json_array(path, chunk_size=64)))


@pytest.mark.parametrize(("name", "content"), [
    ("p.jsonl", '{"a": 1}\n{"a": 2}\n'),
    ("p.json", '[{"a": 1},\n {"a": 2}]'),
    ("p.json", '  {"a": 1}\n{"a": 2}\n'),  # a .json file that is really JSONL
    ("p.txt", '\n[{"a": 1}, {"a": 2}]'),
])
def test_read_records_detects_jsonl_and_json_arrays(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert [v for _, v in read_records(path)] == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("p.jsonl", "", "p.jsonl: no records (empty file)"),
    ("p.json", " \n", "p.json: no records (empty file)"),
    ("p.json", "[]", "p.json: no records (empty file)"),
    ("p.jsonl", '{"a": 1}\n[1, 2]\n', "p.jsonl:2: expected a JSON object, got list"),
    ("p.json", '[{"a": 1},\n "x"]', "p.json:2: expected a JSON object, got str"),
])
def test_read_records_rejects_files_without_objects(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_text(content)
    assert fragment in error_text(lambda: list(read_records(path)))


@pytest.mark.parametrize(("mode", "payload"), [("w", "héllo\n"), ("wb", b"\x00\xff")])
def test_atomic_output_replaces_the_target(tmp_path, mode, payload):
    path = tmp_path / "sub" / "out.bin"
    with atomic_output(path, mode) as fh:
        fh.write(payload)
        assert not path.exists()
    assert path.read_bytes() == (payload.encode() if mode == "w" else payload)
    assert os.listdir(path.parent) == ["out.bin"]


def test_atomic_output_applies_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "out.txt") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o640


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(path) as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_output_rejects_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"), atomic_output(tmp_path / "x", "a"):
        pass


def test_write_jsonl_is_utf8_and_counts_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, iter([{"t": "é😀\n"}, [1], "\ud800"])) == 3
    assert path.read_bytes() == '{"t": "é😀\\n"}\n[1]\n"\\ud800"\n'.encode()
    assert [v for _, v in read_jsonl(path)] == [{"t": "é😀\n"}, [1], "\ud800"]


def test_write_jsonl_failing_midway_leaves_target_untouched(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    def rows():
        yield {"a": 1}
        raise DataError("bad row")

    with pytest.raises(DataError, match="bad row"):
        write_jsonl(path, rows())
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_write_json_indents_and_ends_with_newline(tmp_path):
    path = tmp_path / "m.json"
    write_json(path, {"é": [1, 2]})
    assert path.read_text(encoding="utf-8") == '{\n  "é": [\n    1,\n    2\n  ]\n}\n'
    write_json(path, {"a": 1}, indent=None)
    assert path.read_text() == '{"a": 1}\n'
