"""Fixtures shared by the workflow tests: the tiny end-to-end run (made once per session and
treated as read-only: tests that change files copy it first) and a summary of measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.support import TINY_CONFIG, snakemake, write_config

SUMMARY = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole current chain, for real, on a 60-record demo pool and a tiny local model."""
    workdir = tmp_path_factory.mktemp("tiny-run")
    rows = [{"content": f"doc {i} " * (i + 1), "subset": "cc" if i % 2 else "python", "meta": {}}
            for i in range(6)]
    (workdir / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mtbench = {"enabled": True, "max_new_tokens": 8, "per_category": 1, "questions": "demo"}
    areas = {"answers": {"corpus": "small_cc", "exclude": ["base-tiny"], "benchmarks": [
                 {"benchmark": "demo_heldout_gen", "metric": "exact_match_strip"}]},
             "choices": {"corpus": "small_cc",
                         "benchmarks": [{"benchmark": "demo_heldout_mc", "metric": "acc"}]}}
    bpc = {**TINY_CONFIG["eval"]["bpc"], "areas": areas}
    write_config(workdir, {**TINY_CONFIG,
                           "eval": {**TINY_CONFIG["eval"], "mtbench": mtbench, "bpc": bpc},
                           "corpora": {"small_cc": {"source": {"kind": "local",
                                                               "path": "corpus.jsonl"},
                                                    "subset": "cc", "limit": 2}}})
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and spin-waits stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def summary(request) -> list[str]:
    """Lines a test wants shown at the end of the session (counts, timings)."""
    return request.config.stash.setdefault(SUMMARY, [])


def pytest_terminal_summary(terminalreporter, config) -> None:
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("measurements")
        for line in lines:
            terminalreporter.write_line(line)
