"""Canonical records (workflow_lib.data.records) and format converters (data.formats)."""

import contextlib
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import SHARED
from workflow_lib.core.jsonio import DataError, read_records, write_jsonl
from workflow_lib.data.formats import (
    FORMATS,
    NAMINGS,
    ODDITIES,
    convert_file,
    detect_format,
    from_canonical,
    oddities,
    prompt_fields,
    to_canonical,
    to_format,
    to_reference_sharegpt,
)
from workflow_lib.data.health import PoolHealth
from workflow_lib.data.records import (
    IncompleteRecord,
    conversation_text,
    read_pool,
    response_text,
    validate_record,
)

NO_ODDITIES = dict.fromkeys(ODDITIES, 0)


def health_of(path) -> dict:
    """The `health` and `dropped` counts of a pool converted without `drop`."""
    health = PoolHealth()
    for record in read_pool(path):
        health.keep(record)
    return health.manifest()
SHARED_POOLS = SHARED / "data" / "pools"
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
                      max_examples=25, deadline=None)

texts = st.text(st.sampled_from(["a", " ", "\n", "é", "😀", '"', "\\"]) | st.characters(),
                max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(texts, inner, max_size=2),
    max_leaves=4,
)
RESERVED = {"id", "source", "conversations", "messages", "instruction", "input", "output",
            "context", "response", "from", "value", "role", "content"}
extras = st.lists(st.tuples(st.text(min_size=1, max_size=6).filter(lambda k: k not in RESERVED),
                            json_values), max_size=2, unique_by=lambda kv: kv[0])
ALIASES = {"system": ["system"], "human": ["human", "user"], "gpt": ["gpt", "assistant"]}


@st.composite
def id_and_source(draw):
    items = [("id", draw(texts))] if draw(st.booleans()) else []
    return items + ([("source", draw(texts))] if draw(st.booleans()) else [])


@st.composite
def pair_records(draw, fmt):
    spec = FORMATS[fmt]
    items = [(spec.instruction, draw(texts)), (spec.output, draw(texts)), *draw(id_and_source())]
    if draw(st.booleans()):
        items.append((spec.input, draw(st.just("") | texts)))
    return dict(draw(st.permutations(items + draw(extras))))


@st.composite
def chat_records(draw, fmt):
    role_key, text_key = draw(st.sampled_from(NAMINGS))
    more = draw(st.lists(st.sampled_from(["human", "gpt"]), max_size=3))
    roles = draw(st.permutations([*more, "human", "gpt"]))
    messages = []
    for role in ["system"] * draw(st.booleans()) + roles:
        items = [(role_key, draw(st.sampled_from(ALIASES[role]))), (text_key, draw(texts))]
        messages.append(dict(draw(st.permutations(items + draw(extras)))))
    items = [(FORMATS[fmt].turns, messages), *draw(id_and_source())]
    return dict(draw(st.permutations(items + draw(extras))))


any_records = st.sampled_from(list(FORMATS)).flatmap(
    lambda f: st.tuples(st.just(f), (chat_records if f in ("sharegpt", "messages")
                                     else pair_records)(f)))


def canonical(obj, fmt=None, index=0):
    return to_canonical(obj, fmt or detect_format(obj), index=index, id_prefix="pool",
                        default_source="dflt")


def same(a, b) -> bool:
    """Equal values and equal key order everywhere."""
    return json.dumps(a) == json.dumps(b)


def error_text(call) -> str:
    with pytest.raises(DataError) as info:
        call()
    return str(info.value)


def chat(*turns, **top):
    return {"id": "c1", "conversations": [{"from": r, "value": v} for r, v in turns], **top}


# --- round trips ---------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(any_records)
def test_every_format_round_trips_exactly(fmt_and_obj):
    fmt, obj = fmt_and_obj
    record = json.loads(json.dumps(canonical(obj, fmt, index=7)))  # meta survives JSON
    assert validate_record(record) is record
    assert record["id"] == obj.get("id", "pool-7")
    assert record["source"] == obj.get("source", "dflt")
    assert same(from_canonical(record), obj)
    assert same(to_format(record, fmt), obj)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["alpaca", "dolly"]).flatmap(lambda f: st.tuples(st.just(f),
                                                                          pair_records(f))))
