"""Command-line interface: ``bayes-scaling``.

Sub-commands
------------
``pairs``     list the source→target transfer tasks with row counts
``curves``    run (or resume) the transfer harness and write a curve table
``fit``       fit the hierarchical scaling-law model to a curve table (netCDF output)
``plan``      sample size to reach a target error, from a fitted model
``compare``   compare databases (or strategies, properties) of a fitted model
``report``    self-contained HTML/Markdown report of a fitted model
``demo``      the main job on the bundled curves: fit → plan → compare → report
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bayes_scaling.exceptions import BayesScalingError

app = typer.Typer(
    name="bayes-scaling",
    help="Bayesian scaling laws for Sim2Real transfer: how much simulation data to produce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


@app.command()
def pairs() -> None:
    """List every source→target transfer task with source and target row counts."""
    from bayes_scaling.datasets import list_pairs

    try:
        table = list_pairs()
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(table.to_string(index=False))


@app.command()
def curves(
    pair: Annotated[list[str] | None, typer.Option("--pair", help="Pair name (repeatable).")] = None,
    all_pairs: Annotated[bool, typer.Option("--all", help="Every registered pair.")] = False,
    strategy: Annotated[
        list[str] | None, typer.Option("--strategy", help="finetune|feature|residual|scratch")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Repeated splits per grid point.")] = 5,
    n_points: Annotated[int, typer.Option(help="Points of the source-size grid.")] = 10,
    m_points: Annotated[int, typer.Option(help="Points of the scratch-size grid.")] = 8,
    source_cap: Annotated[int | None, typer.Option(help="Cap on source size (all pairs).")] = None,
    target_max: Annotated[int | None, typer.Option(help="Subsample the target (quick runs).")] = None,
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
    from bayes_scaling.harness import HarnessConfig, run_harness

    if not pair and not all_pairs:
        _fail(BayesScalingError("Give --pair NAME (repeatable) or --all."))
    try:
        config = HarnessConfig(
            seeds=seeds, n_points=n_points, m_points=m_points, source_cap=source_cap,
            target_max=target_max,
        )
        kwargs = dict(
            strategies=tuple(strategy or ("finetune", "scratch")),
            config=config,
            out=out,
            n_jobs=jobs,
            backend=backend,  # type: ignore[arg-type]
            quiet=quiet,
        )
        names = "all" if all_pairs else list(pair or [])
        if backend == "dask":
            from dask.distributed import Client, LocalCluster

            with (Client(scheduler) if scheduler else Client(LocalCluster(n_workers=jobs))):
                table = run_harness(names, **kwargs)  # type: ignore[arg-type]
        else:
            table = run_harness(names, **kwargs)  # type: ignore[arg-type]
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(f"wrote {len(table)} rows to {out / 'curves.csv'}")


def main() -> None:  # pragma: no cover - console entry point alias
    """Entry point for ``python -m bayes_scaling``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
