#!/usr/bin/env bash
# Regenerate the figures and loss tables of docs/models.md from the bundled style models.
set -euo pipefail
cd "$(dirname "$0")/.."
DN=${DN:-.venv/bin/dynamicnet}
OUT=docs/images
mkdir -p "$OUT"
PHOTO=src/dynamicnet/data/photos/astronaut.jpg
CAT=$(.venv/bin/python -c "from dynamicnet.data.assets import held_out_photos; print(held_out_photos()['chelsea'])")
"$DN" sweep "$PHOTO" --model starry-level --alphas 0,0.25,0.5,0.75,1 --max-side 256 -o "$OUT/starry-level-astronaut.jpg"
"$DN" sweep "$CAT" --model starry-graffiti --alphas 0,0.25,0.5,0.75,1 --max-side 256 -o "$OUT/starry-graffiti-chelsea.jpg"
"$DN" sweep "$PHOTO" --model starry-dual --alphas=-1,-0.5,0,0.5,1 --max-side 256 -o "$OUT/starry-dual-astronaut.jpg"
if [ -f src/dynamicnet/models/starry-fast/config.json ]; then
  "$DN" sweep "$PHOTO" --model starry-fast --alphas 0,0.25,0.5,0.75,1 --max-side 256 -o "$OUT/starry-fast-astronaut.jpg"
fi
for spec in starry-level:higher starry-graffiti:higher starry-dual:higher starry-fast:higher; do
  model=${spec%%:*}; objective=${spec##*:}
  [ -f "src/dynamicnet/models/$model/config.json" ] || continue
  "$DN" evaluate-style --model "$model" --objective "$objective" --size 256
done
"$DN" evaluate-style --model starry-dual --objective lower --alphas=-1,-0.75,-0.5,-0.25,0 --size 256
