"""BPC evaluation of a run: one model folder on one prepared corpus, then a run's tidy metrics.

Per corpus, `write_bpc_result` stores the full `BpcResult` with what produced it (settings, corpus
hash, the model's identity, environment); `bpc_metrics` turns a run's results into rows of the
metrics contract (`workflow_lib.evaluate.metrics`): benchmark = corpus, metric = "bpc", n =
characters (the BPC denominator), no stderr, lower is better.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict

from workflow_lib.core.errors import UserError
from workflow_lib.core.manifest import write_manifest
from workflow_lib.core.threads import set_threads
from workflow_lib.data.corpora import read_corpus
from workflow_lib.evaluate.metrics import MetricRow, RunMetrics
from workflow_lib.models.identity import model_identity
from workflow_lib.models.loading import input_device, load_causal_lm
from workflow_lib.scoring.bpc import BpcResult, sliding_window_bpc


def model_bpc(
    model_dir: str | os.PathLike,
    corpus_path: str | os.PathLike,
    *,
    block_size: int = 1900,
    stride: int = 512,
    batch_size: int = 8,
    dtype: str = "float32",
    device: str = "cpu",
    device_map: str | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> BpcResult:
    """Sliding-window BPC of the model in `model_dir` (loaded in `dtype` on `device`, or spread
    over the GPUs with `device_map="auto"`) on a prepared corpus file; `threads` sets torch's
    intra-op threads (the job's threads)."""
    set_threads(threads)
    model, tokenizer = load_causal_lm(model_dir, dtype=dtype, device=device,
                                      device_map=device_map)
    texts = read_corpus(corpus_path)
    try:
        return sliding_window_bpc(model, tokenizer, texts, block_size, stride, batch_size,
                                  device=input_device(model), progress=progress)
    except ValueError as err:  # window/corpus size problems: fixable in the config
        raise UserError(f"BPC of {model_dir} on {corpus_path}: {err} "
                        "(see eval.bpc.block_size and eval.bpc.stride)") from err


def write_bpc_result(path: str | os.PathLike, result: BpcResult, *, run: str, corpus: str,
                     model_dir: str | os.PathLike, corpus_path: str | os.PathLike,
                     settings: Mapping, wall_time_s: float) -> dict:
    """Write one corpus's BPC result with its provenance (the corpus's hash, the model's
    identity); returns what was written."""
    return write_manifest(
        path,
        inputs={"corpus": corpus_path},
        run=run,
        corpus=corpus,
        model=model_identity(model_dir),
        settings=dict(settings),
        result=asdict(result),
        wall_time_s=round(wall_time_s, 3),
    )


def bpc_metrics(run: str, results: Iterable[Mapping]) -> RunMetrics:
    """The metrics of `run` from its per-corpus results (`write_bpc_result`)."""
    rows = []
    for doc in results:
        if doc["run"] != run:
            raise ValueError(f"BPC result of run {doc['run']!r} given for run {run!r}")
        rows.append(MetricRow(benchmark=doc["corpus"], metric="bpc", value=doc["result"]["bpc"],
                              stderr=None, n=doc["result"]["n_chars"], higher_is_better=False))
    return RunMetrics(run, "bpc", rows)
