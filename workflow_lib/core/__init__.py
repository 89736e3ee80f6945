"""Foundations every other package may import: the user-facing error types, JSON/JSONL
files written atomically, provenance manifests with the project's version, torch's thread
count, the subprocess environment of the tools, the Snakemake job wrapper, and every file and
folder pattern of the workflow (`paths`). Imports nothing else of workflow_lib.
"""
