"""How evaluation jobs run a model (`eval.inference`): device, weights' dtype, device map, GPUs.

Every evaluator that runs a model (lm-eval, MT-bench and pairwise answers, BPC) gets one settings
dict from `inference_settings`: `device` ("cpu", or "cuda" with `train.device: gpu`), `dtype`
(the evaluator's own when it sets one, else `eval.inference.dtype`; "auto" is float32 on the CPU
and bfloat16 on a GPU) and `device_map` (null: the whole model on `device`; "auto": Accelerate
spreads its layers over every GPU the job sees, for a model that does not fit one). The job asks
the scheduler for `eval_gpus` GPUs. With the defaults, a CPU configuration runs every evaluator
in float32 on one device, as before the block existed.

Imports nothing (not even torch): the Snakefile and lm-eval's command line read it.
"""

from __future__ import annotations

from collections.abc import Mapping

DTYPES = ("float32", "bfloat16", "float16")


def eval_device(config: Mapping) -> str:
    """Torch device of evaluation jobs: train.device decides, as for training."""
    return "cuda" if config["train"]["device"] == "gpu" else "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """A configured dtype with "auto" resolved: float32 on the CPU, bfloat16 on a GPU."""
    if dtype == "auto":
        return "float32" if device == "cpu" else "bfloat16"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be auto or one of {', '.join(DTYPES)}, not {dtype!r}")
    return dtype


def inference_settings(config: Mapping, dtype: str | None = None) -> dict:
    """{device, dtype, device_map} of an evaluation job; `dtype` is the evaluator's own setting
    (None: eval.inference.dtype)."""
    inference = config["eval"]["inference"]
    device = eval_device(config)
    return {
        "device": device,
        "dtype": resolve_dtype(dtype or inference["dtype"], device),
        "device_map": inference["device_map"],
    }


def eval_gpus(config: Mapping) -> int:
    """GPUs an evaluation job asks the scheduler for: eval.inference.gpus on a GPU, else 0."""
    return config["eval"]["inference"]["gpus"] if config["train"]["device"] == "gpu" else 0


def inference_problems(config: Mapping) -> list[str]:
    """What eval.inference cannot do with this configuration, one message per problem."""
    inference = config["eval"]["inference"]
    problems = []
    if inference["device_map"] is not None and config["train"]["device"] != "gpu":
        problems.append("eval.inference.device_map: 'auto' spreads a model over GPUs, and "
                        "train.device is cpu (set it to gpu, or device_map to null)")
    if inference["gpus"] > 1 and inference["device_map"] is None:
        problems.append(f"eval.inference.gpus: {inference['gpus']} GPUs per job, but without a "
                        "device map a model runs on one of them (set device_map: auto, or gpus: 1)")
    return problems
