"""Axolotl plugins, imported by Axolotl in the tools environment (no Snakemake,
no jsonschema there): IterIT's per-epoch subset switch. Imports `core` and `select.iterit` only.
"""
