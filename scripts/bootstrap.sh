#!/usr/bin/env bash
# Create (or reuse) .venv with a Python >= 3.12 and install bayes_scaling[dev] into it.
# Finds the interpreter by itself: $PYTHON, python3.14..python3.12, python3, then pyenv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ok_version() {  # prints the path if the interpreter is >= 3.12
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1 && echo "$1"
}

find_python() {
  local cand
  for cand in "${PYTHON:-}" python3.14 python3.13 python3.12 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 && ok_version "$(command -v "$cand")"; then return 0; fi
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  if command -v pyenv >/dev/null 2>&1; then root="$(pyenv root)"; fi
  for cand in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
    if ok_version "$cand"; then return 0; fi
  done
  return 1
}

if [ -x .venv/bin/python ] && ok_version .venv/bin/python >/dev/null; then
  :
else
  PY="$(find_python)" || {
    echo "bootstrap: no Python >= 3.12 found (tried \$PYTHON, python3.14..3.12, python3, pyenv versions)." >&2
    echo "bootstrap: install one (e.g. 'pyenv install 3.12') or set PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  echo "bootstrap: creating .venv with $PY ($("$PY" --version 2>&1))" >&2
  rm -rf .venv
  "$PY" -m venv .venv
fi

# Reinstall only when the dependency spec changed (fast reruns).
stamp=.venv/.bayes_scaling-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing bayes_scaling[dev] into .venv (first run takes ~2 minutes)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" >&2
  echo "$want" > "$stamp"
fi
