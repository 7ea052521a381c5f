"""``bayes-scaling pairs`` and ``bayes-scaling curves``: the transfer harness's commands.

``pairs`` lists the source→target tasks, ``curves`` runs (or resumes) the harness and
writes a curve table. Registered on the main app by :mod:`bayes_scaling.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayes_scaling.cli_common import fail as _fail
from bayes_scaling.exceptions import BayesScalingError


def pairs() -> None:
    """List every source→target transfer task with source and target row counts."""
    from bayes_scaling.datasets import list_pairs

    try:
        table = list_pairs()
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(table.to_string(index=False))


def curves(
    pair: Annotated[
        list[str] | None, typer.Option("--pair", help="Pair name (repeatable).")
    ] = None,
    all_pairs: Annotated[bool, typer.Option("--all", help="Every registered pair.")] = False,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            help="finetune|gentle|frozen|feature|residual|scratch (repeatable; default: "
            "finetune, gentle, frozen, scratch for the scarce protocol, finetune and scratch "
            "for legacy).",
        ),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="scarce (m grid x n grid, many trials, pretrain once) | legacy (the curves "
            "committed before the scarce protocol: full split + two surface fractions)."
        ),
    ] = "scarce",
    seeds: Annotated[int, typer.Option(help="Legacy: repeated splits per grid point.")] = 5,
    trials: Annotated[
        int, typer.Option(help="Scarce: trials per (n, m) for m <= --many-trials-max-m.")
    ] = 20,
    trials_full: Annotated[
        int, typer.Option(help="Scarce: trials per (n, m) above that m and at the full split.")
    ] = 5,
    many_trials_max_m: Annotated[
        int, typer.Option(help="Scarce: largest m that gets --trials trials.")
    ] = 128,
    pretrain_seeds: Annotated[
        int, typer.Option(help="Scarce: pretraining seeds (trial t uses seed t mod this).")
    ] = 5,
    m: Annotated[
        list[int] | None,
        typer.Option(
            "--m",
            help="Scarce: experimental training size below the full split (repeatable; "
            "default: a geometric grid from --m-min to the split, --m-levels points).",
        ),
    ] = None,
    m_min: Annotated[int, typer.Option(help="Scarce: smallest m of the default grid.")] = 25,
    m_levels: Annotated[
        int, typer.Option(help="Scarce: points of the default m grid, full split included.")
    ] = 6,
    selection_seeds: Annotated[
        int,
        typer.Option(
            help="Scarce: pretraining seeds whose trials also get validation fits (what "
            "chooses the default strategy; 0: none)."
        ),
    ] = 1,
    no_reuse: Annotated[
        bool,
        typer.Option(
            "--no-reuse",
            help="Scarce: pretrain again for every cell (identical numbers, slower).",
        ),
    ] = False,
    n_points: Annotated[int, typer.Option(help="Points of the source-size grid.")] = 10,
    m_points: Annotated[int, typer.Option(help="Legacy: points of the scratch-size grid.")] = 8,
    m_fraction: Annotated[
        list[float] | None,
        typer.Option(
            "--m-fraction",
            help="Legacy: experimental training size of an extra (n, m)-surface transfer "
            "curve, as a fraction of the training split (repeatable; default 0.25 and 0.5; "
            "1 = none).",
        ),
    ] = None,
    m_n_points: Annotated[
        int, typer.Option(help="Legacy: points of the n grid used by the surface curves.")
    ] = 5,
    source_cap: Annotated[
        str | None,
        typer.Option(
            help="Cap on the source size for every pair (an integer), or 'none' for the full "
            "databases. Default: 32768 rows for the DFT databases, no cap otherwise "
            "(the legacy curves used 16384)."
        ),
    ] = None,
    target_max: Annotated[
        int | None, typer.Option(help="Subsample the target (quick runs).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (resumable).")] = Path(
        "data/curves"
    ),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel workers.")] = 1,
    backend: Annotated[str, typer.Option(help="loky|threading|sequential|dask")] = "loky",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (with --backend dask).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run (or resume) the transfer harness; writes OUT/shards/*.csv and OUT/curves.csv."""
    from bayes_scaling.harness import SCARCE_STRATEGIES, HarnessConfig, run_harness
    from bayes_scaling.harness.runner import select_strategy

    if not pair and not all_pairs:
        _fail(BayesScalingError("Give --pair NAME (repeatable) or --all."))
    try:
        cap: int | None = None
        full = False
        if source_cap is not None:
            if source_cap.strip().lower() in ("none", "full"):
                full = True
            else:
                try:
                    cap = int(source_cap)
                except ValueError:
                    raise BayesScalingError(
                        f"--source-cap must be an integer or 'none', got {source_cap!r}."
                    ) from None
        config = HarnessConfig(
            protocol=protocol,  # type: ignore[arg-type]
            seeds=seeds,
            n_points=n_points,
            m_points=m_points,
            m_fractions=(
                (0.25, 0.5) if m_fraction is None else tuple(f for f in m_fraction if f != 1.0)
            ),
            m_n_points=m_n_points,
            source_cap=cap,
            full_sources=full,
            target_max=target_max,
            m_grid=tuple(m) if m else None,
            trials=trials,
            trials_full=trials_full,
            many_trials_max_m=many_trials_max_m,
            pretrain_seeds=pretrain_seeds,
            m_min=m_min,
            m_level_points=m_levels,
            selection_seeds=selection_seeds,
            reuse_pretrained=not no_reuse,
        )
        default_strategies = SCARCE_STRATEGIES if protocol == "scarce" else ("finetune", "scratch")
        kwargs = dict(
            strategies=tuple(strategy or default_strategies),
            config=config,
            out=out,
            n_jobs=jobs,
            backend=backend,  # type: ignore[arg-type]
            quiet=quiet,
        )
        names = "all" if all_pairs else list(pair or [])
        if backend == "dask":
            from dask.distributed import Client, LocalCluster

            with Client(scheduler) if scheduler else Client(LocalCluster(n_workers=jobs)):
                table = run_harness(names, **kwargs)  # type: ignore[arg-type]
        else:
            table = run_harness(names, **kwargs)  # type: ignore[arg-type]
        validation = out / "validation.csv"
        choice = select_strategy(validation) if validation.exists() else None
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(f"wrote {len(table)} rows to {out / 'curves.csv'}")
    if choice is not None:
        typer.echo(choice.sentence)
