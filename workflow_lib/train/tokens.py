"""The selected set's mean length in tokens of the base model's tokenizer, as ZIP's tables report
it next to the compression ratio: each record's conversation text (`records.conversation_text`,
all turns joined with newlines, no chat template, no special tokens)."""

from __future__ import annotations

import os

from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.data.records import conversation_text
from workflow_lib.models.loading import load_tokenizer


def mean_tokens(data_path: str | os.PathLike, model_dir: str | os.PathLike,
                batch: int = 256) -> float | None:
    """Mean token count of the records' conversation text in the JSONL `data_path` with the
    tokenizer of `model_dir`; None for an empty file."""
    tokenizer = load_tokenizer(model_dir)
    texts = [conversation_text(record) for _, record in read_jsonl(data_path)]
    counts = [len(ids) for i in range(0, len(texts), batch)
              for ids in tokenizer(texts[i:i + batch], add_special_tokens=False)["input_ids"]]
    return sum(counts) / len(counts) if counts else None
