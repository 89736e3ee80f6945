"""BPC scoring: the authors' stateful window loop against the pipeline's, same model, one run.

The baseline is written here after the reference computation (docs/methods.md §4.2): a packed
dataset whose `__getitem__` ignores its index and keeps the previous window's end, so each call
yields the next window of `block_size + 1` tokens and a mask of its `end - prev_end` new targets;
batches of `batch_size` windows run the whole model (full logits, upcast to float32 as the
authors' transformers did for Llama) and add the masked cross-entropy (`reduction="sum"`) to a
running total. The pipeline's path is `workflow_lib.scoring.bpc` (stateless windows, the LM head
on scored positions only, float64 sums). Both score the same token ids (the corpus tokenized
once, checked equal to the reference's per-document `tokenizer.encode`), so the times compare
the scoring loops alone; each round runs both, alternating which goes first.

Prints tokens/s of each, the speed-up, the difference of the two BPCs (asserted below a
tolerance: 1e-6 relative in float32, 1e-3 in 16-bit dtypes, where the two paths round the LM
head's products differently) and the share of the FLOP bound: 2 × parameters per forwarded
token at the matmul rate measured in the run's dtype on its device (bf16 on a GPU, fp32 on the
CPU by default). The speed of light counts what any implementation must do: the body for every
forwarded token, the LM head for the scored ones.

    .venv/bin/python bench/bpc_bench.py --limit 40 --subset cc              # SmolLM2, CPU
    .venv/bin/python bench/bpc_bench.py --device cuda                       # the GPU, bf16
    .venv/bin/python bench/bpc_bench.py --tiny --corpus stdlib --block-size 64 --stride 16
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from ifd_bench import MODEL, ROOT, matmul_gflops, sync

from workflow_lib.core.threads import set_threads
from workflow_lib.data.corpora import read_corpus, stdlib_documents
from workflow_lib.evaluate.inference import resolve_dtype
from workflow_lib.models.loading import load_causal_lm
from workflow_lib.models.tiny import build_tiny_model
from workflow_lib.scoring.bpc import (
    BpcResult,
    SlidingWindows,
    bpc_partial,
    finish_bpc,
    tokenize_corpus,
)

CORPUS = ROOT.parent / "shared" / "data" / "bpc" / "bpc_corpora_small.jsonl"
STDLIB_PACKAGE = "json"  # the stdlib corpus: this interpreter's json package sources


class StatefulWindows:
    """The reference's packed dataset: `__getitem__` ignores its index and yields the next
    window with the mask of its new targets."""

    def __init__(self, ids: torch.Tensor, block_size: int, stride: int):
        self.ids, self.width, self.stride = ids, block_size + 1, stride
        self.n = math.floor((len(ids) - self.width) / stride + 1)
        self.k = self.prev_end = 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        begin = self.k * self.stride
        end = min(begin + self.width, len(self.ids))
        new = end - self.prev_end
        mask = torch.tensor([False] * (self.width - new) + [True] * new)
        self.k, self.prev_end = self.k + 1, end
        return self.ids[begin:end], mask


def stateful_bpc(model, ids: torch.Tensor, n_chars: int, block_size: int, stride: int,
                 batch_size: int, device: str) -> tuple[float, int]:
    """(BPC, scored targets) the authors' way: windows in order, full logits, summed losses."""
    windows = StatefulWindows(ids, block_size, stride)
    total, scored = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            batch = [windows[i] for i in range(start, min(start + batch_size, len(windows)))]
            tokens = torch.stack([w for w, _ in batch]).to(device)
            mask = torch.stack([m for _, m in batch]).to(device)[:, 1:]
            x, y = tokens[:, :-1], tokens[:, 1:]
            logits = model(x).logits.float()
            total += F.cross_entropy(logits[mask], y[mask], reduction="sum").item()
            scored += int(mask.sum())
    return total / (n_chars * math.log(2)), scored


