"""Running a Snakemake script job: log to the rule's log file, report user errors in one line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from workflow_lib.config import runs
from workflow_lib.errors import UserError


def run_job(snakemake: Any, main: Callable[[Any], None], context: str | None = None) -> None:
    """Run `main(snakemake)` with stderr and logging sent to the job's log file.

    A UserError ends the job with exit status 1 and a single `ERROR:` line (also the log's last
    line, which `--show-failed-logs` prints), prefixed by `context` if given; any other
    exception keeps its full traceback, printed once.
    """
    log_path = snakemake.log[0] if snakemake.log else None
    stream = (open(log_path, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives as long as the job)
              if log_path else sys.stderr)
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        main(snakemake)
    except UserError as err:
        print(f"ERROR: {context}: {err}" if context else f"ERROR: {err}", file=stream)
        sys.exit(1)


def selection_context(snakemake: Any) -> str:
    """`<pool file>: method '<name>'`, how a selection job's errors start (IterIT runs, which
    have a `run` wildcard instead of `method`, find their method in the config's run grid)."""
    method = getattr(snakemake.wildcards, "method", None)
    if method is None:
        run = next(r for r in runs(snakemake.config) if r.name == snakemake.wildcards.run)
        method = run.selection.method
    return f"{snakemake.input.pool}: method {method!r}"
