#!/usr/bin/env bash
# Reproduce the bundled completion model (completion-photos) on a CPU, offline: the `photos` recipe (128² crops of
# the large registry photo set, 64² holes, rectangles and strokes; θ for L1 + GAN, blocks for L1), one thread so
# that it can run beside other work. Interruptible: rerun the script and it resumes from the last checkpoint. The
# run folder lives in the cache, not the work tree, so a fresh checkout resumes it too. See docs/completion.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
RUNS=${RUNS:-${DYNAMICNET_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamicnet}/runs/bundled}
out="$RUNS/completion-photos"
if [ ! -f "$out/model.safetensors" ]; then
  resume=()
  [ -f "$out/train/checkpoint.pt" ] && resume=(--resume)
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$DN" train completion --recipe photos --seed 0 --checkpoint-every 100 \
    --sample-every 500 --log-every 50 --no-progress --fp16 ${EXTRA_ARGS:-} --out "$out" "${resume[@]}"
fi
mkdir -p src/dynamicnet/models/completion-photos
rm -f src/dynamicnet/models/completion-photos/discriminator.safetensors  # training state, not used by inference
cp "$out/config.json" "$out/model.safetensors" src/dynamicnet/models/completion-photos/
echo "bundled model updated in src/dynamicnet/models/completion-photos/"
