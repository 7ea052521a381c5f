#!/usr/bin/env bash
# The main job for a newcomer: set up .venv (finds Python >= 3.12 itself), then run the
# pipeline on the bundled real curves (data/curves_scarce/curves.parquet): fit -> plan ->
# compare -> HTML report in runs/demo/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export MPLBACKEND=Agg
exec .venv/bin/bayes-scaling demo "$@"
