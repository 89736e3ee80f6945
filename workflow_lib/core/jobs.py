"""Running a Snakemake script job: log to the rule's log file, report user errors in one line,
and hand the project's warnings and errors to the end of the run.

Snakemake shows a job's log on the console only when the job fails. So that a warning (ZIP
repeating records, odd records in a pool) is not seen only by those who read the logs, a job
also writes the `workflow_lib` warnings to `<log>.warnings`; the Snakefile's `onsuccess` and
`onerror` handlers print those files with `print_job_warnings` and remove them. A failed job
writes its one-line error to `<log>.error` (a UserError's message, or an unexpected
exception's type and first line), which `onerror` prints last with `print_job_errors`, so the
error is not buried ~70 lines up in Snakemake's report. The files live next to the logs, so
this works alike for local and cluster jobs (shared filesystem).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from workflow_lib.core.errors import UserError

WARNINGS_SUFFIX = ".warnings"
ERROR_SUFFIX = ".error"


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
    error = Path(log_path + ERROR_SUFFIX) if log_path else None
    if error:
        error.unlink(missing_ok=True)
    try:
        main(snakemake)
    except UserError as err:
        line = f"ERROR: {context}: {err}" if context else f"ERROR: {err}"
        print(line, file=stream)
        if error:
            error.write_text(line + "\n", encoding="utf-8")
        sys.exit(1)
    except Exception as err:
        if error:
            first = (str(err).splitlines() or [""])[0]
            error.write_text(f"ERROR: {type(err).__name__}: {first} (traceback in the log)\n",
                             encoding="utf-8")
        raise


def print_job_errors(log_root: str | Path = "logs", stream: TextIO | None = None) -> None:
    """Print the one-line errors that failed jobs left under `log_root`, each after its log
    file's name, then remove the files."""
    files = sorted(Path(log_root).rglob("*" + ERROR_SUFFIX))
    if not files:
        return
    stream = stream or sys.stderr
    print(f"Failed: {len(files)} job(s); their errors (full logs above and in the files):",
          file=stream)
    for path in files:
        line = path.read_text(encoding="utf-8").strip()
        print(f"  {str(path).removesuffix(ERROR_SUFFIX)}: {line}", file=stream)
        path.unlink()


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
