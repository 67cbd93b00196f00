#!/usr/bin/env bash
# Builds dist/{{name}}.wasm: runs the unit tests with python3, then componentize-py turns app.py
# (and {{logic}}.py) into a WebAssembly component of `wit/plugin.wit`'s world (the contract's
# `{{role}}-plugin` world, trimmed to the imports it uses).
#
#   ./build.sh [OUT.wasm]
#
# componentize-py is $COMPONENTIZE_PY, else the one on PATH
# (`python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1`).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/dist/{{name}}.wasm}"
tool="${COMPONENTIZE_PY:-$(command -v componentize-py || true)}"
if [ -z "$tool" ] && [ -x "$here/.venv/bin/componentize-py" ]; then
  tool="$here/.venv/bin/componentize-py"
fi
if [ -z "$tool" ]; then
  echo "componentize-py is not installed: python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1" >&2
  exit 127
fi
(cd "$here" && python3 -m unittest discover -q -s tests -t .)
mkdir -p "$(dirname "$out")"
(cd "$here" && "$tool" -d wit -w plugin componentize app -p . -o "$out")
echo "$out"