def test_prompt_fields_recovers_instruction_input_output(fmt_and_obj):
    fmt, obj = fmt_and_obj
    spec = FORMATS[fmt]
    expected = (obj[spec.instruction], obj.get(spec.input, ""), obj[spec.output])
    assert prompt_fields(canonical(obj, fmt)) == expected


def test_pair_meta_is_minimal():
    alpaca = canonical({"instruction": "Do\n\nit", "input": "", "output": "ok"})
    assert alpaca["conversations"] == [{"from": "human", "value": "Do\n\nit"},
                                       {"from": "gpt", "value": "ok"}]
    assert alpaca["meta"] == {"format": "alpaca", "keys": ["instruction", "input", "output"]}
    dolly = canonical({"instruction": "Sum", "context": "a b", "response": "c",
                       "category": "summarization"}, index=4)
    assert dolly["id"] == "pool-4"
    assert dolly["conversations"][0]["value"] == "Sum\n\na b"
    assert dolly["meta"] == {"format": "dolly",
                             "keys": ["instruction", "context", "response", "category"],
                             "extra": {"category": "summarization"}, "input_len": 3}


def test_chat_meta_records_only_deviations():
    obj = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                        {"content": "a", "role": "assistant", "name": "bot"},
                        {"role": "human", "content": "q2"}, {"role": "assistant", "content": ""}],
           "lang": "en"}
    record = canonical(obj)
    assert [t["from"] for t in record["conversations"]] == ["system", "human", "gpt", "human",
                                                           "gpt"]
    assert record["meta"] == {"format": "messages", "keys": ["messages", "lang"],
                              "extra": {"lang": "en"},
                              "turns": {"2": {"extra": {"name": "bot"},
                                              "keys": ["content", "role", "name"]},
                                        "3": {"role": "human"}}}
    sharegpt = canonical({"id": "x", "conversations": [{"from": "user", "value": "q"},
                                                       {"from": "gpt", "value": "a"}]})
    assert sharegpt["meta"] == {"format": "sharegpt", "keys": ["id", "conversations"],
                                "roles": {"human": "user"}}


# --- real ShareGPT quirks ------------------------------------------------------------------

def test_gpt_first_consecutive_roles_and_empty_values_are_kept():
    obj = {"id": "s_7", "conversations": [
        {"from": "gpt", "value": "continued"}, {"from": "human", "value": ""},
        {"from": "human", "value": "again"}, {"from": "gpt", "value": "ok"}]}
    record = canonical(obj)
    assert [t["from"] for t in record["conversations"]] == ["gpt", "human", "human", "gpt"]
    assert same(from_canonical(record), obj)


@pytest.mark.parametrize(("turns", "message"), [
    ([], "empty conversation"),
    ([("system", "s")], "no human turn"),
    ([("gpt", "a"), ("gpt", "b")], "no human turn"),
    ([("human", "q")], "no gpt turn"),
])
def test_conversations_without_human_or_gpt_are_incomplete(turns, message):
    with pytest.raises(IncompleteRecord, match=message) as info:
        canonical(chat(*turns))
    assert str(info.value) == f"record 'c1': field 'conversations': {message}"


# --- validation of canonical records -------------------------------------------------------

def test_validate_record_accepts_a_canonical_record():
    record = {"id": "a", "conversations": [{"from": "human", "value": "q"},
                                           {"from": "gpt", "value": ""}],
              "source": "s", "meta": {}}
    assert validate_record(record) is record


