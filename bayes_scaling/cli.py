"""Command-line interface: ``bayes-scaling``.

Sub-commands
------------
``pairs``     list the source→target transfer tasks with row counts
``curves``    run (or resume) the transfer harness and write a curve table
``fit``       fit the hierarchical scaling-law model to a curve table (netCDF output)
``plan``      sample size to reach a target error, from a fitted model
``compare``   compare databases (or strategies, properties) of a fitted model
``report``    self-contained HTML/Markdown report of a fitted model (``--surface`` adds the
              simulations-vs-experiments section)
``demo``      the main job on the bundled curves: fit → plan → compare → report
``surface``   the (n, m) error surface: ``surface fit``, ``surface compare``,
              ``surface tasks``, ``surface plan`` (exchange rate, m_eq, cheapest plan)
``import-curves``  convert your own learning-curve table (any column names, CSV or
              Parquet) into the curve schema (:mod:`bayes_scaling.adapters`)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bayes_scaling.cli_common import (
    ChainsOption,
    DrawsOption,
    SamplerOption,
    SeedOption,
    TargetOption,
    TuneOption,
)
from bayes_scaling.cli_common import fail as _fail
from bayes_scaling.cli_harness import curves, pairs
from bayes_scaling.cli_surface import load_surfaces as _load_surfaces
from bayes_scaling.cli_surface import surface_app
from bayes_scaling.exceptions import BayesScalingError

app = typer.Typer(
    name="bayes-scaling",
    help="Bayesian scaling laws for Sim2Real transfer: how much simulation data to produce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(surface_app, name="surface")


app.command()(pairs)
app.command()(curves)


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
            help="Fixed NUTS target acceptance rate (higher: fewer divergences). Default: "
            "'auto', 0.95 with a refit at 0.99 after any divergence."
        ),
    ] = None,
    law: Annotated[str, typer.Option(help="power_gap | power | broken_power | mmf")] = "power_gap",
    sampler: SamplerOption = "nutpie",
    draws: DrawsOption = 1000,
    tune: TuneOption = 500,
    chains: ChainsOption = 4,
    seed: SeedOption = 20250146,
    m: Annotated[
        float | None,
        typer.Option(
            "--m",
            help="Scarce-protocol tables: fit every transfer task at its measured experimental "
            "size nearest this (default 100, the main job's headline curves).",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Scarce-protocol tables: transfer strategy (default: the harness's choice on "
            "validation rows, validation.csv beside the table)."
        ),
    ] = None,
    full_split: Annotated[
        bool,
        typer.Option(
            "--full-split",
            help="Fit the full-split curves (every strategy) even of a scarce-protocol table.",
        ),
    ] = False,
) -> None:
    """Fit the hierarchical scaling-law model to a curve table; save it as netCDF.

    A legacy table gives its full-split learning curves (every strategy). A scarce-protocol
    table (an m grid per task) gives the main job's headline curves: every transfer task of
    one strategy at its measured m nearest ``--m`` (default 100), plus the scratch curves.
    """
    from bayes_scaling.curves import read_curves
    from bayes_scaling.models import ScalingLawModel
    from bayes_scaling.pipeline import select_curves
    from bayes_scaling.selection import (
        HEADLINE_M,
        default_strategy,
        headline_table,
        is_scarce,
    )

    try:
        full = read_curves(curves)
        if is_scarce(full) and not full_split:
            table, chosen = headline_table(
                full,
                metric=metric,
                strategy=strategy or default_strategy(curves),
                target_m=HEADLINE_M if m is None else m,
            )
            for r in chosen.itertuples() if chosen is not None else ():
                typer.echo(f"{r.property} · {r.database}: m = {r.m:g} (measured: {r.levels})")
        else:
            table = select_curves(full, metric=metric, strategies=None)
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
    surface: Annotated[
        list[Path] | None,
        typer.Option(
            "--surface",
            help="Fitted surface (.nc from 'surface fit'; repeatable: several forms are "
            "compared with LOO) for the simulations-vs-experiments section.",
        ),
    ] = None,
    cost_simulation: Annotated[float, typer.Option(help="Cost of one simulation.")] = 1.0,
    cost_experiment: Annotated[float, typer.Option(help="Cost of one experiment.")] = 100.0,
    target: TargetOption = None,
    stack_with: Annotated[
        list[Path] | None,
        typer.Option(
            "--stack-with",
            help="Fit of another law to the same curves (e.g. the demo's fit_mmf.nc; "
            "repeatable): the decisions come from the laws' Bayesian stack.",
        ),
    ] = None,
) -> None:
    """Decision report (HTML or Markdown): one-screen summary per task, then the details.

    The summary has one row per task with today's error, α and C, the target (yours with
    --target PROPERTY=VALUE, else 10 % below today's error), the n needed, the gain of the
    next doubling of n, the database's worth in experiments and a recommendation.
    """
    from bayes_scaling.pipeline import (
        decision_posterior,
        plan_all,
        plan_surface,
        provenance,
        surface_experiments,
        surface_targets,
    )
    from bayes_scaling.reporting import build_report
    from bayes_scaling.summary import parse_targets, resolve_targets

    try:
        if not 0.0 < prob < 1.0:
            raise BayesScalingError(f"--prob must be in (0, 1), got {prob}.")
        wanted = parse_targets(target)
        model = _load_model(fit_file)
        stack = None
        if stack_with:
            from bayes_scaling.models import LawStack

            fits = [model] + [_load_model(p) for p in stack_with]
            laws = [f.law for f in fits]  # type: ignore[attr-defined]
            if len(set(laws)) != len(laws):
                raise BayesScalingError(f"--stack-with: the fits' laws repeat ({laws}).")
            stack = LawStack.from_models(dict(zip(laws, fits, strict=True)))
        post, convergence = decision_posterior(model, stack)
        chosen = resolve_targets(post, wanted)
        surf = None
        if surface:
            surf = plan_surface(
                _load_surfaces(surface),
                cost_simulation=cost_simulation,
                cost_experiment=cost_experiment,
                targets=surface_targets(post, chosen),
                at_m=surface_experiments(post),
            )
        rep = build_report(
            post,
            model.data_.table,  # type: ignore[attr-defined]  # the training curve table
            decisions=plan_all(post, prob=prob, targets=chosen) + (surf.decisions if surf else []),
            diagnostics=convergence.table,
            provenance={
                **provenance(str(fit_file)),
                "fit": ", ".join(map(str, [fit_file, *(stack_with or [])])),
            },
            surface_grids=surf.grids if surf else (),
            surface_notes=surf.notes if surf else (),
            targets=chosen,
            convergence=convergence,
            surface_convergence=surf.models[surf.chosen].convergence if surf else None,
            summary_notes=([stack.sentence()] if stack is not None else [])
            + (surf.notes[-1:] if surf else []),
        )
        rep.write(output)
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(f"wrote {output}")


@app.command()
def demo(
    curves: Annotated[Path | None, typer.Option(help="Curve table (default: bundled).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("runs/demo"),
    draws: DrawsOption = 1000,
    chains: ChainsOption = 4,
    target: TargetOption = None,
    surface_form: Annotated[
        list[str] | None,
        typer.Option(
            "--surface-form",
            help="Surface form(s) to fit (repeatable; default: effective_data). With both "
            "(additive and effective_data), LOO compares them in the report.",
        ),
    ] = None,
    law: Annotated[
        list[str] | None,
        typer.Option(
            "--law",
            help="Law shape(s) of the n-law fit (repeatable; default: power_gap). With "
            "several (e.g. --law power_gap --law mmf) the decisions come from their Bayesian "
            "stack. Choices: power_gap, power, broken_power, mmf; the first is saved as "
            "fit.nc, the others as fit_<law>.nc.",
        ),
    ] = None,
) -> None:
    """Run the main job on the bundled real curves: fit → plan → compare → HTML report.

    When the curves hold (n, m)-surface rows (the bundled ones do), the surface model is
    fitted too (the effective-data form; --surface-form to choose) and the report gets its
    simulations-vs-experiments section.
    """
    import time

    from bayes_scaling.decisions import format_probability, with_unit
    from bayes_scaling.pipeline import BUNDLED_CURVES, run_pipeline
    from bayes_scaling.summary import parse_targets

    t0 = time.perf_counter()
    try:
        res = run_pipeline(
            curves or BUNDLED_CURVES,
            out=out,
            draws=draws,
            chains=chains,
            targets=parse_targets(target),
            **({"surface_forms": tuple(surface_form)} if surface_form else {}),
            **({"laws": tuple(law)} if law else {}),
        )
    except BayesScalingError as exc:
        _fail(exc)
    typer.echo(res.stack.convergence.message if res.stack is not None else res.model.convergence)
    if res.stack is not None:
        typer.echo(res.stack.sentence())
    if res.report is not None:
        typer.echo("Summary (one row per task):")
        for t in res.report.tasks:
            rec = t.recommendation
            what = (
                "no target"
                if rec is None
                else f"{rec.words} (P {format_probability(rec.probability)})"
            )
            if rec is not None and not t.converged:
                what = f"NOT RELIABLE, the fit did not converge (tentative: {what})"
            goal = ""
            if t.target is not None:
                rule = t.target.rule.replace("\u00a0", " ")
                goal = f" target {with_unit(t.target.value, t.unit, sig=3)} [{rule}]:"
            typer.echo(f"- {t.name}:{goal} {what}")
    for dec in res.decisions:
        typer.echo(f"- {dec.sentence}")
    if res.surface is not None:
        typer.echo("Simulations versus experiments (the (n, m) surface):")
        for note in res.surface.notes:
            typer.echo(note)
        for dec in res.surface.decisions:
            typer.echo(f"- {dec.sentence}")
    typer.echo(f"fit: {res.fit_path}\nreport: {res.report_path} ({time.perf_counter() - t0:.0f} s)")
    typer.echo(res.timing_line())


def _pairs_option(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BayesScalingError(f"{option} expects SCHEMA_COLUMN=VALUE, got {item!r}.")
        out[key.strip()] = value.strip()
    return out


@app.command("import-curves")
def import_curves(
    table: Annotated[Path, typer.Argument(help="Your long table (.csv or .parquet).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Curve table to write (.csv/.parquet).")],
    n: Annotated[str, typer.Option("--n", help="Column holding the training-set size.")],
    error: Annotated[str, typer.Option("--error", help="Column holding the error (or score).")],
    seed: Annotated[
        str | None, typer.Option("--seed", help="Column holding the split/seed (default: count).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Metric name of every row (e.g. error_rate).")
    ] = None,
    metric_column: Annotated[
        str | None, typer.Option("--metric-column", help="Column holding the metric name.")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            help="SCHEMA=YOURS: fill a schema column from your column, e.g. property=dataset, "
            "database=model (repeatable; YOURS may be a,b to join several).",
        ),
    ] = None,
    value: Annotated[
        list[str] | None,
        typer.Option(
            "--value", help="SCHEMA=CONSTANT, e.g. unit=m, target_scale=1.2 (repeatable)."
        ),
    ] = None,
    convert_scores: Annotated[
        bool,
        typer.Option(
            "--convert-scores",
            help="Turn higher-is-better scores into errors (1 - accuracy, -neg_log_loss, ...).",
        ),
    ] = False,
) -> None:
    """Convert your own learning-curve table (any column names) into the curve schema."""
    from bayes_scaling.adapters import from_table
    from bayes_scaling.curves import curve_ids, write_curves

    try:
        columns = {
            k: v.split(",") if "," in v else v for k, v in _pairs_option(column, "--column").items()
        }
        values: dict[str, object] = dict(_pairs_option(value, "--value"))
        if "target_scale" in values:
            try:
                values["target_scale"] = float(str(values["target_scale"]))
            except ValueError:
                raise BayesScalingError(
                    f"--value target_scale= must be a number, got {values['target_scale']!r}."
                ) from None
        curves_table = from_table(
            table,
            n=n,
            error=error,
            seed=seed,
            metric=metric,
            metric_column=metric_column,
            columns=columns,
            values=values,
            convert_scores=convert_scores,
        )
        write_curves(curves_table, out)
    except BayesScalingError as exc:
        _fail(exc)
    metrics = ", ".join(sorted(curves_table["metric"].unique()))
    typer.echo(
        f"wrote {len(curves_table)} rows, {curve_ids(curves_table).nunique()} curves "
        f"(metric: {metrics}) to {out}"
    )


def main() -> None:  # pragma: no cover - console entry point alias
    """Entry point for ``python -m bayes_scaling``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
