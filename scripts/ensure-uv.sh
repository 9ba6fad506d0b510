#!/usr/bin/env sh
# Print the path of a uv binary, installing uv from PyPI first if the machine has none.
set -eu
if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
if [ -x "${HOME}/.local/bin/uv" ]; then
  echo "${HOME}/.local/bin/uv"
  exit 0
fi
echo "uv not found: installing it with pip" >&2
python3 -m pip install --quiet --user uv >&2 || python3 -m pip install --quiet uv >&2
command -v uv 2>/dev/null || echo "${HOME}/.local/bin/uv"
