"""Every strategy of `train.distributed` executed for real on CPU: 2 processes over gloo, through
the project's launch command and Axolotl, as the train rule runs them.

For each of ddp, fsdp (FSDP2) and deepspeed_zero1/2/3: a run killed after its step-2 checkpoint,
whose checkpoint is the strategy's own (whole for DDP, one shard per process otherwise); its rerun,
which resumes from that checkpoint; the step losses and final weights of the two attempts against
one uninterrupted 1-process run with the same global batch; the manifest's `batch` block; the
final model saved whole and evaluated (BPC). And the accelerate launcher, for real.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.support import TOOLS_PYTHON, train_block
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.evaluate.bpc import model_bpc
from workflow_lib.models.tiny import build_tiny_model
from workflow_lib.train import axolotl_run as training

pytestmark = pytest.mark.slow

RECORDS = [{"id": f"r{i}", "source": "t", "meta": {},
            "conversations": [{"from": "human", "value": f"What is {i} times 3?"},
                              {"from": "gpt", "value": f"{i} times 3 is {3 * i}."}]}
           for i in range(16)]
# Constant learning rate: the first attempt, stopped after step 2, leaves the optimizer state of
# step 2 of the full run (a schedule over max_steps would differ); sequential sampling: step k
# trains on records 4k..4k+3 in every run (one process: 2 micro-batches of 2; two processes:
# one micro-batch of 2 each).
RECIPE = {"sequence_len": 128, "sample_packing": False, "learning_rate": 1e-3,
          "lr_scheduler": "constant", "warmup_ratio": 0.0, "micro_batch_size": 2,
          "global_batch_size": 4, "save_steps": 2,
          "extra": {"max_steps": 4, "logging_steps": 1, "curriculum_sampling": True}}
# What each strategy's step-2 checkpoint holds (relative globs, files expected per pattern).
CHECKPOINT_FILES = {
    "ddp": {"optimizer.pt": 1, "model.safetensors": 1},
    "fsdp": {"pytorch_model_fsdp_0/*.distcp": 2, "optimizer_0/*.distcp": 2},
    "deepspeed_zero1": {"global_step2/*zero_pp_rank_*_optim_states.pt": 2},
    "deepspeed_zero2": {"global_step2/*zero_pp_rank_*_optim_states.pt": 2},
    "deepspeed_zero3": {"global_step2/*zero_pp_rank_*_optim_states.pt": 2,
                        "global_step2/zero_pp_rank_*_model_states.pt": 2},
}
CORPUS = [{"content": "What is 7 times 3? 7 times 3 is 21. " * 4, "subset": "t", "meta": {}}]


def step_tokens(lines: list[str]) -> list[int]:
    """The tokens of each logged step, from Axolotl's `tokens/total` (cumulative since the
    process started; a step printed twice counts once)."""
    totals = [int(m.group(1)) for line in lines
              if (m := re.search(r"'tokens/total': (\d+)", line))]
    totals = list(dict.fromkeys(totals))
    return [b - a for a, b in zip([0, *totals], totals, strict=False)]


def tiny_run(root: Path, inputs: dict, name: str, **distributed) -> dict:
    return training.train_run(run=name, selection=inputs["data"], base_model=inputs["model"],
                              train=train_block(**RECIPE, distributed=distributed),
                              out_dir=str(root / name / "out"), work_dir=str(root / name / "work"),
                              tools_python=str(TOOLS_PYTHON), offline=True, threads=2,
                              log_path="test.log")


def bpc_of(model_dir: Path, corpus: str) -> float:
    return model_bpc(model_dir, corpus, block_size=32, stride=16, batch_size=4,
                     progress=False).bpc


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """The data, the tiny model, a BPC corpus, and the uninterrupted 1-process run (global batch
    4 = micro-batch 2 × 2 accumulation steps) every strategy is compared with."""
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: `make tools` builds the Axolotl environment")
    root = tmp_path_factory.mktemp("strategies")
    data, corpus = root / "data.jsonl", root / "corpus.jsonl"
    write_jsonl(data, RECORDS)
    write_jsonl(corpus, CORPUS)
    model = build_tiny_model(root / "tiny", [t["value"] for r in RECORDS
                                             for t in r["conversations"]])
    found = {"data": str(data), "model": str(model), "corpus": str(corpus), "root": root}
    real_command, lines = training.run_command, []

    def kept(cmd, env, log_path=None):
        lines.extend(real_command(cmd, env, log_path))
        return lines

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "run_command", kept)
        single = tiny_run(root, found, "single")
    assert single["batch"]["gradient_accumulation_steps"] == 2
    return {**found, "single": single, "single_tokens": step_tokens(lines),
            "single_bpc": bpc_of(root / "single" / "out", corpus)}


@pytest.mark.parametrize("strategy", list(CHECKPOINT_FILES))
def test_strategy_resumes_after_a_kill_and_matches_one_process(strategy, inputs, tmp_path,
                                                               monkeypatch, capsys, summary):
    """~60-90 s each: 2 processes killed after the step-2 checkpoint, then rerun (steps 3-4)."""
    real_command, first = training.run_command, {}

    def killed_after_step_2(cmd, env, log_path=None):
        first["lines"] = real_command([*cmd, "--max_steps=2"], env, log_path)
        raise UserError("killed")

    start = time.perf_counter()
    monkeypatch.setattr(training, "run_command", killed_after_step_2)
    with pytest.raises(UserError, match="killed"):
        tiny_run(tmp_path, inputs, strategy, gpus_per_node=2, strategy=strategy)
    checkpoint = tmp_path / strategy / "work" / "output" / "checkpoint-2"
    assert (checkpoint / training.TRAINER_STATE).is_file()
    held = sorted(str(p.relative_to(checkpoint)) for p in checkpoint.rglob("*") if p.is_file())
    for pattern, count in CHECKPOINT_FILES[strategy].items():
        assert len(list(checkpoint.glob(pattern))) == count, (pattern, held)
    monkeypatch.setattr(training, "run_command", real_command)
    capsys.readouterr()

    resumed = tiny_run(tmp_path, inputs, strategy, gpus_per_node=2, strategy=strategy)
    wall = time.perf_counter() - start
    logged = capsys.readouterr().err
    assert re.search(rf"resume from checkpoint at \S*{strategy}/work/output/checkpoint-2", logged)
    assert resumed["batch"] == {"global_batch_size": 4, "micro_batch_size": 2,
                                "gradient_accumulation_steps": 1, "world_size": 2, "nodes": 1,
                                "gpus_per_node": 2, "strategy": strategy,
                                "launcher": "torchrun"}
    # steps 1-2 from the checkpoint's trainer state, 3-4 logged by the rerun
    assert resumed["metrics"]["resumed_at_step"] == 2
    assert resumed["metrics"]["logged_losses"][:2] == pytest.approx(
        training.training_metrics(first["lines"])["logged_losses"], abs=5e-4)
    # Both processes trained: Axolotl sums a step's tokens over the processes, and each step of
    # 2 processes counts as many as the 1-process run's two micro-batches (four records).
    tokens = step_tokens(first["lines"]) + step_tokens(logged.splitlines())
    assert len(tokens) == 4 and tokens == inputs["single_tokens"]

    two, one = (r["metrics"]["logged_losses"] for r in (resumed, inputs["single"]))
    diff = max(abs(a - b) for a, b in zip(two, one, strict=True))
    # Same records per step, same weights: the runs differ only in the order of float sums
    # (the gradients reduced over two processes vs accumulated in one) and Axolotl prints
    # losses to 4 significant digits (±0.0005 at ~5.5); 2e-3 allows both over 4 steps, while a
    # step's update moves the loss by ~0.15 and a run whose processes train alone on batches of
    # 2 differs by ~0.04 from step 1 on (measured).
    assert diff < 2e-3, (two, one)
    # The final weights, saved whole (FSDP's full state dict, ZeRO-3's gathered weights): within
    # float32 reordering of the 1-process run's; processes training alone move them by ~5e-3.
    out = tmp_path / strategy / "out"
    weights = load_file(out / "model.safetensors")
    reference = load_file(inputs["root"] / "single" / "out" / "model.safetensors")
    assert weights.keys() == reference.keys()
    weight_diff = max(float((weights[k] - reference[k]).abs().max()) for k in weights)
    assert weight_diff < 1e-4
    bpc = bpc_of(out, inputs["corpus"])
    assert math.isfinite(bpc) and bpc == pytest.approx(inputs["single_bpc"], abs=1e-3)
    shown = [round(x, 4) for x in two]
    summary.append(f"{strategy} on 2 CPU processes: 4 steps (killed after step 2, resumed from "
                   f"its checkpoint), step losses {shown} vs 1 process {one} (max difference "
                   f"{diff:.4f}), final weights within {weight_diff:.1e}, BPC {bpc:.4f} vs "
                   f"{inputs['single_bpc']:.4f}; wall {wall:.0f} s for both attempts")


def test_accelerate_launcher_runs_two_cpu_processes(inputs, tmp_path, summary):
    """~45 s: `accelerate launch --multi_gpu` (its torch.distributed launcher) starts the 2
    processes of an FSDP run; the run equals the 1-process run step by step."""
    strategy = "fsdp"
    start = time.perf_counter()
    run = tiny_run(tmp_path, inputs, "accelerate", gpus_per_node=2, strategy=strategy,
                   launcher="accelerate")
    assert run["batch"]["launcher"] == "accelerate" and run["batch"]["world_size"] == 2
    two, one = run["metrics"]["logged_losses"], inputs["single"]["metrics"]["logged_losses"]
    assert max(abs(a - b) for a, b in zip(two, one, strict=True)) < 2e-3, (two, one)
    summary.append(f"accelerate launcher, {strategy}, 2 CPU processes: step losses {two} vs "
                   f"{one}; wall {time.perf_counter() - start:.0f} s")
