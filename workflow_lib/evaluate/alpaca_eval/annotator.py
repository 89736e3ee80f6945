"""Annotate a run's AlpacaEval answers with the alpaca-eval package (run by the alpaca-eval
environment's interpreter as a program; imports only the package, pandas and the standard
library, never workflow_lib).

    python annotator.py REQUEST.json RESULT.json

REQUEST: {"annotator": config name, "judge_model": model name or null (the config's), "seed",
"model_outputs": [{instruction, output, generator}], "reference_outputs": [...]}. The judge's
endpoint and key come from OPENAI_API_BASE and OPENAI_API_KEY. RESULT: the package's win rate
numbers (`get_winrate`), the length-controlled win rate when the package can fit it (None, with
the reason, otherwise) and one annotation per instruction (preference None: unparsable, failed).
An unknown annotator config ends the program with one line on stderr (exit status 1).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def _number(value):
    """A JSON number from the package's numpy values (None for NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def annotator_config(name: str, judge_model: str | None, folder: Path) -> Path:
    """The package's annotator config `name`, its prompt template made absolute and its model
    replaced by the judge's, written to `folder`/configs.yaml."""
    import yaml
    from alpaca_eval import constants

    source = constants.EVALUATORS_CONFIG_DIR / name / "configs.yaml"
    if not source.is_file():
        configs_dir = constants.EVALUATORS_CONFIG_DIR
        known = sorted(p.parent.name for p in configs_dir.glob("*/configs.yaml"))
        sys.exit(f"ERROR: eval.alpaca_eval.annotator: {name!r} is not an annotator config of "
                 f"alpaca-eval (known: {', '.join(known)})")
    configs = yaml.safe_load(source.read_text(encoding="utf-8"))
    for config in configs.values():
        template = config.get("prompt_template")
        if isinstance(template, str) and (constants.EVALUATORS_CONFIG_DIR / template).is_file():
            config["prompt_template"] = str(constants.EVALUATORS_CONFIG_DIR / template)
        if judge_model is not None:
            config.setdefault("completions_kwargs", {})["model_name"] = judge_model
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "configs.yaml"
    path.write_text(yaml.safe_dump(configs, sort_keys=False), encoding="utf-8")
    return path


def annotate(request: dict, work: Path) -> dict:
    import pandas as pd
    from alpaca_eval.annotators import PairwiseAnnotator
    from alpaca_eval.metrics import get_length_controlled_winrate, get_winrate

    config = annotator_config(request["annotator"], request["judge_model"], work / "annotator")
    annotator = PairwiseAnnotator(annotators_config=str(config), caching_path=None,
                                  seed=request["seed"])
    annotations = annotator.annotate_head2head(outputs_1=request["reference_outputs"],
                                               outputs_2=request["model_outputs"])
    frame = pd.DataFrame(annotations)
    result = {key: _number(value) for key, value in get_winrate(frame).items()}
    try:
        lc = get_length_controlled_winrate(frame, save_weights_dir=None)
        result["length_controlled_winrate"] = _number(lc["length_controlled_winrate"])
        result["lc_standard_error"] = _number(lc.get("lc_standard_error", float("nan")))
        result["lc_reason"] = None
    except Exception as err:  # the package cannot fit its GLM on every annotation set
        result["length_controlled_winrate"] = None
        result["lc_standard_error"] = None
        result["lc_reason"] = f"{type(err).__name__}: {err}"[:300]
    result["annotations"] = [
        {"instruction": a["instruction"], "preference": _number(a.get("preference", math.nan))
         if a.get("preference") is not None else None,
         "raw_completion": a.get("raw_completion")}
        for a in annotations]
    return result


def main() -> None:
    request_path, result_path = map(Path, sys.argv[1:3])
    request = json.loads(request_path.read_text(encoding="utf-8"))
    result = annotate(request, result_path.parent)
    result_path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
