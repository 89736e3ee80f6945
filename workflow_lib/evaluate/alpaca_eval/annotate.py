"""The annotation job of AlpacaEval, run in the core environment: the run's answers against the
reference outputs, sent through the alpaca-eval environment's `annotator.py` to the judge (the
stand-in started on loopback for kind local), and the package's numbers as metrics.json rows."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from workflow_lib.core.errors import UserError
from workflow_lib.evaluate.judge.runner import open_judge
from workflow_lib.evaluate.metrics import MetricRow, RunMetrics

log = logging.getLogger(__name__)
ANNOTATOR = Path(__file__).with_name("annotator.py")
BENCHMARK = "alpaca_eval"


def annotate(outputs: Sequence[dict], reference: Sequence[dict], settings: Mapping,
             judge: dict, python: str, *, offline: bool) -> dict:
    """The annotator program's result for `outputs` against `reference` (see annotator.py);
    UserError with its message when it fails."""
    request = {"annotator": settings["annotator"], "judge_model": judge["model"],
               "seed": settings["seed"], "model_outputs": list(outputs),
               "reference_outputs": list(reference)}
    with open_judge(judge, setting="eval.alpaca_eval.judge") as endpoint, \
            tempfile.TemporaryDirectory(prefix="alpaca_eval-") as work:
        request_path, result_path = Path(work, "request.json"), Path(work, "result.json")
        request_path.write_text(json.dumps(request), encoding="utf-8")
        env = {**os.environ, "OPENAI_API_BASE": endpoint.base_url,
               # The package's client requires a key; an endpoint without one accepts any.
               "OPENAI_API_KEY": endpoint.api_key or "EMPTY", "IS_ALPACA_EVAL_2": "False",
               "OPENAI_MAX_CONCURRENCY": str(judge["parallel"])}
        env.pop("OPENAI_CLIENT_CONFIG_PATH", None)
        if offline:
            env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
        try:
            proc = subprocess.run([python, str(ANNOTATOR), str(request_path), str(result_path)],
                                  env=env, capture_output=True, text=True)
        except FileNotFoundError:
            raise UserError(f"eval.alpaca_eval.python: {python} does not exist (`make alpaca` "
                            "builds .venv-alpaca)") from None
        log.info("alpaca-eval annotator:\n%s", endpoint.redact(proc.stderr[-20000:]))
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["(no output)"]
            errors = [line for line in lines if line.startswith("ERROR: ")]
            raise UserError(errors[-1].removeprefix("ERROR: ") if errors else
                            f"the alpaca-eval annotator failed: {lines[-1]}")
        return json.loads(result_path.read_text(encoding="utf-8"))


def annotation_records(result: Mapping) -> list[dict]:
    """One record per instruction: the package's preference (1 the reference, 2 the run, 1.5 a
    draw) or None with `failed` when the judge's ranking could not be parsed."""
    return [{"instruction": a["instruction"], "preference": a["preference"],
             "failed": a["preference"] is None} for a in result["annotations"]]


def alpaca_eval_metrics(run: str, result: Mapping) -> RunMetrics:
    """metrics.json rows: the package's win rate (percent, its standard error, n = instructions
    with a preference), the length-controlled win rate (None where the package cannot fit it),
    the wins, draws and failed annotations (unparsable rankings, never counted as
    preferences)."""
    annotated = len(result["annotations"])
    n = int(result["n_total"])
    rows = [
        MetricRow(BENCHMARK, "win_rate", result["win_rate"], result["standard_error"], n, True),
        MetricRow(BENCHMARK, "length_controlled_winrate", result["length_controlled_winrate"],
                  result["lc_standard_error"], n, True),
        MetricRow(BENCHMARK, "n_wins", result["n_wins"], None, n, True),
        MetricRow(BENCHMARK, "n_draws", result["n_draws"], None, n, True),
        MetricRow(BENCHMARK, "failed", float(annotated - n), None, annotated, False),
    ]
    return RunMetrics(run, "alpaca_eval", rows)
