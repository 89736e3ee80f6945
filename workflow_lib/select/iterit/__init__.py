"""IterIT (selection while training): per-epoch scoring with the current weights, the
IFD x TF-IDF selection rule and the epoch schedule. Runs inside Axolotl's process (tools
environment): imports torch/transformers and `core`, `data`, `models`, `scoring`, never
Snakemake.
"""
