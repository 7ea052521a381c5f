"""The surface from the command line and in the main job, on a small simulated surface."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bayes_scaling.cli import app
from bayes_scaling.simulate import simulate_surface

pytestmark = pytest.mark.slow
runner = CliRunner()
FAST = ["--draws", "250", "--tune", "400", "--chains", "2", "--seed", "4"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("surface_cli")
    curves = tmp / "curves.csv"
    simulate_surface("effective_data", rng=2, metric="mae").to_csv(curves, index=False)
    files = {}
    for form in ("additive", "effective_data"):
        out = tmp / f"{form}.nc"
        res = runner.invoke(
            app, ["surface", "fit", str(curves), "--form", form, "-o", str(out), *FAST]
        )
        assert res.exit_code == 0, res.output
        assert "wrote" in res.output and out.exists()
        files[form] = out
    return tmp, curves, files


def test_tasks_and_compare(fitted):
    _, _, files = fitted
    res = runner.invoke(app, ["surface", "tasks", str(files["additive"])])
    assert res.exit_code == 0, res.output
    assert "density|md\tn=16384\tm=250" in res.output
    res = runner.invoke(app, ["surface", "compare", str(files["additive"]),
                              str(files["effective_data"])])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "prefer the effective_data form" in res.output


def test_plan(fitted):
    _, _, files = fitted
    res = runner.invoke(
        app,
        ["surface", "plan", str(files["effective_data"]), "--task", "chi|cosmo",
         "--target", "0.12", "--cost-simulation", "1", "--cost-experiment", "200"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    for words in ("cheapest plan", "simulations per experiment", "worth", "lower the error by"):
        assert words in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nope", "--target", "0.1"], "Unknown task 'nope'"),
        (["--task", "chi|cosmo", "--target", "-1"], "target must be"),
    ],
)
def test_plan_bad_inputs(fitted, args, message):
    _, _, files = fitted
    res = runner.invoke(
        app,
        ["surface", "plan", str(files["additive"]), *args, "--cost-simulation", "1",
         "--cost-experiment", "1"],
    )  # fmt: skip
    assert res.exit_code == 2 and message in res.output


def test_fit_needs_surface_curves(tmp_path):
    table = simulate_surface("additive", rng=0, metric="mae")
    flat = tmp_path / "flat.csv"
    table[table["m"].isna()].to_csv(flat, index=False)
    res = runner.invoke(app, ["surface", "fit", str(flat), "-o", str(tmp_path / "x.nc"), *FAST])
    assert res.exit_code == 2 and "no surface curves" in res.output
    bad = tmp_path / "bad.csv"
    table.drop(columns="n_train").to_csv(bad, index=False)
    res = runner.invoke(app, ["surface", "fit", str(bad), "-o", str(tmp_path / "x.nc"), *FAST])
    assert res.exit_code == 2 and "Missing m" in res.output


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """The main job on a simulated scarce-protocol table: n-law fit, both surface forms, reports.

    Three experimental sizes below the full split (600): a scarce m grid, so the n-law fit
    takes every task at its headline m (100) and the surface fit every level.
    """
    from bayes_scaling.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("main_job")
    table = simulate_surface("additive", m_levels=(25, 100, 250, 600), rng=1, metric="nmae")
    res = run_pipeline(table, out=out, metric="nmae", draws=300, tune=400, chains=2,
                       random_seed=5, surface_forms=("additive", "effective_data"))  # fmt: skip
    return res, out


def test_main_job_adds_the_surface(main_job):
    res, out = main_job
    assert res.surface is not None and set(res.surface.models) == {"additive", "effective_data"}
    assert (out / "surface_additive.nc").exists()
    assert (out / "surface_effective_data.nc").exists()
    kinds = {type(d).__name__ for d in res.surface.decisions}
    assert {"SurfaceFormDecision", "ExchangeDecision", "SurfaceEquivalentDecision",
            "CheapestPlanDecision", "AnswersByMDecision"} <= kinds  # fmt: skip
    # the surface answers are read at the n-law curves' (headline) m; the by-m table spans
    # every measured level
    at = [d for d in res.surface.decisions if type(d).__name__ == "SurfaceEquivalentDecision"]
    assert at and all((d.table["m"] == 100).all() for d in at)
    by_m = [d for d in res.surface.decisions if type(d).__name__ == "AnswersByMDecision"]
    assert len(by_m) == 4 and all(list(d.table["m"]) == [25, 100, 250, 600] for d in by_m)
    # the n-law fit saw each task at its headline m (and the scratch curves), and says so
    nlaw = res.model.data_.table
    assert set(res.headline["m"]) == {100.0} and len(res.headline) == 4
    assert (nlaw.loc[nlaw["kind"] == "transfer", "m"] == 100).all()
    assert nlaw.loc[nlaw["kind"] == "scratch", "m"].isna().all()
    html = res.report_path.read_text()
    assert 'id="surface"' in html and "Cheapest plan" in html
    assert "Headline curves" in html and "m = 100 experiments" in html
    assert "How the answers change with the number of experiments m" in html
    assert list(res.timings) == ["n-law fit", "n-law decisions", "surface fits",
                                 "surface decisions", "report"]  # fmt: skip
    assert all(v >= 0 for v in res.timings.values()) and "total" in res.timing_line()
    # the surface fit saw every level
    surf = res.surface.models["additive"].data_.table
    assert set(surf["m"].dropna()) == {25, 100, 250}


def test_report_with_surface_section(main_job):
    """``bayes-scaling report`` on the main job's saved fits (n-law + both surface forms)."""
    res, out = main_job
    md_out = out / "report_again.md"
    res_cli = runner.invoke(
        app,
        ["report", str(res.fit_path), "-o", str(md_out), "--surface",
         str(out / "surface_additive.nc"), "--surface", str(out / "surface_effective_data.nc")],
    )  # fmt: skip
    assert res_cli.exit_code == 0, res_cli.output
    md = md_out.read_text()
    section = md.split('<a id="surface"></a>')[1].split('<a id="diagnostics"></a>')[0]
    assert "Which surface form do the data prefer?" in section
    # one readable heading per task, its error-surface figure beside the first sentence
    assert "Density · md → experiment" in section and section.count("![") == 4
    assert "Cheapest plan" in section and "exchange rate" in section


def test_fit_takes_the_headline_curves_of_a_scarce_table(tmp_path):
    """``fit`` on a scarce-protocol table: each task at its measured m nearest --m."""
    from bayes_scaling.models import ScalingLawModel

    path = tmp_path / "scarce.csv"
    table = simulate_surface("additive", m_levels=(25, 100, 250, 600), rng=2, metric="mae")
    table.to_csv(path, index=False)
    out = tmp_path / "fit.nc"
    res = runner.invoke(app, ["fit", str(path), "-o", str(out), "--m", "30", *FAST])
    assert res.exit_code == 0, res.output
    assert "density · md: m = 25 (measured: (25, 100, 250))" in res.output
    table = ScalingLawModel.load(out).data_.table
    assert (table.loc[table["kind"] == "transfer", "m"] == 25).all()
    assert (table["kind"] == "scratch").any()
