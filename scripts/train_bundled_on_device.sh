#!/usr/bin/env bash
# Train every bundled style model on a lent GPU in one command of under 10 minutes (the `device` tool's limit):
# the same recipes as scripts/train_bundled_style_models.sh (so the models keep their kind and speed), at a
# larger scale: 256² crops covering the same part of the photo, batch 8, 3× the steps. θ first, then the four
# tuning stages at once (a GPU has room for all of them). Resumable like the CPU script; run folders in RUNS.
#   bash scripts/train_bundled_on_device.sh && ls src/dynamicnet/models/
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
RUNS=${RUNS:-runs/device}
MAIN_STEPS=${MAIN_STEPS:-9000}
TUNING_STEPS=${TUNING_STEPS:-4500}
# 256² crops of 0.36–0.8 of the largest square: the same 128–190 px-per-128 px scale as the CPU recipe's 128².
SCALE=(--size 256 --batch-size 8 --crop-scale 0.36,0.8 --device cuda)
COMMON=(--seed 0 --checkpoint-every 500 --sample-every 0 --log-every 100 --no-progress "${SCALE[@]}")

stage() {
  local out=$1; shift
  [ -f "$out/model.safetensors" ] && return 0
  local resume=()
  [ -f "$out/train/checkpoint.pt" ] && resume=(--resume)
  "$DN" train style "$@" "${COMMON[@]}" --out "$out" "${resume[@]}"
}

stage "$RUNS/main" --recipe level --phase main --main-steps "$MAIN_STEPS"
stage "$RUNS/starry-level" --recipe level --phase tuning --init-from "$RUNS/main" --tuning-steps "$TUNING_STEPS" &
stage "$RUNS/starry-fast" --recipe level --blocks out --tuning-style-weight 1e5 --phase tuning \
  --init-from "$RUNS/main" --tuning-steps "$TUNING_STEPS" &
stage "$RUNS/starry-graffiti" --recipe two-style --phase tuning --init-from "$RUNS/main" \
  --tuning-steps "$TUNING_STEPS" &
wait
# dual's "higher" set is starry-level's: it needs that stage finished
stage "$RUNS/starry-dual" --recipe dual --phase tuning --init-from "$RUNS/starry-level" --tuning-sets lower \
  --tuning-steps "$TUNING_STEPS"
for name in starry-level starry-fast starry-graffiti starry-dual; do
  mkdir -p "src/dynamicnet/models/$name"
  cp "$RUNS/$name/config.json" "$RUNS/$name/model.safetensors" "src/dynamicnet/models/$name/"
done
echo "bundled models updated in src/dynamicnet/models/"
