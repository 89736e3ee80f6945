# Set-up and entry points. `make demo` and `make test` install what they need on a fresh machine.
PYTHON ?= python3
CORES ?= 2
VENV := .venv
BIN := $(VENV)/bin
CORE_ENV := envs/core.yaml
REQS := $(PYTHON) envs/pip_requirements.py

.PHONY: venv demo test lint dryrun lock clean-venv

venv: $(VENV)/.installed

# torch first (pinned, CPU build where the machine provides one), then the rest under the lock file.
$(VENV)/.installed: $(CORE_ENV) envs/constraints-core.txt envs/pip_requirements.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$$($(REQS) --only torch $(CORE_ENV))"
	$(REQS) $(CORE_ENV) > $(VENV)/requirements.txt
	$(REQS) --no-deps $(CORE_ENV) > $(VENV)/requirements-nodeps.txt
	$(BIN)/pip install --quiet -c envs/constraints-core.txt -r $(VENV)/requirements.txt
	$(BIN)/pip install --quiet --no-deps -r $(VENV)/requirements-nodeps.txt
	touch $@

demo: venv
	$(BIN)/snakemake --cores $(CORES)

test: venv lint
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint --cores 1

dryrun: venv
	$(BIN)/snakemake -n --cores $(CORES)

# Regenerate the lock file from a fresh resolution of the env file's pins.
lock:
	rm -rf /tmp/sieve-lock && $(PYTHON) -m venv /tmp/sieve-lock
	/tmp/sieve-lock/bin/pip install --quiet "$$($(REQS) --only torch $(CORE_ENV))"
	$(REQS) $(CORE_ENV) > /tmp/sieve-lock/requirements.txt
	/tmp/sieve-lock/bin/pip install --quiet -r /tmp/sieve-lock/requirements.txt
	/tmp/sieve-lock/bin/pip freeze | sed 's/+cpu$$//' > envs/constraints-core.txt

clean-venv:
	rm -rf $(VENV)
