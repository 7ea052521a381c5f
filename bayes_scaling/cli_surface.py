"""``bayes-scaling surface ...``: the (n, m) error surface, simulations versus experiments.

``surface fit`` fits :class:`~bayes_scaling.models.surface.SurfaceModel` to a table's
surface curves, ``surface tasks`` lists a fit's tasks, ``surface compare`` ranks forms by
PSIS-LOO, ``surface plan`` gives the cheapest plan, exchange rate, scratch equivalent and
the answers by m. Registered on the main app by :mod:`bayes_scaling.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayes_scaling.cli_common import (
    ChainsOption,
    DrawsOption,
    SamplerOption,
    SeedOption,
    TuneOption,
)
from bayes_scaling.cli_common import fail as _fail
from bayes_scaling.exceptions import BayesScalingError

surface_app = typer.Typer(
    help="The (n, m) error surface: simulations versus experiments.", no_args_is_help=True
)


def load_surfaces(paths: list[Path]) -> dict[str, object]:
    """Load fitted surfaces (one per form), refusing two of the same form."""
    from bayes_scaling.models.surface import SurfaceModel

    models = {}
    for path in paths:
        sm = SurfaceModel.load(path)
        if sm.form in models:
            raise BayesScalingError(f"Two surfaces of form {sm.form!r} given ({path}).")
        models[sm.form] = sm
    return models


@surface_app.command("fit")
def surface_fit(
    curves: Annotated[Path, typer.Argument(help="Curve table with surface curves (m column).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="netCDF file to write.")] = Path(
        "surface.nc"
    ),
    form: Annotated[str, typer.Option(help="additive | effective_data")] = "additive",
    metric: Annotated[str, typer.Option(help="Metric rows to model (mae, rmse, ...).")] = "mae",
    sampler: SamplerOption = "nutpie",
    draws: DrawsOption = 500,
    tune: TuneOption = 1000,
    chains: ChainsOption = 4,
    seed: SeedOption = 20250146,
    strategy: Annotated[
        str | None, typer.Option(help="Transfer strategy (default: see below).")
    ] = None,
) -> None:
    """Fit the joint (n, m) surface model to the surface curves of a table; save as netCDF.

    Every m level of one transfer strategy (``--strategy``; default: the harness's choice on
    validation rows when the table has them, else every strategy) plus the scratch curves.
    """
    from bayes_scaling.curves import read_curves
    from bayes_scaling.exceptions import CurveSchemaError
    from bayes_scaling.models.surface import SurfaceModel
    from bayes_scaling.pipeline import surface_table
    from bayes_scaling.selection import default_strategy

    try:
        chosen = strategy or (
            default_strategy(curves) if curves.with_name("validation.csv").exists() else None
        )
        table = surface_table(
            read_curves(curves),
            metric=metric,
            strategies=None if chosen is None else (chosen, "scratch"),
        )
        if table is None:
            raise CurveSchemaError(
                f"{curves} has no surface curves (no transfer rows with an 'm'); generate "
                "them with 'bayes-scaling curves --m-fraction 0.25 --m-fraction 0.5 ...'."
            )
        sm = SurfaceModel(
            form=form, sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=seed
        ).fit(table)
        sm.save(output)
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(sm.convergence)
    typer.echo(f"wrote {output}")


@surface_app.command("tasks")
def surface_tasks(surface: Annotated[Path, typer.Argument(help="Fitted surface (.nc).")]) -> None:
    """List the task ids of a fitted surface, with their largest observed (n, m)."""
    try:
        sp = load_surfaces([surface])
        post = next(iter(sp.values())).surface_posterior()  # type: ignore[attr-defined]
    except BayesScalingError as exc:
        _fail(exc)
    for task in post.tasks:
        n, m = post.current(task)
        typer.echo(f"{task}\tn={n:g}\tm={m:g}")


@surface_app.command("compare")
def surface_compare(
    surfaces: Annotated[list[Path], typer.Argument(help="Fitted surfaces (.nc), >= 2 forms.")],
) -> None:
    """Which surface form the data prefer (PSIS-LOO ELPD difference and its SE)."""
    from bayes_scaling.tradeoffs import surface_form_evidence

    try:
        typer.echo(surface_form_evidence(load_surfaces(surfaces)))  # type: ignore[arg-type]
    except BayesScalingError as exc:
        _fail(exc)


@surface_app.command("plan")
def surface_plan(
    surface: Annotated[Path, typer.Argument(help="Fitted surface (.nc).")],
    task: Annotated[str, typer.Option(help="Task id (see 'bayes-scaling surface tasks').")],
    target: Annotated[float, typer.Option(help="Target error.")],
    cost_simulation: Annotated[float, typer.Option(help="Cost of one more simulation.")],
    cost_experiment: Annotated[float, typer.Option(help="Cost of one more experiment.")],
    prob: Annotated[float, typer.Option(help="Probability of reaching the target.")] = 0.8,
    scale: Annotated[str, typer.Option(help="original | normalised")] = "original",
    n: Annotated[float | None, typer.Option(help="Current simulations (default: max).")] = None,
    m: Annotated[float | None, typer.Option(help="Current experiments (default: max).")] = None,
    max_experiments: Annotated[
        float, typer.Option(help="Most extra experiments that can be made.")
    ] = 1e6,
) -> None:
    """Cheapest (Δn, Δm) to a target error, the exchange rate, what the sims are worth, by m."""
    from bayes_scaling.m_dependence import answers_by_m
    from bayes_scaling.tradeoffs import cheapest_plan, exchange_rate, scratch_equivalent

    try:
        sp = next(iter(load_surfaces([surface]).values())).surface_posterior()  # type: ignore[attr-defined]
        typer.echo(
            cheapest_plan(
                sp, task, target, cost_simulation=cost_simulation,
                cost_experiment=cost_experiment, prob=prob, n=n, m=m, scale=scale,
                max_experiments=max_experiments,
            )
        )  # fmt: skip
        n0, _ = sp.current(task)
        n_now = n0 if n is None else n
        typer.echo(exchange_rate(sp, task, dn=(max(n_now, 1.0), 10 * max(n_now, 1.0)), n=n, m=m))
        typer.echo(scratch_equivalent(sp, task, n=n, m=m))
        typer.echo(answers_by_m(sp, task, n=n))
    except BayesScalingError as exc:
        _fail(exc)


# ------------------------------------------------------------------ import-curves (issue 16)
