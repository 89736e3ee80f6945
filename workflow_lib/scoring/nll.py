"""The loss kernel shared by BPC, IFD and IterIT scoring: summed cross-entropy of chosen targets.

`scored_nll` applies the LM head only to the scored positions (in chunks), which avoids a
batch × length × vocabulary logits tensor; `head_only_is_exact` checks that a model allows it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

_HEAD_ROWS = 2048  # scored positions per LM-head chunk: bounds logits memory (rows × vocab fp32)


def head_only_is_exact(model: PreTrainedModel) -> bool:
    """Whether the LM head applied to the backbone's last hidden state reproduces the logits.

    False for models that post-process logits (soft-capping, scaling); use full logits there.
    """
    device = model.get_input_embeddings().weight.device
    probe = torch.arange(8, device=device).remainder(model.config.vocab_size)[None]
    with torch.inference_mode():
        full = model(input_ids=probe, use_cache=False).logits.float()
        hidden = model.base_model(input_ids=probe, use_cache=False).last_hidden_state
        head = model.get_output_embeddings()(hidden).float()
    return torch.allclose(full, head, rtol=1e-3, atol=1e-3)


def scored_nll(
    model: PreTrainedModel, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, head_only: bool
) -> torch.Tensor:
    """Per-window summed cross-entropy (float64) of the targets `y` where `mask` is set."""
    rows = mask.nonzero()[:, 0]
    targets = y[mask]
    if head_only:
        hidden = model.base_model(input_ids=x, use_cache=False).last_hidden_state[mask]
        head = model.get_output_embeddings()
        losses = torch.cat(
            [
                F.cross_entropy(
                    head(hidden[i : i + _HEAD_ROWS]).float(),
                    targets[i : i + _HEAD_ROWS],
                    reduction="none",
                )
                for i in range(0, len(targets), _HEAD_ROWS)
            ]
        )
    else:
        logits = model(input_ids=x, use_cache=False).logits[mask].float()
        losses = F.cross_entropy(logits, targets, reduction="none")
    per_window = torch.zeros(len(x), dtype=torch.float64, device=losses.device)
    return per_window.index_add_(0, rows, losses.double())
