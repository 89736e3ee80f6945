"""Script jobs: one ERROR: line for user errors, one traceback otherwise, and warnings handed to
the end of the run (workflow_lib.core.jobs)."""

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support import ROOT, TINY_CONFIG
from workflow_lib.config.grid import selection_context
from workflow_lib.config.validate import validate_config
from workflow_lib.core.jobs import print_job_errors, print_job_warnings

JOB = """
import logging, sys
from types import SimpleNamespace
from workflow_lib.core.errors import UserError
from workflow_lib.core.jobs import run_job

def main(smk):
    logging.getLogger("workflow_lib.demo").warning("odd records: 3")
    logging.getLogger("other").warning("not the project's")
    {body}

run_job(SimpleNamespace(log=[sys.argv[1]]), main, context="pool.jsonl: method 'm'")
"""


def run_job_script(tmp_path: Path, body: str) -> tuple[int, str, Path]:
    """Run a job whose main() warns, then runs `body`; returns exit status, log, warnings file."""
    log = tmp_path / "job.log"
    warnings = tmp_path / "job.log.warnings"
    warnings.write_text("stale warning of an earlier run\n")
    script = textwrap.dedent(JOB).format(body=body)
    proc = subprocess.run([sys.executable, "-c", script, str(log)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.stdout == proc.stderr == ""  # everything goes to the log
    return proc.returncode, log.read_text(), warnings


@pytest.mark.parametrize(("body", "status"), [("pass", 0), ("raise UserError('bad budget')", 1)])
def test_user_error_is_one_line_and_project_warnings_are_kept(tmp_path, body, status):
    code, log, warnings = run_job_script(tmp_path, body)
    assert code == status
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if line.startswith("ERROR:")]
    assert errors == (["ERROR: pool.jsonl: method 'm': bad budget"] if status else [])
    assert warnings.read_text() == "odd records: 3\n"
    error_file = tmp_path / "job.log.error"
    assert (error_file.read_text().splitlines() if status else error_file.exists()) == (
        errors if status else False)


def test_other_errors_keep_one_traceback(tmp_path):
    code, log, _ = run_job_script(tmp_path, "raise ValueError('a bug')")
    assert code == 1
    assert log.count("Traceback") == 1 and log.rstrip().endswith("ValueError: a bug")
    assert (tmp_path / "job.log.error").read_text() == \
        "ERROR: ValueError: a bug (traceback in the log)\n"


def test_print_job_errors_prints_the_failed_jobs_lines_last(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.log.error").write_text("ERROR: bad budget\n")
    (tmp_path / "b.log.error").write_text("ERROR: ValueError: x (traceback in the log)\n")
    out = io.StringIO()
    print_job_errors(tmp_path, out)
    assert out.getvalue().splitlines() == [
        "Failed: 2 job(s); their errors (full logs above and in the files):",
        f"  {tmp_path / 'a' / '1.log'}: ERROR: bad budget",
        f"  {tmp_path / 'b.log'}: ERROR: ValueError: x (traceback in the log)"]
    assert not list(tmp_path.rglob("*.error"))


def test_print_job_warnings_prints_each_job_once_and_caps_long_ones(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.log.warnings").write_text("one\n")
    (tmp_path / "b.log.warnings").write_text("".join(f"w{i}\n" for i in range(7)))
    out = io.StringIO()
    print_job_warnings(tmp_path, out, per_job=5)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Warnings from 2 job(s), also in their logs:"
    assert lines[1] == f"  {tmp_path / 'a' / '1.log'}: one"
    assert lines[2:] == [f"  {tmp_path / 'b.log'}: w{i}" for i in range(5)] + [
        f"  {tmp_path / 'b.log'}: ... 2 more"]
    assert not list(tmp_path.rglob("*.warnings"))
    out = io.StringIO()
    print_job_warnings(tmp_path, out)
    assert out.getvalue() == ""


def test_selection_context_names_the_pool_and_the_method_also_for_iterit_runs():
    config = json.loads(json.dumps(TINY_CONFIG))
    config["methods"]["iterit_baseline"] = {"kind": "iterit", "strategy": "baseline"}
    config["experiments"].append({"pools": ["demo"], "methods": ["iterit_baseline"],
                                  "budgets": [10], "base_models": ["tiny"]})
    config["eval"]["bpc"]["corpora"] = []
    validate_config(config)
    pool = SimpleNamespace(pool="results/pools/demo.jsonl")
    zip_job = SimpleNamespace(wildcards=SimpleNamespace(pool="demo", method="zip", budget="10"),
                              input=pool, config=config)
    assert selection_context(zip_job) == "results/pools/demo.jsonl: method 'zip'"
    run = SimpleNamespace(run="demo-iterit_baseline-10-tiny")
    iterit_job = SimpleNamespace(wildcards=run, input=pool, config=config)
    assert selection_context(iterit_job) == "results/pools/demo.jsonl: method 'iterit_baseline'"
