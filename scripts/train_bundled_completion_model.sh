#!/usr/bin/env bash
# Train the current `photos` completion recipe on a CPU, offline, as its model in docs/completion.md was made:
# 128² crops of the large registry photo set, 64² holes, rectangles and strokes, the marching (coherence transport)
# prefill; θ for L1 + VGG + SSIM at a low learning rate, 800 steps, then the blocks for L1, 300 steps; one thread so
# that it can run beside other work. Two runs: θ alone (--phase main), then the blocks on it (--phase tuning
# --init-from). Interruptible: rerun the script and each run resumes from its last checkpoint. The run folders live
# in the cache, not the work tree, so a fresh checkout resumes them too. Then `dynamicnet calibrate-completion` fits
# auto α (docs/completion.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
RUNS=${RUNS:-${DYNAMICNET_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamicnet}/runs/bundled}
main="$RUNS/march/main"
out="$RUNS/march/tuned"
common=(--recipe photos --seed 0 --checkpoint-every 50 --log-every 25 --no-progress --fp16 ${EXTRA_ARGS:-})
run() {  # run FOLDER ARGS...: train into FOLDER unless it holds a finished model, resuming a started run
  local folder=$1; shift
  [ -f "$folder/model.safetensors" ] && return 0
  local resume=()
  [ -f "$folder/train/checkpoint.pt" ] && resume=(--resume)
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$DN" train completion "${common[@]}" "$@" --output "$folder" "${resume[@]}"
}
run "$main" --phase main --sample-every 200
run "$out" --phase tuning --init-from "$main" --sample-every 100
"$DN" calibrate-completion --model "$out"
echo "model: $out (compare: python benchmarks/bench_completion.py --model $out; bundle it by copying its"
echo "config.json and model.safetensors to src/dynamicnet/models/completion-photos/ if it beats the bundled one)"
