#!/usr/bin/env bash
# Builds the whisper-py plugin: runs its unit tests with this machine's python3, then
# componentize-py turns app.py and the whisper_py package into a WebAssembly component of the
# contract's `stt-plugin` world (narrowed to the imports it uses: wit/world.wit).
#
#   plugins/whisper-py/build.sh [OUT.wasm]      (default: <target>/python-plugins/whisper-py.wasm)
#
# componentize-py is looked up in $COMPONENTIZE_PY, then <target>/tools/python/bin (where
# .ci/setup installs it), then PATH.
set -euo pipefail
# No __pycache__ folders in the source tree (the runtime build script watches plugins/).
export PYTHONDONTWRITEBYTECODE=1
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
out="${1:-$target/python-plugins/whisper-py.wasm}"

tool="${COMPONENTIZE_PY:-}"
if [ -z "$tool" ]; then
  if [ -x "$target/tools/python/bin/componentize-py" ]; then
    tool="$target/tools/python/bin/componentize-py"
  elif command -v componentize-py >/dev/null 2>&1; then
    tool="$(command -v componentize-py)"
  else
    echo "componentize-py is not installed: run .ci/setup (it installs componentize-py 0.25.1 into $target/tools/python)" >&2
    exit 127
  fi
fi

# The 0.1.0 contract: its versioned folder when there is one, else wit/.
wit="$repo/wit"
[ -d "$repo/wit/v0.1.0" ] && wit="$repo/wit/v0.1.0"

# The pure modules first, natively: a failing rule fails the build.
(cd "$here" && python3 -m unittest discover -q -s tests -t . 2>&1) >&2

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
# componentize-py's interpreter writes __pycache__ next to the modules it imports: build from a
# copy, so the source tree stays clean. Only that copy is on the module path.
work="$(mktemp -d)"
trap 'rm -rf "$tmp" "$work"' EXIT
cp -R "$here/app.py" "$here/whisper_py" "$work/"
# The world is the contract's stt-plugin narrowed to what the plugin imports (wit/world.wit).
(cd "$work" && "$tool" -d "$wit" -d "$here/wit" -w local:whisper-py/whisper-py \
  componentize app -p "$work" -o "$tmp" >&2)
mv -f "$tmp" "$out"
echo "$out"