@pytest.mark.parametrize(("change", "fragment"), [
    ({"id": 3}, "field 'id': expected str, got int"),
    ({"source": None}, "field 'source': expected str, got null"),
    ({"meta": []}, "field 'meta': expected dict, got list"),
    ({"conversations": {}}, "field 'conversations': expected list, got dict"),
    ({"score": 1.0}, "unexpected field(s) ['score']"),
    ({"conversations": ["q"]}, "field 'conversations[0]': expected dict, got str"),
    ({"conversations": [{"from": "human"}]}, "field 'conversations[0]': expected keys"),
    ({"conversations": [{"from": "user", "value": "q"}]}, "unknown role 'user'"),
    ({"conversations": [{"from": "human", "value": 1}, {"from": "gpt", "value": "a"}]},
     "field 'conversations[0].value': expected str, got int"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "system", "value": "s"}]},
     "field 'conversations[1].from': a system turn may only come first"),
    ({"conversations": []}, "field 'conversations': empty conversation"),
])
def test_validate_record_names_the_bad_field(change, fragment):
    record = {"id": "r1", "conversations": [{"from": "human", "value": "q"},
                                            {"from": "gpt", "value": "a"}],
              "source": "s", "meta": {}, **change}
    message = error_text(lambda: validate_record(record))
    assert fragment in message, message
    assert ("record 'r1'" in message) == isinstance(record["id"], str)


def test_read_pool_validates_and_rejects_duplicate_ids(tmp_path):
    good = canonical({"instruction": "q", "output": "a"})
    path = tmp_path / "pool.jsonl"
    write_jsonl(path, [good, {**good, "id": "b"}])
    assert [r["id"] for r in read_pool(path)] == ["pool-0", "b"]
    write_jsonl(path, [good, {**good, "id": "b"}, good])
    assert error_text(lambda: list(read_pool(path))).endswith(
        "pool.jsonl:3: record 'pool-0': field 'id': duplicate id, first seen at line 1")
    write_jsonl(path, [good, {**good, "source": 1}])
    assert "pool.jsonl:2: record 'pool-0': field 'source'" in error_text(
        lambda: list(read_pool(path)))


def test_text_helpers():
    record = canonical(chat(("system", "s"), ("human", "q"), ("gpt", "a"), ("human", "r"),
                            ("gpt", "b")))
    assert response_text(record) == "a\nb"
    assert conversation_text(record) == "s\nq\na\nr\nb"


# --- detection, cross-format export and the reference view --------------------------------

@pytest.mark.parametrize(("obj", "fmt"), [
    ({"instruction": "", "input": "", "output": ""}, "alpaca"),
    ({"instruction": "", "output": ""}, "alpaca"),
    ({"instruction": "", "context": "", "response": "", "category": ""}, "dolly"),
    ({"id": "", "conversations": []}, "sharegpt"),
    ({"messages": []}, "messages"),
])
def test_detect_format(obj, fmt):
    assert detect_format(obj) == fmt


def test_detect_format_fails_on_unknown_keys_and_override_wins():
    assert "cannot detect the format from keys ['prompt']" in error_text(
        lambda: detect_format({"prompt": "x"}))
    obj = {"instruction": "q", "output": "a", "messages": "notes"}
    assert detect_format(obj) == "messages"
    record = canonical(obj, "alpaca")
    assert record["meta"]["extra"] == {"messages": "notes"}
    assert same(from_canonical(record), obj)
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        canonical(obj, "csv")


def test_cross_format_export():
    share = canonical(chat(("human", "q"), ("gpt", "a"), source="sg", lang="en"))
    assert same(to_format(share, "alpaca"), {"instruction": "q", "input": "", "output": "a"})
    assert same(to_format(share, "messages"), {
        "id": "c1", "messages": [{"role": "user", "content": "q"},
                                 {"role": "assistant", "content": "a"}], "source": "sg"})
    dolly = canonical({"instruction": "i", "context": "c", "response": "r", "category": "x"})
    assert same(to_format(dolly, "alpaca"), {"instruction": "i", "input": "c", "output": "r"})
    assert same(to_format(dolly, "sharegpt"), {
        "id": "pool-0", "conversations": [{"from": "human", "value": "i\n\nc"},
                                          {"from": "gpt", "value": "r"}], "source": "dflt"})
    made_up = {"id": "m", "conversations": [{"from": "human", "value": "q"},
                                            {"from": "gpt", "value": "a"}],
               "source": "demo", "meta": {"quality": "good"}}
    assert same(to_format(made_up, "dolly"),
                {"instruction": "q", "context": "", "response": "a"})
    assert "field 'meta.format': unknown original format None" in error_text(
        lambda: from_canonical(made_up))


