"""The fine-tunes' own numbers for the paper table, read from their training manifests
(`train.axolotl_run.train_run`): ZIP's first-epoch loss and the training file's mean length in
the base model's tokens. A manifest written before a field existed gives a missing cell."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

TRAINING_COLUMNS = ["mean tokens", "first-epoch loss"]
MANIFEST = "manifest.json"  # in each model folder (train.axolotl_run.MANIFEST_NAME)


def training_table(model_dirs: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """A row per model folder: `run` and `TRAINING_COLUMNS` from its manifest.json."""
    rows = []
    for folder in model_dirs:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        rows.append({"run": manifest["run"], "mean tokens": manifest.get("mean_tokens"),
                     "first-epoch loss": manifest["metrics"].get("first_epoch_loss")})
    return pd.DataFrame(rows, columns=["run", *TRAINING_COLUMNS]).astype(
        dict.fromkeys(TRAINING_COLUMNS, float))
