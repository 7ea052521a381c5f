"""Transfer harness: learning curves of Sim2Real transfer for every source→target pair.

See :mod:`bayes_scaling.harness.runner` for the protocol and
:mod:`bayes_scaling.harness.strategies` for the transfer strategies.
"""

from bayes_scaling.harness.runner import (
    SCARCE_STRATEGIES,
    SOURCE_CAPS,
    HarnessConfig,
    Job,
    PretrainJob,
    StrategyChoice,
    geometric_grid,
    make_jobs,
    prepare_pair,
    run_harness,
    run_job,
    run_pretrain_job,
    select_strategy,
)
from bayes_scaling.harness.store import ShardStore
from bayes_scaling.harness.strategies import STRATEGIES, get_strategy

__all__ = [
    "SCARCE_STRATEGIES",
    "SOURCE_CAPS",
    "STRATEGIES",
    "HarnessConfig",
    "Job",
    "PretrainJob",
    "ShardStore",
    "StrategyChoice",
    "geometric_grid",
    "get_strategy",
    "make_jobs",
    "prepare_pair",
    "run_harness",
    "run_job",
    "run_pretrain_job",
    "select_strategy",
]
