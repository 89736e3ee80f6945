"""Sieve's library: every algorithm, data format and file contract of the pipeline.

Importable and testable without Snakemake; the rules' scripts are thin adapters over it.
"""
