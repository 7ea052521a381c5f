#!/usr/bin/env bash
# The project's test command (README and .ci/run call exactly this).
# Sets up .venv, then runs the whole pytest suite, slow tests and notebooks included, on
# BAYES_SCALING_TEST_WORKERS pytest-xdist workers (default 2, the CI machine's cores; 0 runs
# in this process). Test files are kept whole on one worker (--dist loadfile), so a module's
# shared fits are computed once. Extra arguments go to pytest.
# pytest's exit code 5 ("no tests collected") is turned into a failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh || exit 1
export MPLBACKEND=Agg
.venv/bin/python -m pytest -n "${BAYES_SCALING_TEST_WORKERS:-2}" --dist loadfile "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests - failing on purpose." >&2
  exit 1
fi
exit "$rc"
