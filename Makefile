# Set-up and entry points. `make demo` and `make test` install what they need on a fresh machine.
PYTHON ?= python3
CORES ?= 2
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
ALPACA := .venv-alpaca
CORE_ENV := envs/core.yaml
TOOLS_ENVS := envs/train.yaml envs/eval.yaml
REQS := $(PYTHON) envs/pip_requirements.py

.PHONY: venv tools alpaca chromium demo test rehearse lint dryrun lock clean-venv

venv: $(VENV)/.installed $(VENV)/.package

# Axolotl and lm-eval: their pins (packaging==26 among them) cannot share Snakemake's venv.
tools: $(TOOLS)/.installed $(TOOLS)/.package

# AlpacaEval's annotation (eval.alpaca_eval): the alpaca-eval package needs openai>=1.5, the tools
# pin openai 0.28.1 for FastChat, so it lives apart, pinned by its own lock file. The demo and
# the tests run the package.
alpaca: $(ALPACA)/.installed

$(ALPACA)/.installed: envs/alpaca_eval.yaml envs/constraints-alpaca.txt envs/pip_requirements.py
	$(PYTHON) -m venv $(ALPACA)
	$(ALPACA)/bin/pip install --quiet --upgrade pip
	$(REQS) envs/alpaca_eval.yaml > $(ALPACA)/requirements.txt
	$(ALPACA)/bin/pip install --quiet -c envs/constraints-alpaca.txt -r $(ALPACA)/requirements.txt
	touch $@

# workflow_lib itself, editable, in both environments: the rules' scripts import it, and so does
# Axolotl (its IterIT plugin). Rebuilt alone when pyproject.toml changes.
%/.package: %/.installed pyproject.toml
	$*/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(TOOLS)/.installed: $(TOOLS_ENVS) envs/constraints-tools.txt envs/pip_requirements.py
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet "$$($(REQS) --only torch $(TOOLS_ENVS))"
	$(REQS) $(TOOLS_ENVS) > $(TOOLS)/requirements.txt
	$(TOOLS)/bin/pip install --quiet -c envs/constraints-tools.txt -r $(TOOLS)/requirements.txt
	touch $@

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

demo: venv tools alpaca
	$(BIN)/snakemake --cores $(CORES)

test: venv tools alpaca chromium lint
	$(BIN)/pytest

# tests/workflow/test_report_browser.py opens the report in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } || \
	  { echo "make chromium: install Chromium (Debian: apt-get install chromium)" >&2; exit 1; }

# Every recipe's rehearsal for real (tests/workflow/test_rehearsal.py; make test runs the two
# DeepSpeed recipes only): docs/cluster.md, "Rehearse a recipe before booking GPUs".
rehearse: venv tools
	SIEVE_REHEARSE_ALL=1 $(BIN)/pytest tests/workflow/test_rehearsal.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/snakemake --lint --cores 1
	$(BIN)/snakefmt --check --no-sort .

dryrun: venv
	$(BIN)/snakemake -n --cores $(CORES)

# Regenerate the lock files from fresh resolutions of the env files' pins.
lock:
	$(MAKE) --no-print-directory lock-one ENVS="$(CORE_ENV)" LOCK=envs/constraints-core.txt
	$(MAKE) --no-print-directory lock-one ENVS="$(TOOLS_ENVS)" LOCK=envs/constraints-tools.txt
	$(MAKE) --no-print-directory lock-one ENVS=envs/alpaca_eval.yaml LOCK=envs/constraints-alpaca.txt

lock-one:
	rm -rf /tmp/sieve-lock && $(PYTHON) -m venv /tmp/sieve-lock
	torch="$$($(REQS) --only torch $(ENVS))"; [ -z "$$torch" ] || \
	  /tmp/sieve-lock/bin/pip install --quiet "$$torch"
	$(REQS) $(ENVS) > /tmp/sieve-lock/requirements.txt
	/tmp/sieve-lock/bin/pip install --quiet -r /tmp/sieve-lock/requirements.txt
	/tmp/sieve-lock/bin/pip freeze | sed 's/+cpu$$//' > $(LOCK)

clean-venv:
	rm -rf $(VENV) $(TOOLS) $(ALPACA)
