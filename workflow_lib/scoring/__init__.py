"""Per-record and per-corpus losses of a language model: the shared NLL kernel, IFD scores
(Superfiltering, Cherry) and their presets, span losses, sliding-window BPC, score shards.
Imports `core`, `data` and `models`.
"""