@pytest.mark.parametrize("turns", [
    [("human", "q"), ("gpt", "a"), ("human", "r"), ("gpt", "b")],
    [("system", "s"), ("human", "q"), ("gpt", "a")],
    [("gpt", "a"), ("human", "q")],
])
def test_pair_export_of_other_conversations_names_the_record(turns):
    record = canonical(chat(*turns))
    message = error_text(lambda: to_format(record, "alpaca"))
    assert message.startswith("record 'c1': field 'conversations': has turns"), message


def test_prompt_fields_detects_a_tampered_split():
    record = canonical({"instruction": "i", "input": "in", "output": "o"})
    assert prompt_fields(record) == ("i", "in", "o")
    record["conversations"][0]["value"] = "i\nin"
    assert "field 'meta.input_len'" in error_text(lambda: prompt_fields(record))


def test_reference_view_of_sharegpt_keeps_the_original_and_adds_source():
    obj = {"conversations": [{"value": "q", "from": "human"}, {"from": "gpt", "value": "a"}],
           "id": "x_0", "model": "gpt-4"}
    view = to_reference_sharegpt(canonical(obj), 0)
    assert same(view, {**obj, "source": "dflt"})
    with_source = {"id": "x_0", "source": "sg", "conversations": obj["conversations"]}
    assert same(to_reference_sharegpt(canonical(with_source), 0), with_source)
    assert str([view]) == ("[{'conversations': [{'value': 'q', 'from': 'human'}, "
                           "{'from': 'gpt', 'value': 'a'}], 'id': 'x_0', 'model': 'gpt-4', "
                           "'source': 'dflt'}]")


def test_reference_view_renames_role_content_and_builds_other_formats():
    obj = {"id": "r", "conversations": [{"content": "q", "role": "user"},
                                        {"role": "assistant", "content": "a", "w": 1}]}
    assert same(to_reference_sharegpt(canonical(obj), 0), {
        "id": "r", "conversations": [{"value": "q", "from": "human"},
                                     {"from": "gpt", "value": "a", "w": 1}], "source": "dflt"})
    alpaca = canonical({"instruction": "i", "input": "x", "output": "o", "source": "al"})
    # an id generated at conversion ("pool-0") is replaced by the record's position
    assert alpaca["id"] == "pool-0"
    assert same(to_reference_sharegpt(alpaca, 7), {
        "id": "7", "conversations": [{"from": "human", "value": "i\n\nx"},
                                          {"from": "gpt", "value": "o"}], "source": "al"})


# --- files ---------------------------------------------------------------------------------

@fixture_ok
@given(records=st.sampled_from(list(FORMATS)).flatmap(
    lambda f: st.lists((chat_records if f in ("sharegpt", "messages") else pair_records)(f)
                       .filter(lambda o: "id" not in o), min_size=1, max_size=4)),
       as_array=st.booleans())
