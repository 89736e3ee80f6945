"""Pool health: empty, near-empty, duplicate and giant records counted at conversion, dropped on
request (workflow_lib/data/health.py)."""

import json

import pytest

from workflow_lib.data.formats import convert_file
from workflow_lib.data.health import GIANT_BYTES, HEALTH, PoolHealth
from workflow_lib.data.records import read_pool


def record(prompt: str, response: str, rid: str = "r", source: str = "s") -> dict:
    return {"id": rid, "source": source, "meta": {},
            "conversations": [{"from": "human", "value": prompt},
                              {"from": "gpt", "value": response}]}


def test_each_kind_at_its_threshold():
    health = PoolHealth()
    assert health.kinds(record("q0", "")) == ["empty_response"]
    assert health.kinds(record("q1", " \n\t")) == ["empty_response"]
    assert health.kinds(record("q2", " ...\n-")) == ["near_empty_response"]
    assert health.kinds(record("q3", "7")) == []  # short answers are often right
    assert health.kinds(record("q4", "é.")) == []
    prompt = "p" * (GIANT_BYTES - len("\nanswer"))  # conversation text: prompt + "\n" + answer
    assert health.kinds(record(prompt, "answer")) == []
    assert health.kinds(record(prompt + "é", "answer")) == ["giant"]  # bytes, not characters


def test_duplicates_are_later_copies_of_a_conversation_whatever_their_id_source_or_meta():
    health = PoolHealth()
    first = record("q", "an answer", rid="a", source="x")
    assert health.kinds(first) == []
    assert health.kinds({**record("q", "an answer", rid="b", source="y"),
                         "meta": {"k": 1}}) == ["duplicate"]
    assert health.kinds(record("q", "another answer")) == []
    assert health.kinds(record("q ", "an answer")) == []  # exact: whitespace counts
    assert health.kinds(record("q", "")) == ["empty_response"]
    assert health.kinds(record("q", "")) == ["empty_response", "duplicate"]


def test_a_lone_surrogate_that_json_allows_is_counted_not_a_crash():
    health = PoolHealth()  # "\ud800" is valid JSON; the pool round-trips it (test_records)
    assert health.kinds(record("q", "\ud800")) == ["near_empty_response"]
    assert health.kinds(record("q", "\ud800")) == ["near_empty_response", "duplicate"]


def test_counts_drops_and_manifest():
    rows = [record("q", "an answer"), record("q", "an answer"), record("e", ""),
            record("e", ""), record("n", "?")]
    kept = PoolHealth()
    assert all(kept.keep(r) for r in rows)
    assert kept.manifest() == {
        "health": {"empty_response": 2, "near_empty_response": 1, "duplicate": 2, "giant": 0,
                   "giant_bytes": GIANT_BYTES},
        "dropped": {}}
    dropping = PoolHealth(["duplicate", "empty_response"])
    assert [dropping.keep(r) for r in rows] == [True, False, False, False, True]
    # the empty duplicate is counted under the first dropped kind in HEALTH order
    assert dropping.manifest()["dropped"] == {"empty_response": 2, "duplicate": 1}
    assert dropping.manifest()["health"] == kept.manifest()["health"]
    with pytest.raises(ValueError, match="cannot drop"):
        PoolHealth(["empty"])


def test_warning_names_what_was_found_and_its_fate():
    health = PoolHealth()
    assert health.warning(0) is None
    health.keep(record("q", ""))
    assert health.warning(1) == (
        "pool health: of 1 records, 1 with an empty response; all kept (`health` in the "
        "manifest; `pools.<name>.drop` removes them)")
    dropping = PoolHealth(["empty_response"])
    dropping.keep(record("q", ""))
    assert "; dropped 1 (empty_response) (" in dropping.warning(1)
    assert set(HEALTH) == {"empty_response", "near_empty_response", "duplicate", "giant"}


def test_convert_file_counts_by_default_and_drops_on_request(tmp_path, caplog):
    src = tmp_path / "raw.json"
    src.write_text(json.dumps([
        {"instruction": "q", "output": "an answer"}, {"instruction": "q", "output": "an answer"},
        {"instruction": "e", "output": ""}, {"instruction": "big", "output": "x" * GIANT_BYTES},
        {"instruction": "r", "output": "fine"}]))
    with caplog.at_level("WARNING", logger="workflow_lib.data.formats"):
        counts = convert_file(src, tmp_path / "all.jsonl")
    assert counts["written"] == 5 and counts["dropped"] == {}
    assert {k: counts["health"][k] for k in HEALTH} == {
        "empty_response": 1, "near_empty_response": 0, "duplicate": 1, "giant": 1}
    assert [r.message.split(": ", 1)[1] for r in caplog.records] == [
        "pool health: of 5 records, 1 with an empty response; 1 with the conversation of an "
        "earlier record (exact duplicate); 1 with over 100 kB of text; all kept (`health` in "
        "the manifest; `pools.<name>.drop` removes them)"]
    counts = convert_file(src, tmp_path / "some.jsonl", drop=["empty_response", "duplicate"])
    assert counts["written"] == 3 and counts["read"] == 5
    assert counts["dropped"] == {"empty_response": 1, "duplicate": 1}
    assert [r["id"] for r in read_pool(tmp_path / "some.jsonl")] == ["raw-0", "raw-3", "raw-4"]
