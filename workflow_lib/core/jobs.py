"""Running a Snakemake script job: log to the rule's log file, report user errors in one line,
and hand the project's warnings to the end of the run.

Snakemake shows a job's log on the console only when the job fails. So that a warning (ZIP
repeating records, odd records in a pool) is not seen only by those who read the logs, a job
also writes the `workflow_lib` warnings to `<log>.warnings`; the Snakefile's `onsuccess` and
`onerror` handlers print those files with `print_job_warnings` and remove them. The files live
next to the logs, so this works alike for local and cluster jobs (shared filesystem).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from workflow_lib.core.errors import UserError

WARNINGS_SUFFIX = ".warnings"


def run_job(snakemake: Any, main: Callable[[Any], None], context: str | None = None) -> None:
    """Run `main(snakemake)` with stderr and logging sent to the job's log file.

    A UserError ends the job with exit status 1 and a single `ERROR:` line (also the log's last
    line, which `--show-failed-logs` prints), prefixed by `context` if given; any other
    exception keeps its full traceback, printed once. Warnings of `workflow_lib` loggers also go
    to `<log>.warnings` (see the module docstring).
    """
    log_path = snakemake.log[0] if snakemake.log else None
    stream = (open(log_path, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives as long as the job)
              if log_path else sys.stderr)
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_path:
        warnings = Path(log_path + WARNINGS_SUFFIX)
        warnings.unlink(missing_ok=True)  # a rerun's warnings replace the earlier ones
        handler = logging.FileHandler(warnings, encoding="utf-8", delay=True)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger("workflow_lib").addHandler(handler)
    try:
        main(snakemake)
    except UserError as err:
        print(f"ERROR: {context}: {err}" if context else f"ERROR: {err}", file=stream)
        sys.exit(1)


def print_job_warnings(log_root: str | Path = "logs", stream: TextIO | None = None,
                       per_job: int = 5) -> None:
    """Print the warnings files that jobs left under `log_root`, at most `per_job` lines each
    after its log file's name, then remove the files (the logs keep every warning)."""
    files = sorted(Path(log_root).rglob("*" + WARNINGS_SUFFIX))
    if not files:
        return
    stream = stream or sys.stderr
    print(f"Warnings from {len(files)} job(s), also in their logs:", file=stream)
    for path in files:
        log_file = str(path).removesuffix(WARNINGS_SUFFIX)
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in lines[:per_job]:
            print(f"  {log_file}: {line}", file=stream)
        if len(lines) > per_job:
            print(f"  {log_file}: ... {len(lines) - per_job} more", file=stream)
        path.unlink()