def load_texts(args: argparse.Namespace) -> list[str]:
    """The corpus documents: a JSONL corpus file (subset, limit), or the stdlib's sources."""
    if args.corpus == "stdlib":
        docs = [doc["content"] for _, doc in stdlib_documents([STDLIB_PACKAGE])]
        return docs[: args.limit]
    path = Path(args.corpus)
    if not path.is_file():
        sys.exit(f"corpus {path} not found: pass --corpus FILE.jsonl, or --corpus stdlib")
    return read_corpus(path, args.subset, args.limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL, help="HF model folder")
    parser.add_argument("--tiny", action="store_true",
                        help="the project's tiny random model, built on the corpus (tests)")
    parser.add_argument("--corpus", default=str(CORPUS),
                        help="JSONL corpus (content, subset), or 'stdlib'")
    parser.add_argument("--subset", help="only this subset of the corpus (cc, python, ...)")
    parser.add_argument("--limit", type=int, help="first N documents")
    parser.add_argument("--block-size", type=int, default=1900)
    parser.add_argument("--stride", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8, help="windows per batch")
    parser.add_argument("--dtype", default="auto",
                        help="auto (float32 on the CPU, bfloat16 on a GPU), float32, bfloat16")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--device", default="cpu", help="where the model runs, e.g. cuda")
    args = parser.parse_args()
    set_threads(args.threads)
    dtype = resolve_dtype(args.dtype, "cpu" if args.device == "cpu" else "cuda")
    texts = load_texts(args)
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            model_dir = build_tiny_model(Path(tmp) / "tiny", texts, init_std=0.3, add_bos=True)
        elif not (args.model / "config.json").is_file():
            sys.exit(f"no model in {args.model}: prepare it (snakemake {MODEL.relative_to(ROOT)})"
                     ", pass --model DIR, or --tiny")
        else:
            model_dir = args.model
        model, tok = load_causal_lm(model_dir, dtype=dtype, device=args.device)
    corpus = tokenize_corpus(tok, texts)
    reference_ids = [i for t in texts if t for i in tok.encode(t, verbose=False)]
    assert corpus.ids.tolist() == reference_ids, "batched tokenization differs from encode()"
    plan = SlidingWindows.plan(len(corpus.ids), args.block_size, args.stride)
    options = {"block_size": args.block_size, "stride": args.stride,
               "batch_size": args.batch_size}

    def baseline() -> tuple[float, int]:
        return stateful_bpc(model, corpus.ids, corpus.n_chars, **options, device=args.device)

    def pipeline() -> BpcResult:
        partial = bpc_partial(model, corpus.ids, **options, device=args.device)
        return finish_bpc(corpus, partial, plan)

    # Warm-up (kernel selection, allocator) on one batch of each, untimed.
    first = corpus.ids[: (args.batch_size - 1) * args.stride + args.block_size + 1]
    stateful_bpc(model, first, 1, **options, device=args.device)
    bpc_partial(model, first, **options, device=args.device)
    runs = {"baseline": baseline, "pipeline": pipeline}
    seconds, outputs = dict.fromkeys(runs, 0.0), {}
    for r in range(args.rounds):
        for name in runs if r % 2 == 0 else reversed(runs):
            sync(args.device)
            start = time.perf_counter()
            outputs[name] = runs[name]()
            sync(args.device)
            seconds[name] += time.perf_counter() - start
        print(f"round {r + 1}: baseline {seconds['baseline']:.2f}s, pipeline "
              f"{seconds['pipeline']:.2f}s", file=sys.stderr)
    base_s, fast_s = (seconds[name] / args.rounds for name in runs)
    (base_bpc, base_scored), result = outputs["baseline"], outputs["pipeline"]

    params = sum(t.numel() for t in model.parameters())
    head = model.get_output_embeddings().weight.numel()
    forwarded = plan.n_windows * args.block_size
    gflops = matmul_gflops(args.device, 8192 if args.device != "cpu" else 1024,
                           dtype=getattr(torch, dtype))
    bound = gflops * 1e9 / (2 * params)
    needed = 2 * (params - head) * forwarded + 2 * head * result.n_scored_tokens
    light = needed / (gflops * 1e9)
    name = "tiny random model" if args.tiny else model_dir.name
    print(f"\nBPC bench: {name} {dtype} ({params / 1e6:.1f}M parameters) on {args.device}, "
          f"{args.threads} CPU threads; {result.n_docs} documents, {result.n_chars} characters, "
          f"{result.n_tokens} tokens, {plan.n_windows} windows of {args.block_size} "
          f"(stride {args.stride}), {args.batch_size} per batch, {args.rounds} rounds\n")
    print("| | baseline (stateful loop, full logits) | pipeline (workflow_lib.scoring.bpc) |")
    print("|---|---|---|")
    print(f"| wall time per run (s) | {base_s:.2f} | {fast_s:.2f} |")
    print(f"| forwarded tokens/s | {forwarded / base_s:.0f} | {forwarded / fast_s:.0f} |")
    print(f"| share of FLOP bound | {forwarded / base_s / bound:.1%} | "
          f"{forwarded / fast_s / bound:.1%} |")
    print(f"| BPC | {base_bpc:.8f} | {result.bpc:.8f} |")
    print(f"| scored targets | {base_scored} | {result.n_scored_tokens} |")
    print(f"\nspeed-up pipeline/baseline: {base_s / fast_s:.2f}x")
    print(f"matmul {gflops:.1f} GFLOP/s {dtype} on {args.device} -> FLOP bound {bound:.0f} "
          "tokens/s (2 x params/token)")
    print(f"speed of light: the necessary {needed / 1e9:.1f} GFLOP take {light:.3f} s at that "
          f"rate; the pipeline runs at {light / fast_s:.0%} of it; no implementation can beat "
          f"the baseline by more than {base_s / light:.2f}x here")
    difference = abs(base_bpc - result.bpc) / result.bpc
    tolerance = 1e-6 if dtype == "float32" else 1e-3
    print(f"relative BPC difference: {difference:.1e} (tolerance {tolerance:.0e})")
    if base_scored != result.n_scored_tokens or difference > tolerance:
        sys.exit("FAIL: the two BPC computations disagree")


if __name__ == "__main__":
    main()
