"""IFD presets: each reference's scoring and selection rules as data (`scoring.ifd` describes
them; `iterit` is IterIT's chat-template IFD, `scoring.iterit_ifd`, which no selection method
names: it scores the pools of IterIT's runs at epoch 0). Free of torch, so the workflow reads
a preset's `reference` when it builds the DAG: a scorer's parameters carry it, and a change of
the rules rescores the pools (docs/methods.md §2.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workflow_lib.data.prompts import ALPACA_INPUT, ALPACA_NO_INPUT


@dataclass(frozen=True)
class Preset:
    """How one reference turns a record into the two scored spans and the IFD ratio."""

    name: str
    reference: str  # the reference commit whose rules this follows (part of the score fingerprint)
    prompt_no_input: str
    prompt_input: str
    direct_prefix: str  # text before the response in the direct pass (not scored)
    max_length: int
    direct_max_offset: int  # direct ids are truncated to max_length - L_p + offset
    ratio: Literal["ppl", "loss", "ppl_zero_prior"]  # ppl_zero_prior: IFD 0 if direct loss is 0
    cherry_length_checks: bool  # data_by_IFD.py's skips (prompt length, empty span, length check)
    keep_equal: bool  # IFD == threshold kept (cherry: `> 1` is dropped) or not (`< 1` kept)
    budget_of: Literal["pool", "kept"]  # a fraction budget is of the pool or of the kept list
    order: Literal["ifd_desc", "dataset"]  # order of the selected records
    chat: bool = False  # spans from the tokenizer's chat template (IterIT), not the prompt fields


# One entry per reference; the fields are grouped as in `Preset`: identity, prompts, lengths and
# ratio, selection rules.
PRESETS = {
    "superfiltering": Preset(
        name="superfiltering", reference="tianyi-lab/Superfiltering@f0764af",
        prompt_no_input="{instruction}\n", prompt_input="{instruction}\n{input}\n",
        direct_prefix="", max_length=1024, direct_max_offset=1, ratio="ppl",
        cherry_length_checks=False, keep_equal=False, budget_of="pool", order="ifd_desc"),
    "cherry": Preset(
        name="cherry", reference="tianyi-lab/Cherry_LLM@01fac8d",
        prompt_no_input=ALPACA_NO_INPUT, prompt_input=ALPACA_INPUT,
        direct_prefix="### Response:", max_length=512, direct_max_offset=4, ratio="loss",
        cherry_length_checks=True, keep_equal=True, budget_of="kept", order="dataset"),
    # Selection fields unused (IterIT selects in training); max_length is the run's sequence_len.
    "iterit": Preset(
        name="iterit", reference="JiaQiSJTU/IterIT@433ac6f",
        prompt_no_input="", prompt_input="", direct_prefix="", max_length=1024,
        direct_max_offset=0, ratio="ppl_zero_prior", cherry_length_checks=False,
        keep_equal=False, budget_of="pool", order="ifd_desc", chat=True),
}


def preset(name: str, max_length: int | None = None) -> Preset:
    """The named preset, with `max_length` overridden when given."""
    if name not in PRESETS:
        raise ValueError(f"unknown IFD preset {name!r}; expected one of {sorted(PRESETS)}")
    base = PRESETS[name]
    if max_length is None:
        return base
    return Preset(**{**base.__dict__, "max_length": max_length})
