"""IFD scoring: a reference-style batch-1 loop against `fast` mode, same model, one run.

The baseline is written here in the style of the reference scripts (docs/methods.md §2.1-2.2): one
record at a time, one forward pass per text with full logits and `output_hidden_states=True`,
HF `labels` loss (Superfiltering) or a per-token `log_softmax` + NLL loop (Cherry). `fast` is
`workflow_lib.scoring.ifd.score_records(mode="fast")`. To keep the ratio fair on a shared
machine, the sample is cut into rounds and each round runs both, alternating which goes first.

Prints samples/s of each, the ratio, Spearman's rho between the two IFD columns, the overlap of
the selected top 10%, and tokens/s against the FLOP bound (2 × parameters per token at the
fp32 matmul GFLOP/s measured on this machine in the same run). It also prints the speed-of-light
ratio: the baseline's time over the time the FLOPs any implementation must do (the body for
every token of both passes, the LM head for the scored ones) take at that matmul rate; no fast
path can beat the baseline by more than that on this machine.

    .venv/bin/python bench/ifd_bench.py --n 64 --preset superfiltering
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from workflow_lib.core.threads import set_threads
from workflow_lib.data.formats import convert_file
from workflow_lib.data.records import read_pool
from workflow_lib.models.loading import load_causal_lm
from workflow_lib.report.rank_stats import spearman, top_overlap
from workflow_lib.scoring.ifd import ifd_fields, prepare, score_records
from workflow_lib.scoring.presets import PRESETS, Preset
from workflow_lib.scoring.token_losses import DEFAULT_MAX_PADDING

ROOT = Path(__file__).resolve().parents[1]

POOL = ROOT.parent / "shared" / "data" / "pools" / "alpaca_sample_2k.json"
MODEL = ROOT / "resources" / "models" / "smollm2-135m"


def matmul_gflops(device: str = "cpu", size: int = 1024, reps: int = 8,
                  dtype: torch.dtype = torch.float32) -> float:
    """Best GFLOP/s of a square `dtype` matmul on `device` over a few repetitions."""
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    a @ b
    best = math.inf
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def sync(device: str) -> None:
    """Wait for queued kernels (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def reference_ifd(model, tok, record: dict, p: Preset, device: str = "cpu") -> float | None:
    """One record the reference way; None where the reference gives 0/NaN or skips it."""
    instruction, input_, output = ifd_fields(record)
    if output == "":
        return None
    prompt = (p.prompt_input if input_ else p.prompt_no_input).format(
        instruction=instruction, input=input_)
    whole, direct = prompt + output, p.direct_prefix + output
    n_prompt = len(tok.encode(prompt, truncation=True, max_length=p.max_length))
    direct_max = p.max_length - n_prompt + p.direct_max_offset

    def part(text, max_length):
        ids = torch.tensor([tok.encode(text, truncation=True, max_length=max_length)],
                           device=device)
        start = len(tok.encode(text[: text.rfind(output)]))
        labels = ids.clone()
        labels[0, :start] = -100
        with torch.no_grad():
            out = model(ids, labels=labels, output_hidden_states=True)
        if p.ratio == "ppl":
            return out.loss.item()
        losses = [F.nll_loss(F.log_softmax(out.logits[0, i - 1], dim=-1)[None],
                             ids[0, i][None]).item() for i in range(1, ids.shape[1])]
        scored = losses[start - 1 :]
        return sum(scored) / len(scored) if scored else math.nan

    if p.ratio == "ppl":
        ids = torch.tensor([tok.encode(output, truncation=True, max_length=direct_max)],
                           device=device)
        with torch.no_grad():
            loss_d = model(ids, labels=ids, output_hidden_states=True).loss.item()
        loss_c = part(whole, p.max_length)
        ratio = math.exp(loss_c) / math.exp(loss_d)
    else:
        if p.max_length - n_prompt <= 0:  # data_by_IFD.py
            return None
        loss_d, loss_c = part(direct, direct_max), part(whole, p.max_length)
        ratio = loss_c / loss_d
    return ratio if math.isfinite(ratio) else None


def needed_flops(model, tok, records: list[dict], p: Preset) -> float:
    """Matmul FLOPs any scorer must do: the body for every token of both passes, the LM head
    (vocabulary × hidden) only for the scored ones; attention score products not counted."""
    head = model.get_output_embeddings().weight.numel()
    body = sum(t.numel() for t in model.parameters()) - head
    prepared = [prepare(r, tok, p) for r in records]
    spans = [s for x in prepared if x.reason is None for s in (x.direct, x.cond)]
    return 2 * body * sum(s.end for s in spans) + 2 * head * sum(s.n_scored for s in spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="records sampled from the pool")
    parser.add_argument("--model", type=Path, default=MODEL, help="HF model folder (SmolLM2)")
    parser.add_argument("--preset", choices=sorted(n for n, p in PRESETS.items() if not p.chat),
                        default="superfiltering")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=8192)
    parser.add_argument("--max-padding", type=float, default=DEFAULT_MAX_PADDING)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--device", default="cpu", help="where the model runs, e.g. cuda")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.n < 10:
        parser.error("--n must be at least 10: the top-10% overlap needs one selected record")
    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        canonical = Path(tmp) / "alpaca.jsonl"
        convert_file(POOL, canonical, "alpaca", id_prefix="alpaca")
        pool = list(read_pool(canonical))
    records = random.Random(args.seed).sample(pool, args.n)
    model, tok = load_causal_lm(args.model, device=args.device)
    p = PRESETS[args.preset]
    params = sum(t.numel() for t in model.parameters())
    needed = needed_flops(model, tok, records, p)
    gflops = matmul_gflops(args.device)

    base_ifd, fast_rows = [], []
    base_s = fast_s = 0.0
    size = math.ceil(len(records) / args.rounds)
    for r, begin in enumerate(range(0, len(records), size)):
        chunk = records[begin : begin + size]
        for which in ("base", "fast") if r % 2 == 0 else ("fast", "base"):
            start = time.perf_counter()
            if which == "base":
                base_ifd += [reference_ifd(model, tok, rec, p, args.device) for rec in chunk]
                base_s += time.perf_counter() - start
            else:
                fast_rows += score_records(chunk, model, tok, p, mode="fast",
                                           batch_size=args.batch_size,
                                           max_tokens_per_batch=args.max_tokens,
                                           max_padding=args.max_padding, device=args.device)
                fast_s += time.perf_counter() - start
        print(f"round {r + 1}: baseline {base_s:.1f}s, fast {fast_s:.1f}s", file=sys.stderr)

    pairs = [(b, f["ifd"]) for b, f in zip(base_ifd, fast_rows, strict=True)
             if b is not None and f["ifd"] is not None]
    a, b = zip(*pairs, strict=True)
    tokens = sum(row["n_tokens"] for row in fast_rows)
    bound = gflops * 1e9 / (2 * params)
    n = len(records)
    print(f"\nIFD bench: preset {p.name}, {args.model.name} fp32 ({params / 1e6:.1f}M parameters), "
          f"{n} Alpaca records, {tokens} tokens (both passes), {args.device}, "
          f"{args.threads} CPU threads, "
          f"fast batch {args.batch_size} / {args.max_tokens} tokens / "
          f"{args.max_padding:.0%} padding\n")
    print("| | baseline (batch 1, reference style) | fast |")
    print("|---|---|---|")
    print(f"| wall time (s) | {base_s:.1f} | {fast_s:.1f} |")
    print(f"| samples/s | {n / base_s:.2f} | {n / fast_s:.2f} |")
    print(f"| tokens/s | {tokens / base_s:.0f} | {tokens / fast_s:.0f} |")
    share_base, share_fast = tokens / base_s / bound, tokens / fast_s / bound
    print(f"| share of FLOP bound | {share_base:.1%} | {share_fast:.1%} |")
    print(f"\nspeed-up fast/baseline: {base_s / fast_s:.2f}x")
    print(f"matmul {gflops:.1f} GFLOP/s fp32 -> FLOP bound {bound:.0f} tokens/s (2 x params/token)")
    light = needed / (gflops * 1e9)
    print(f"speed of light: the necessary {needed / 1e9:.0f} GFLOP take {light:.1f} s at that "
          f"rate; fast runs at {light / fast_s:.0%} of it; no implementation can beat the "
          f"baseline by more than {base_s / light:.2f}x here")
    print(f"Spearman rho (baseline vs fast IFD, {len(pairs)} records): {spearman(a, b):.6f}")
    print(f"top-10% overlap: {top_overlap(a, b, 0.1):.3f}; "
          f"max |IFD difference|: {max(abs(x - y) for x, y in pairs):.2e}")


if __name__ == "__main__":
    main()
