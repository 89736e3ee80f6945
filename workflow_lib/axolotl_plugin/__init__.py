"""Axolotl plugins, imported by Axolotl in the tools environment (no Snakemake,
no jsonschema there): IterIT's per-epoch subset switch, and what training on several CPU
processes needs (`cpu_processes`). Imports `core` and `select.iterit` only.
"""
