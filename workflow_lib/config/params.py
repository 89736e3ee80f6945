"""What of a config entry is a rule parameter: everything but its documentation fields.

A named entry of `pools`, `models`, `corpora` or `methods` may carry a `description:`
(schemas/config.schema.yaml, `$defs/description`). It documents the entry for its readers and
changes no output, so it never reaches a rule's params, where Snakemake would rerun every job
downstream of an edit. Every params function that passes a whole entry passes `without_docs`
of it (rules/common.smk, `entry_params`).
"""

from __future__ import annotations

from collections.abc import Mapping

DOC_FIELDS = frozenset({"description"})  # the schema's `$defs/description` properties


def without_docs(entry: Mapping) -> dict:
    """The entry's keys and values, in order, without its documentation fields."""
    return {key: value for key, value in entry.items() if key not in DOC_FIELDS}
