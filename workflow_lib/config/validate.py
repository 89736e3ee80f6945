"""Configuration checks: schema validation with defaults, and cross-references.

`validate_config` is what the Snakefile calls. It reports the first problems by their key path
(`methods.random.sed: unknown key 'sed'`), which Snakemake's generic validator does not do for
nested discriminated objects. The schema is schemas/config.schema.yaml with the selection
methods' kinds and parameters filled in from the registry (`load_schema`).
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import jsonschema
import yaml

from workflow_lib.config.batch import resolve_batch
from workflow_lib.config.grid import method_kind, pairwise_pairs, pools_of_kind, runs
from workflow_lib.config.rehearsal import apply_rehearsal
from workflow_lib.config.scorers import ITERIT_PREFIX
from workflow_lib.core import paths
from workflow_lib.core.errors import ConfigError
from workflow_lib.evaluate.inference import inference_problems
from workflow_lib.evaluate.lmeval.protocols import protocol_problems
from workflow_lib.evaluate.registry import EVALUATORS
from workflow_lib.select.budget import Budget, BudgetError
from workflow_lib.select.registry import KINDS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


def _budget_value(validator, enabled, instance, schema):
    """The `budgetValue` keyword: a value `Budget.from_config` refuses (1.0), with its reason."""
    if enabled and isinstance(instance, float):
        try:
            Budget.from_config(instance)
        except BudgetError as err:
            yield jsonschema.ValidationError(str(err))


def _with_defaults(validator_class: type) -> type:
    """Extend a jsonschema validator so that `properties` fills in missing defaults, and with
    the project's `budgetValue` keyword."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults,
                                                          "budgetValue": _budget_value})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _allowed_keys(schema: dict, root: dict) -> list[str]:
    """The keys an object schema allows: its own properties and those of the `$defs` its
    `allOf` refers to (a shared definition extended, as the judges' are)."""
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        ref = part.get("$ref", "")
        if ref.startswith("#/$defs/"):
            keys |= set(root["$defs"][ref.removeprefix("#/$defs/")].get("properties", {}))
    return sorted(keys)


def _describe(error: jsonschema.ValidationError, root: dict) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator in ("oneOf", "anyOf") and error.context and "title" in error.schema:
        return f"{path}: {error.instance!r} is not {error.schema['title']}"
    if error.validator in ("additionalProperties", "unevaluatedProperties") \
            and isinstance(error.instance, dict):
        allowed = _allowed_keys(error.schema, root)
        extra = sorted(set(error.instance) - set(allowed))
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"{path}: unknown key {', '.join(repr(k) for k in extra)}{hint}"
    return f"{path}: {error.message}"


