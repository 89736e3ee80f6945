"""The records a budget asks for and those a method selects: both in the manifest, and a warning
when they differ (ZIP's reference rounding, an IFD filter keeping fewer records)."""

import json
import logging

from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.select.budget import Budget
from workflow_lib.select.ifd import ifd_selection
from workflow_lib.select.registry import selection_kind
from workflow_lib.select.request import SelectionRequest
from workflow_lib.select.run import run_selection

N = 30
POOL = [{"id": f"r{i}", "source": "s", "meta": {},
         "conversations": [{"from": "human", "value": f"question {i} " * (i % 7 + 1)},
                           {"from": "gpt", "value": "answer " * i}]} for i in range(N)]


def select(tmp_path, method: dict, budget: Budget) -> dict:
    """Run one selection of POOL; its manifest."""
    pool = tmp_path / "pool.jsonl"
    write_jsonl(pool, POOL)
    out = tmp_path / method["kind"]
    out.mkdir()
    run_selection(pool_path=pool, pool="p", method_name=method["kind"], method=method,
                  budget=budget, data_path=out / "data.jsonl",
                  manifest_path=out / "manifest.json")
    return json.loads((out / "manifest.json").read_text())


def test_zip_rounding_up_to_whole_rounds_is_recorded_and_warned(tmp_path, caplog):
    zip_method = {"kind": "zip", "mode": "reference", "k1": 20, "k2": 10, "k3": 4, "workers": 1}
    with caplog.at_level(logging.WARNING, logger="workflow_lib"):
        manifest = select(tmp_path, zip_method, Budget(0.2))
    assert (manifest["budget"], manifest["requested"], manifest["selected"]) == (0.2, 6, 8)
    assert manifest["stats"]["n_records"] == 8
    assert [r.getMessage() for r in caplog.records] == [
        "selected 8 records, budget 0.2 asks for 6: ZIP's reference mode selects whole rounds "
        "of k3=4 (quirk Q2; mode clean selects the budget exactly)"]


def test_a_selection_of_the_requested_size_warns_nothing(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="workflow_lib"):
        random = select(tmp_path, {"kind": "random", "seed": 0}, Budget(0.2))
        clean = select(tmp_path, {"kind": "zip", "mode": "clean", "k1": 20, "k2": 10, "k3": 4,
                                  "workers": 1}, Budget(0.2))
    assert (random["requested"], random["selected"]) == (clean["requested"],
                                                         clean["selected"]) == (6, 6)
    assert caplog.records == []


def test_ifd_filter_keeping_fewer_records_than_requested_says_so():
    rows = [{"id": r["id"], "ifd": 0.5 if i < 9 else 1.5, "reason": None}
            for i, r in enumerate(POOL)]
    request = SelectionRequest(POOL, Budget(10), selection_kind("superfiltering").rounding,
                               {"kind": "superfiltering", "threshold": 1.0}, scores=rows,
                               scorer={"name": "s", "preset": "superfiltering",
                                       "max_length": None})
    selected = ifd_selection(request)
    assert (len(selected.indices), selected.requested) == (9, 10)
    assert selected.note == "9 records pass the IFD filter (threshold 1.0)"


def test_cherry_requests_a_fraction_of_the_records_it_keeps():
    rows = [{"id": r["id"], "ifd": 0.5 if i < 20 else 1.5, "reason": None}
            for i, r in enumerate(POOL)]
    request = SelectionRequest(POOL, Budget(0.5), selection_kind("cherry").rounding,
                               {"kind": "cherry", "threshold": 1.0}, scores=rows,
                               scorer={"name": "s", "preset": "cherry", "max_length": None})
    selected = ifd_selection(request)
    assert len(selected.indices) == selected.requested == 10  # int(0.5 · 20 kept), not of 30
