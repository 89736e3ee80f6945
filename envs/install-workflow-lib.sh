#!/usr/bin/env bash
# Post-deploy step of every conda environment of the rules (Snakemake runs <env>.post-deploy.sh,
# linked here, inside the new environment, from the directory it was started in): install
# workflow_lib, editable, from this checkout. Start Snakemake in the repository's root.
set -euo pipefail
if ! grep -qs '^name = "sieve"' pyproject.toml; then
  echo "install-workflow-lib.sh: run Snakemake from the Sieve repository root (found no" \
       "pyproject.toml of sieve in $PWD), or pip install -e <repository> in this env" >&2
  exit 1
fi
python -m pip install --quiet --no-deps -e .
