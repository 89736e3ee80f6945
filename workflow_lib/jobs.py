"""Running a Snakemake script job: log to the rule's log file, report user errors in one line."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from workflow_lib.errors import UserError


def run_job(snakemake: Any, main: Callable[[Any], None]) -> None:
    """Run `main(snakemake)` with stderr and logging sent to the job's log file.

    A UserError ends the job with exit status 1 and a single `ERROR:` line (also the log's last
    line, which `--show-failed-logs` prints); any other exception keeps its full traceback.
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
        print(f"ERROR: {err}", file=stream)
        sys.exit(1)
    except Exception:
        traceback.print_exc(file=stream)
        raise
