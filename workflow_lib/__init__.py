"""Sieve's library: every algorithm, data format and file contract of the pipeline.

Importable and testable without Snakemake; the rules' scripts are thin adapters over it.

Layers, lowest first (a subpackage imports its own layer and those below it; `make lint` checks
it with import-linter, the contract in pyproject.toml): core < data < models < scoring < select <
evaluate < config < train | axolotl_plugin < report. `config` sits above `select` and `evaluate`
because it reads the whole configuration and composes their registries (the schema, the grid,
what the rules ask); every path pattern is `core.paths`.
"""