def test_convert_file_round_trips_a_whole_file(tmp_path, records, as_array):
    src, dst = tmp_path / ("raw.json" if as_array else "raw.jsonl"), tmp_path / "pool.jsonl"
    src.write_text(json.dumps(records, indent=1) if as_array
                   else "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    counts = convert_file(src, dst)
    pool = list(read_pool(dst))
    assert counts == {"format": detect_format(records[0]), "read": len(records),
                      "written": len(records), "skipped": 0,
                      **{name: sum(name in oddities(r) for r in pool) for name in ODDITIES},
                      **health_of(dst)}
    assert [r["id"] for r in pool] == [f"raw-{i}" for i in range(len(records))]
    assert same([from_canonical(r) for r in pool], records)


def test_convert_file_names_ids_and_sources_as_asked(tmp_path):
    src = tmp_path / "alp.raw.json"
    src.write_text('[{"instruction": "q", "output": "a"}, '
                   '{"instruction": "q", "output": "a", "id": "own", "source": "s"}]')
    assert convert_file(src, tmp_path / "a.jsonl")["written"] == 2
    assert [(r["id"], r["source"]) for r in read_pool(tmp_path / "a.jsonl")] == [
        ("alp-0", "alp"), ("own", "s")]
    convert_file(src, tmp_path / "b.jsonl", "alpaca", id_prefix="x", default_source="y")
    assert [r["id"] for r in read_pool(tmp_path / "b.jsonl")] == ["x-0", "own"]
    with pytest.raises(ValueError, match="unknown format"):
        convert_file(src, tmp_path / "c.jsonl", "csv")


def test_convert_file_can_skip_incomplete_records(tmp_path):
    src, dst = tmp_path / "sg.json", tmp_path / "pool.jsonl"
    src.write_text(json.dumps([chat(("human", "q"), ("gpt", "a"), id="a"), chat(id="b"),
                               chat(("human", "q"), ("gpt", "a"), id="b")], indent=1))
    assert "sg.json:15: record 'b': field 'conversations': empty conversation" in error_text(
        lambda: convert_file(src, dst))
    assert not dst.exists()
    assert convert_file(src, dst, skip_incomplete=True) == {
        "format": "sharegpt", "read": 3, "written": 2, "skipped": 1, **NO_ODDITIES,
        **health_of(dst)}
    assert [r["id"] for r in read_pool(dst)] == ["a", "b"]


def test_convert_file_counts_and_warns_about_odd_records_and_keeps_them(tmp_path, caplog):
    src, dst = tmp_path / "sg.json", tmp_path / "pool.jsonl"
    rows = [chat(("human", "q"), ("gpt", "a"), id="ok"),
            chat(("human", " \n"), ("gpt", "a"), id="blank"),
            chat(("system", "s"), ("gpt", "hi"), ("human", "q"), ("gpt", "a"), id="late"),
            chat(("gpt", "hi"), ("human", ""), ("gpt", "a"), id="both")]
    src.write_text(json.dumps(rows))
    with caplog.at_level("WARNING", logger="workflow_lib.data.formats"):
        counts = convert_file(src, dst)
    assert counts == {"format": "sharegpt", "read": 4, "written": 4, "skipped": 0,
                      "empty_instruction": 2, "assistant_first": 2, **health_of(dst)}
    assert [oddities(r) for r in read_pool(dst)] == [
        [], ["empty_instruction"], ["assistant_first"], ["empty_instruction", "assistant_first"]]
    assert same([from_canonical(r) for r in read_pool(dst)], rows)  # kept unchanged
    assert [r.message.split(": ", 1)[1] for r in caplog.records] == [
        "2 of 4 records have an empty instruction (blank first human turn); kept as they are "
        "(`empty_instruction` in the manifest)",
        "2 of 4 records have a conversation that starts with an assistant turn; kept as they "
        "are (`assistant_first` in the manifest)"]


def test_convert_file_limit_stops_reading_early(tmp_path):
    src, dst = tmp_path / "sg.jsonl", tmp_path / "pool.jsonl"
    rows = [chat(id="a"), *(chat(("human", "q"), ("gpt", "a"), id=str(i)) for i in range(3))]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    assert convert_file(src, dst, skip_incomplete=True, limit=2) == {
        "format": "sharegpt", "read": 3, "written": 2, "skipped": 1, **NO_ODDITIES,
        **health_of(dst)}
    assert [r["id"] for r in read_pool(dst)] == ["0", "1"]


ALP = '{"instruction": "q", "input": "", "output": "a"}\n'
SG = '{"id": "s%d", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}\n'  # noqa: E501


@pytest.mark.parametrize(("name", "content", "fragments"), [
    ("pool.jsonl", ALP * 16 + '{"instruction": "q", "input": "", "output": 7}\n',
     ["pool.jsonl:17: record 'pool-16': field 'output': expected str, got int"]),
    ("pool.jsonl", SG % 1 + SG.replace('"value": "a"', '"value": 5') % 2,
     ["pool.jsonl:2: record 's2': field 'conversations[1].value': expected str, got int"]),
    ("pool.jsonl", ALP + '{"instruction": "q", "input": ""}\n',
     ["pool.jsonl:2: record 'pool-1': field 'output': missing"]),
    ("pool.jsonl", SG % 1 + '{"id": "s2", "conversations": "hi"}\n',
     ["pool.jsonl:2: record 's2': field 'conversations': expected list, got str"]),
    ("pool.jsonl", SG % 1 + '{"id": "s2", "conversations": [["human", "q"]]}\n',
     ["pool.jsonl:2: record 's2': field 'conversations[0]': expected dict, got list"]),
    ("pool.jsonl", SG.replace('"from": "gpt"', '"from": "bing"') % 1,
     ["pool.jsonl:1: record 's1': field 'conversations[1].from': unknown role 'bing'"]),
    ("pool.jsonl", SG.replace('"from": "gpt"', '"speaker": "gpt"') % 1,
     ["pool.jsonl:1: record 's1': field 'conversations[1].from': missing"]),
    ("pool.jsonl", SG.replace('"from": "gpt"', '"from": "system"') % 1,
     ["pool.jsonl:1: record 's1': field 'conversations[1].from': a system turn may only"]),
    ("pool.jsonl", SG % 1 + '{"id": "s2", "conversations": []}\n',
     ["pool.jsonl:2: record 's2': field 'conversations': empty conversation"]),
    ("pool.jsonl", SG.replace('"s%d"', "%d") % 4,
     ["pool.jsonl:1: field 'id': expected str, got int"]),
    ("pool.jsonl", SG % 1 + SG % 2 + SG % 1,
     ["pool.jsonl:3: record 's1': field 'id': duplicate id, first seen at line 1"]),
    ("pool.jsonl", ALP + '{"instruction": "q", "id": "x", "output": "a"}\n' + ALP.replace(
        "{", '{"id": "x", '), ["pool.jsonl:3: record 'x': field 'id': duplicate id, first "
                               "seen at line 2"]),
    ("pool.jsonl", ALP + ALP.replace('"q"', '"\udcff"'), ["pool.jsonl:2: invalid UTF-8"]),
    ("pool.jsonl", ALP + ALP[:20], ["pool.jsonl:2: invalid JSON"]),
    ("pool.json", "[\n" + ALP + ",\n" + ALP[:30], ["pool.json:4: invalid JSON"]),
    ("pool.json", "[\n" + ALP + ",\n" + ALP,
     ["pool.json:5: invalid JSON: expected ',' or ']', found end of file"]),
    ("pool.json", "", ["pool.json: no records (empty file)"]),
    ("pool.jsonl", ALP + "[1]\n", ["pool.jsonl:2: expected a JSON object, got list"]),
    ("pool.jsonl", '{"prompt": "q"}\n', ["pool.jsonl:1: cannot detect the format"]),
])
def test_convert_file_rejects_bad_input_and_leaves_no_output(tmp_path, name, content,
                                                             fragments):
    src, dst = tmp_path / name, tmp_path / "out" / "pool.jsonl"
    src.write_bytes(content.encode("utf-8", "surrogateescape"))
    message = error_text(lambda: convert_file(src, dst))
    assert all(f in message for f in fragments), message
    assert not dst.parent.exists() or os.listdir(dst.parent) == []
    dst.parent.mkdir(exist_ok=True)
    dst.write_text("previous\n")
    with pytest.raises(DataError):
        convert_file(src, dst)
    assert dst.read_text() == "previous\n"
    assert os.listdir(dst.parent) == ["pool.jsonl"]


@pytest.mark.parametrize(("name", "skipped"), [
    ("alpaca_sample_2k.json", 0), ("dolly_sample_2k.jsonl", 0), ("sharegpt_sample_300.json", 8)])
def test_real_shared_pools_convert_and_round_trip(tmp_path, name, skipped):
    src = SHARED_POOLS / name
    if not src.exists():
        pytest.skip(f"{src} is absent (shared real data lives outside the repository)")
    counts = convert_file(src, tmp_path / "pool.jsonl", skip_incomplete=True)
    assert counts["skipped"] == skipped
    kept = []
    for index, (_, obj) in enumerate(read_records(src)):
        with contextlib.suppress(IncompleteRecord):
            canonical(obj, counts["format"], index)
            kept.append(obj)
    assert same([from_canonical(r) for r in read_pool(tmp_path / "pool.jsonl")], kept)