def _leaf_errors(errors) -> list[jsonschema.ValidationError]:
    """Flatten allOf/if-then wrappers so messages point at the innermost failing key; a value
    that fits none of a titled oneOf's forms is one error (`_describe`: one line), not one per
    form."""
    leaves = []
    for error in errors:
        if error.context and not (error.validator in ("oneOf", "anyOf")
                                  and "title" in error.schema):
            leaves.extend(_leaf_errors(error.context))
        else:
            leaves.append(error)
    return leaves


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """The YAML JSON-Schema, its `method` definition completed from the selection registry
    (`kind` is one of the registered kinds, and each kind allows its own parameters only) and its
    `eval` block from the evaluator registry (each evaluator's own `eval.<name>` fragment)."""
    with open(path, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    method = schema["$defs"]["method"]
    method["properties"]["kind"]["enum"] = list(KINDS)
    method["allOf"] = [{"if": {"properties": {"kind": {"const": name}}}, "then": kind.schema()}
                       for name, kind in KINDS.items()]
    evaluators = schema["$defs"]["eval"]["properties"]
    for name, evaluator in EVALUATORS.items():
        evaluators[name] = evaluator.schema_fragment()
    return schema


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Validate `config` in place (filling defaults) and check names it refers to.

    A config with a `rehearsal` block becomes its rehearsal (`config.rehearsal`). Raises
    ConfigError listing every problem, one per line, each prefixed by its key path.
    """
    schema = load_schema(schema_path)
    problems = _schema_problems(config, schema)
    if not problems:
        _normalise_budgets(config)
    if not problems and config.get("rehearsal"):
        apply_rehearsal(config)  # then again: the stand-ins' defaults
        problems = _schema_problems(config, schema)
    if not problems:
        train = config["train"]
        problems = _reference_problems(config) + resolve_batch(train)
    if not problems:  # the pairs are found in the run grid, which needs valid references
        problems = _pairwise_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def _schema_problems(config: dict, schema: dict) -> list[str]:
    """Schema violations of `config` (filling in defaults), one line each by key path."""
    errors = sorted(
        _leaf_errors(_Validator(schema).iter_errors(config)),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    return list(dict.fromkeys(_describe(e, schema) for e in errors))


def _normalise_budgets(config: dict) -> None:
    """Each experiment's (valid) budgets as `Budget.from_config` reads them: 100.0 becomes 100,
    so that it has one path label."""
    for exp in config["experiments"]:
        exp["budgets"] = [Budget.from_config(value).value for value in exp["budgets"]]


def _defined(section: dict) -> str:
    return ", ".join(sorted(section)) or "none"


def _reference_problems(config: dict) -> list[str]:
    problems = []
    for i, exp in enumerate(config["experiments"]):
        grid = [bool(exp[field]) for field in ("pools", "methods", "budgets")]
        if any(grid) and not all(grid):
            problems.append(f"experiments.{i}: pools, methods and budgets go together (an entry "
                            "with base_models alone evaluates the base models as they are)")
        if not any(grid) and not exp["base_models"]:
            problems.append(f"experiments.{i}: nothing to run: give pools, methods and budgets, "
                            "or base_models to evaluate")
        for field, section in (("pools", "pools"), ("methods", "methods"),
                               ("base_models", "models")):
            for name in exp[field]:
                if name not in config[section]:
                    problems.append(f"experiments.{i}.{field}: {name!r} is not defined in "
                                    f"{section} (defined: {_defined(config[section])})")
    for name, model in config["models"].items():
        pool = model["source"].get("tokenizer_pool")
        if pool is not None and pool not in config["pools"]:
            problems.append(f"models.{name}.source.tokenizer_pool: {pool!r} is not a pool")
    for name, corpus in config["corpora"].items():
        pool = corpus["source"].get("pool")
        if pool is not None and pool not in pools_of_kind(config, "demo"):
            problems.append(f"corpora.{name}.source.pool: {pool!r} is not a demo pool")
    for i, name in enumerate(config["eval"]["bpc"]["corpora"]):
        if name not in config["corpora"]:
            problems.append(f"eval.bpc.corpora.{i}: {name!r} is not defined in corpora "
                            f"(defined: {_defined(config['corpora'])})")
    problems += _area_problems(config)
    problems += _judge_problems(config["eval"]["mtbench"]["judge"], "eval.mtbench.judge")
    for i, name in enumerate(config["eval"]["alpaca_eval"]["methods"] or []):
        if name not in config["methods"]:
            problems.append(f"eval.alpaca_eval.methods.{i}: {name!r} is not defined in methods "
                            f"(defined: {_defined(config['methods'])})")
    problems += inference_problems(config)
    problems += protocol_problems(config["eval"]["lmeval"], config["tools_python"])
    for i, exp in enumerate(config["experiments"]):
        during = [m for m in exp["methods"]
                  if m in config["methods"] and method_kind(config, m).during_training]
        if during and "all" in exp["budgets"]:
            problems.append(f"experiments.{i}.budgets: 'all' cannot be the per-epoch budget of "
                            f"{', '.join(during)} (selection during training)")
        strategy = config["train"]["distributed"]["strategy"]
        if during and strategy in ("fsdp", "deepspeed_zero3"):
            problems.append(f"train.distributed.strategy: {strategy} shards the parameters, and "
                            f"{', '.join(during)} (selection during training) re-score records on "
                            "every process with whole weights: use ddp, deepspeed_zero1 or "
                            "deepspeed_zero2")
        if during and not exp["base_models"]:
            problems.append(f"experiments.{i}.base_models: needed by {', '.join(during)} "
                            "(selection during training): name a model of `models`")
    for name, scorer in config["scorers"].items():
        if name.startswith(ITERIT_PREFIX):
            problems.append(f"scorers.{name}: names starting with {ITERIT_PREFIX!r} are "
                            "reserved for IterIT's epoch-0 scorers (iterit-{model}); rename "
                            "the scorer")
        if scorer["model"] not in config["models"]:
            problems.append(f"scorers.{name}.model: {scorer['model']!r} is not defined in models "
                            f"(defined: {_defined(config['models'])}); IFD scoring needs a model")
    for name, method in config["methods"].items():
        wanted = method_kind(config, name).scorer_preset
        if wanted is None:
            continue
        scorer = method["scorer"]
        if scorer not in config["scorers"]:
            problems.append(f"methods.{name}.scorer: {scorer!r} is not defined in scorers "
                            f"(defined: {_defined(config['scorers'])})")
            continue
        if config["scorers"][scorer]["preset"] != wanted:
            problems.append(f"methods.{name}.scorer: {method['kind']} needs a scorer with preset "
                            f"{wanted!r}, {scorer!r} has {config['scorers'][scorer]['preset']!r}")
    if "metrics" in config["corpora"]:
        metrics = paths.fill(paths.METRICS, evaluator="bpc")
        problems.append(f"corpora: 'metrics' is reserved ({metrics})")
    return problems


def _judge_problems(judge: dict, setting: str) -> list[str]:
    """The judge's base_url and key variable (whose value, possibly a pasted key, is not shown)."""
    problems = []
    if (judge["kind"] == "openai") != (judge["base_url"] is not None):
        problems.append(f"{setting}.base_url: required with kind openai, and only then")
    name = judge["api_key_env"]
    if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        problems.append(f"{setting}.api_key_env: must be the NAME of an environment "
                        "variable, not the key (value not shown)")
    return problems


def _pairwise_problems(config: dict) -> list[str]:
    """eval.pairwise: methods it names, its judge, and every pair's reference run."""
    pairwise = config["eval"]["pairwise"]
    if not pairwise["enabled"]:
        return []
    problems = _judge_problems(pairwise["judge"], "eval.pairwise.judge")
    for i, entry in enumerate(pairwise["pairs"]):
        named = [("reference", entry["reference"])] if entry["reference"] != "base" else []
        named += [(f"methods.{j}", m) for j, m in enumerate(entry["methods"] or [])]
        for field, name in named:
            if name not in config["methods"]:
                problems.append(f"eval.pairwise.pairs.{i}.{field}: {name!r} is not defined in "
                                f"methods (defined: {_defined(config['methods'])}, or base)")
    if problems:
        return problems
    try:
        if not pairwise_pairs(config):
            problems.append("eval.pairwise.pairs: no run to judge (enabled, but no pair of the "
                            "experiment grid matches)")
    except ConfigError as err:
        problems.append(str(err))
    return problems


def _area_problems(config: dict) -> list[str]:
    """eval.bpc.areas: corpora that are measured, runs of the grid to exclude, no 'overall'."""
    bpc = config["eval"]["bpc"]
    problems = []
    excluding = any(area["exclude"] for area in bpc["areas"].values())
    known = all(m in config["methods"] for exp in config["experiments"] for m in exp["methods"])
    run_names = {run.name for run in runs(config)} if excluding and known else None
    for name, area in bpc["areas"].items():
        if name == "overall":
            problems.append("eval.bpc.areas: 'overall' is reserved (the fit over all areas)")
        if area["corpus"] not in bpc["corpora"]:
            problems.append(f"eval.bpc.areas.{name}.corpus: {area['corpus']!r} is not in "
                            f"eval.bpc.corpora ({', '.join(bpc['corpora']) or 'none'})")
        for run in area["exclude"]:
            if run_names is not None and run not in run_names:
                problems.append(f"eval.bpc.areas.{name}.exclude: {run!r} is not a run "
                                f"(runs: {', '.join(sorted(run_names)) or 'none'})")
    return problems


def yaml_syntax_problem(path: str | os.PathLike) -> str | None:
    """`path:line:column: <the parser's problem>` when a YAML file does not parse (Snakemake's
    own message names neither line nor column), else None."""
    try:
        yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        return f"{where}: not valid YAML: {err.problem or err.context}"
    except (OSError, yaml.YAMLError):
        return None  # a missing file or another problem: Snakemake's message says it
    return None


def local_source_problems(config: dict) -> list[str]:
    """Local pools and corpora whose path is a folder, or whose file is missing while what was
    made from it exists: Snakemake does not check the inputs of a job whose outputs exist, so a
    path changed to a missing file would silently keep the old pool. One message per source."""
    made_from = {"pools": (paths.POOL, "pool"), "corpora": (paths.CORPUS, "corpus")}
    problems = []
    for section, (pattern, wildcard) in made_from.items():
        for name, entry in config[section].items():
            source = entry["source"]
            if source["kind"] == "local" and os.path.isdir(source["path"]):
                problems.append(f"{section}.{name}.source.path: {source['path']} is a folder; "
                                "give the data file itself (JSON or JSONL)")
            if source["kind"] != "local" or os.path.exists(source["path"]):
                continue
            product = paths.fill(pattern, **{wildcard: name})
            if os.path.exists(product):
                problems.append(f"{section}.{name}.source.path: {source['path']} does not exist "
                                f"({product} was made from an earlier file; correct the path or "
                                "restore the file)")
    return problems
