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
    pair: Annotated[
        list[str] | None, typer.Option("--pair", help="Pair name (repeatable).")
    ] = None,
    all_pairs: Annotated[bool, typer.Option("--all", help="Every registered pair.")] = False,
    strategy: Annotated[
        list[str] | None, typer.Option("--strategy", help="finetune|feature|residual|scratch")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Repeated splits per grid point.")] = 5,
    n_points: Annotated[int, typer.Option(help="Points of the source-size grid.")] = 10,
    m_points: Annotated[int, typer.Option(help="Points of the scratch-size grid.")] = 8,
    source_cap: Annotated[int | None, typer.Option(help="Cap on source size (all pairs).")] = None,
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
    from bayes_scaling.harness import HarnessConfig, run_harness

    if not pair and not all_pairs:
        _fail(BayesScalingError("Give --pair NAME (repeatable) or --all."))
    try:
        config = HarnessConfig(
            seeds=seeds,
            n_points=n_points,
            m_points=m_points,
            source_cap=source_cap,
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

            with Client(scheduler) if scheduler else Client(LocalCluster(n_workers=jobs)):
                table = run_harness(names, **kwargs)  # type: ignore[arg-type]
        else:
            table = run_harness(names, **kwargs)  # type: ignore[arg-type]
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(f"wrote {len(table)} rows to {out / 'curves.csv'}")


def _load_model(path: Path) -> object:
    from bayes_scaling.models import ScalingLawModel

    return ScalingLawModel.load(path)


@app.command()
def fit(
    curves: Annotated[Path, typer.Argument(help="Curve table (.csv or .parquet).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="netCDF file to write.")] = Path(
        "fit.nc"
    ),
    metric: Annotated[str, typer.Option(help="Metric rows to model (mae, rmse, ...).")] = "mae",
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="Grouping column (repeatable; default: property, database, strategy).",
        ),
    ] = None,
    target_accept: Annotated[
        float | None,
        typer.Option(
            help="NUTS target acceptance rate (higher: fewer divergences; default: the "
            "model's DEFAULT_TARGET_ACCEPT)."
        ),
    ] = None,
    law: Annotated[str, typer.Option(help="power_gap | power | broken_power")] = "power_gap",
    sampler: Annotated[str, typer.Option(help="nutpie | pymc | numpyro")] = "nutpie",
    draws: Annotated[int, typer.Option(help="Posterior draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(help="Chains.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20250146,
) -> None:
    """Fit the hierarchical scaling-law model to a curve table; save it as netCDF."""
    from bayes_scaling.curves import read_curves
    from bayes_scaling.models import ScalingLawModel
    from bayes_scaling.pipeline import select_curves

    try:
        table = select_curves(read_curves(curves), metric=metric, strategies=None)
        model = ScalingLawModel(
            groups=group or None,
            law=law,
            sampler=sampler,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=seed,
            **({} if target_accept is None else {"target_accept": target_accept}),
        ).fit(table)
        model.save(output)
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(model.convergence)
    typer.echo(f"wrote {output}")


@app.command()
def plan(
    fit_file: Annotated[Path, typer.Argument(help="Fitted model (.nc).")],
    curve: Annotated[str, typer.Option(help="Curve id (see 'bayes-scaling curves-of FIT').")],
    target: Annotated[list[float], typer.Option(help="Target error (repeatable).")],
    prob: Annotated[float, typer.Option(help="Probability of reaching the target.")] = 0.9,
    scale: Annotated[str, typer.Option(help="original | normalised")] = "original",
    delta_n: Annotated[
        int | None, typer.Option(help="Also: value of this many more samples.")
    ] = None,
) -> None:
    """Sample size needed to reach a target error with probability PROB."""
    from bayes_scaling.planning import next_batch_value, sample_size_for_target

    try:
        if not 0.0 < prob < 1.0:
            raise BayesScalingError(f"--prob must be in (0, 1), got {prob}.")
        if any(t <= 0 for t in target):
            raise BayesScalingError(f"--target must be > 0, got {target}.")
        post = _load_model(fit_file).curve_posterior()  # type: ignore[attr-defined]
        dec = sample_size_for_target(post, curve, target, prob=prob, scale=scale)  # type: ignore[arg-type]
        typer.echo(dec)
        if delta_n is not None:
            typer.echo(next_batch_value(post, curve, delta_n, scale=scale))  # type: ignore[arg-type]
    except BayesScalingError as exc:
        _fail(exc)


@app.command("curves-of")
def curves_of(fit_file: Annotated[Path, typer.Argument(help="Fitted model (.nc).")]) -> None:
    """List the curve ids of a fitted model."""
    try:
        post = _load_model(fit_file).curve_posterior()  # type: ignore[attr-defined]
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo("\n".join(post.curve_ids))


@app.command()
def compare(
    fit_file: Annotated[Path, typer.Argument(help="Fitted model (.nc).")],
    by: Annotated[str, typer.Option(help="Column whose groups are compared.")] = "database",
    within: Annotated[str, typer.Option(help="Context column held fixed.")] = "property",
    n: Annotated[float | None, typer.Option(help="Common n for the error comparison.")] = None,
    rank_by: Annotated[str, typer.Option(help="error | gap | alpha")] = "gap",
) -> None:
    """Compare databases (or strategies, properties): P(C_A < C_B), ranking."""
    from bayes_scaling.compare import compare_groups

    try:
        post = _load_model(fit_file).curve_posterior()  # type: ignore[attr-defined]
        if by not in post.curves.columns:
            raise BayesScalingError(
                f"Unknown group column {by!r}; available: {', '.join(post.curves.columns)}."
            )
        dec = compare_groups(post, by=by, within=within, n=n, rank_by=rank_by)  # type: ignore[arg-type]
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(dec)


@app.command()
def report(
    fit_file: Annotated[Path, typer.Argument(help="Fitted model (.nc).")],
    output: Annotated[Path, typer.Option("--output", "-o", help=".html or .md")] = Path(
        "report.html"
    ),
    prob: Annotated[float, typer.Option(help="Probability for the sample-size plans.")] = 0.9,
) -> None:
    """Self-contained HTML (or Markdown) report: curves, plans, comparison, diagnostics."""
    from bayes_scaling.pipeline import plan_all, provenance
    from bayes_scaling.reporting import build_report

    try:
        model = _load_model(fit_file)
        post = model.curve_posterior()  # type: ignore[attr-defined]
        rep = build_report(
            post,
            model.data_.table,  # type: ignore[attr-defined]  # the training curve table
            decisions=plan_all(post, prob=prob),
            diagnostics=model.convergence.table,  # type: ignore[attr-defined]
            provenance={**provenance(str(fit_file)), "fit": str(fit_file)},
        )
        rep.write(output)
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(f"wrote {output}")


@app.command()
def demo(
    curves: Annotated[Path | None, typer.Option(help="Curve table (default: bundled).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("runs/demo"),
    draws: Annotated[int, typer.Option(help="Posterior draws per chain.")] = 1000,
    chains: Annotated[int, typer.Option(help="Chains.")] = 4,
) -> None:
    """Run the main job on the bundled real curves: fit → plan → compare → HTML report."""
    import time

    from bayes_scaling.pipeline import BUNDLED_CURVES, run_pipeline

    t0 = time.perf_counter()
    try:
        res = run_pipeline(
            curves or BUNDLED_CURVES, out=out, draws=draws, tune=draws, chains=chains
        )
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(res.model.convergence)
    for dec in res.decisions:
        typer.echo(f"- {dec.sentence}")
    typer.echo(f"fit: {res.fit_path}\nreport: {res.report_path} ({time.perf_counter() - t0:.0f} s)")


def main() -> None:  # pragma: no cover - console entry point alias
    """Entry point for ``python -m bayes_scaling``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
