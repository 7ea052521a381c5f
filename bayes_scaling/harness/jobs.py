"""Job planning: the cells of the protocol, grouped into jobs, and their resume keys.

A :class:`Job` is one model fit (legacy transfer cells, scratch cells of both protocols); a
:class:`PretrainJob` is every scarce-protocol cell that shares one pretrained network.
:func:`make_jobs` lists a prepared pair's jobs under its protocol; the keys
(:func:`bayes_scaling.harness.store.job_key`) are what a resumed run skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from bayes_scaling.harness.prepare import PreparedPair
from bayes_scaling.harness.store import job_key


@dataclass(frozen=True)
class Job:
    """One model fit: a (pair, strategy, kind, n, seed, m) cell of the protocol.

    ``m`` is the experimental training size of a surface job; 0 means the full training split
    (and, for scratch jobs, the size is ``n``).
    """

    pair: str
    strategy: str
    kind: Literal["transfer", "scratch"]
    n: int
    seed: int
    label: str = field(default="", compare=False)
    m: int = 0

    @property
    def key(self) -> tuple:
        """The job key used for resuming."""
        return job_key(asdict(self))


@dataclass(frozen=True)
class PretrainJob:
    """Scarce protocol: every cell that shares one pretrained network.

    One network is pretrained on the first ``n`` rows of source permutation ``seed`` and
    adapted, for each cell ``(strategy, m, trial)`` (``m`` 0: the full split), to the first
    ``m`` rows of the trial's permutation of its training split, then scored on the trial's
    test split. The cells are the trials ``t`` with ``t % pretrain_seeds == seed``.
    """

    pair: str
    n: int
    seed: int
    label: str = field(default="", compare=False)
    cells: tuple[tuple[str, int, int], ...] = ()
    kind: Literal["transfer"] = "transfer"

    def cell_keys(self) -> list[tuple]:
        """Job keys (as stored in the shards) of the cells."""
        return [
            job_key(
                {"pair": self.pair, "strategy": st, "kind": "transfer", "n": self.n, "seed": t}
                | {"m": m}
            )
            for st, m, t in self.cells
        ]


def make_jobs(
    prep: PreparedPair, strategies: Sequence[str], seeds: int | None = None
) -> list[Job | PretrainJob]:
    """All jobs of one prepared pair (``seeds``: legacy only; default the config's)."""
    if prep.config.protocol == "scarce":
        return _scarce_jobs(prep, strategies)
    seeds = prep.config.seeds if seeds is None else seeds
    jobs: list[Job | PretrainJob] = []
    for strat in strategies:
        if strat == "scratch":
            jobs += [
                Job(prep.scratch_label, "scratch", "scratch", m, s, prep.scratch_label)
                for s in range(seeds)
                for m in prep.m_grid
            ]
        else:
            jobs += [
                Job(prep.name, strat, "transfer", n, s, prep.name)
                for s in range(seeds)
                for n in prep.n_grid
            ]
            jobs += [
                Job(prep.name, strat, "transfer", n, s, prep.name, m=m)
                for m in prep.m_levels
                for s in range(seeds)
                for n in prep.m_n_grid
            ]
    return jobs


def _scarce_jobs(prep: PreparedPair, strategies: Sequence[str]) -> list[Job | PretrainJob]:
    cfg = prep.config
    jobs: list[Job | PretrainJob] = []
    if "scratch" in strategies:
        top = prep.m_grid[-1]  # the smallest training split: scratch's "full split"
        jobs += [
            Job(prep.scratch_label, "scratch", "scratch", m, t, prep.scratch_label)
            for m in prep.m_grid
            for t in range(cfg.trials_at(0 if m == top else m))
        ]
    transfer = [s for s in strategies if s != "scratch"]
    if not transfer:
        return jobs
    levels = [*prep.m_levels, 0]
    for n in prep.n_grid:
        for seed in range(cfg.pretrain_seeds):
            cells = tuple(
                (st, m, t)
                for m in levels
                for t in range(cfg.trials_at(m))
                if t % cfg.pretrain_seeds == seed
                for st in transfer
            )
            if cells:
                jobs.append(PretrainJob(prep.name, n, seed, prep.name, cells))
    return jobs
