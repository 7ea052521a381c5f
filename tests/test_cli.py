"""Command-line interface and the main pipeline, on a small simulated curve set."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bayes_scaling.cli import app
from bayes_scaling.simulate import simulate_curves

runner = CliRunner()
FAST = ["--draws", "300", "--tune", "300", "--chains", "2", "--seed", "3"]


def small_curves() -> pd.DataFrame:
    """Two properties x two databases, plus one scratch curve per property (known truth)."""
    params = pd.DataFrame(
        {
            "property": ["density", "density", "tg", "tg"],
            "database": ["radonpy", "mafa_md", "radonpy", "mafa_md"],
            "D": [1.2, 1.0, 1.5, 1.3],
            "alpha": [0.5, 0.4, 0.45, 0.35],
            "C": [0.2, 0.35, 0.25, 0.4],
        }
    )
    grid = np.unique(np.geomspace(16, 4096, 8).astype(int))
    transfer = simulate_curves(params, grid, seeds=3, noise=0.05, rng=1)
    scratch_params = pd.DataFrame(
        {
            "property": ["density", "tg"],
            "database": ["none", "none"],
            "D": [3.0, 3.0],
            "alpha": [0.3, 0.3],
            "C": [0.3, 0.3],
        }
    )
    scratch = simulate_curves(scratch_params, grid[:6], seeds=3, noise=0.05, kind="scratch", rng=2)
    return pd.concat([transfer, scratch], ignore_index=True)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    curves = tmp / "curves.csv"
    small_curves().to_csv(curves, index=False)
    fit_file = tmp / "fit.nc"
    res = runner.invoke(app, ["fit", str(curves), "-o", str(fit_file), *FAST])
    assert res.exit_code == 0, res.output
    assert fit_file.exists()
    return tmp, fit_file


def curve_list(fit_file) -> list[str]:
    res = runner.invoke(app, ["curves-of", str(fit_file)])
    assert res.exit_code == 0, res.output
    return res.output.split()


def test_curves_of_lists_every_curve(fitted):
    _, fit_file = fitted
    ids = curve_list(fit_file)
    assert len(ids) == 6
    assert any("radonpy" in c and "transfer" in c for c in ids)


def test_plan(fitted):
    _, fit_file = fitted
    curve = next(c for c in curve_list(fit_file) if c.startswith("density|radonpy"))
    res = runner.invoke(
        app,
        [
            "plan",
            str(fit_file),
            "--curve",
            curve,
            "--target",
            "0.25",
            "--target",
            "0.1",
            "--prob",
            "0.9",
            "--scale",
            "normalised",
            "--delta-n",
            "1000",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "0.1" in res.output and "unreachable" in res.output  # 0.1 < true C = 0.2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--curve", "nope|x", "--target", "0.3"], "Unknown curve 'nope|x'"),
        (["--curve", "CURVE", "--target", "-0.3"], "--target must be > 0"),
        (["--curve", "CURVE", "--target", "0.3", "--prob", "1.5"], "--prob must be in (0, 1)"),
        (["--curve", "CURVE", "--target", "0.3", "--prob", "0"], "--prob must be in (0, 1)"),
    ],
)
def test_plan_bad_inputs(fitted, args, message):
    _, fit_file = fitted
    curve = curve_list(fit_file)[0]
    args = [curve if a == "CURVE" else a for a in args]
    res = runner.invoke(app, ["plan", str(fit_file), *args])
    assert res.exit_code == 2
    assert message in res.output


def test_compare(fitted):
    _, fit_file = fitted
    res = runner.invoke(app, ["compare", str(fit_file), "--by", "database"])
    assert res.exit_code == 0, res.output
    assert "radonpy" in res.output and "mafa_md" in res.output
    bad = runner.invoke(app, ["compare", str(fit_file), "--by", "colour"])
    assert bad.exit_code == 2 and "Unknown group column 'colour'" in bad.output


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k == "id" and v)


def test_report(fitted):
    tmp, fit_file = fitted
    out = tmp / "report.html"
    res = runner.invoke(app, ["report", str(fit_file), "-o", str(out)])
    assert res.exit_code == 0, res.output
    parser = _Sections()
    parser.feed(out.read_text())
    sections = {"summary", "curves", "planning", "comparison", "diagnostics", "provenance"}
    assert sections <= parser.ids
    md = tmp / "report.md"
    assert runner.invoke(app, ["report", str(fit_file), "-o", str(md)]).exit_code == 0
    assert "# " in md.read_text()


def test_report_targets(fitted):
    tmp, fit_file = fitted
    out = tmp / "targets.md"
    res = runner.invoke(app, ["report", str(fit_file), "-o", str(out), "--target", "density=0.01"])
    assert res.exit_code == 0, res.output
    md = out.read_text()
    summary = md.split('<a id="planning">')[0].replace("\u00a0", " ")
    assert summary.count("— set with --target") == 2  # both density tasks
    assert summary.count("— default: today − 10 %") == 2  # tg keeps the documented default
    for bad, msg in [
        ("density", "PROPERTY=VALUE"),
        ("density=abc", "not a number"),
        ("density=0", "> 0"),
        ("density=-2", "> 0"),
        ("viscosity=1", "unknown property"),
    ]:
        res = runner.invoke(app, ["report", str(fit_file), "-o", str(out), "--target", bad])
        assert res.exit_code == 2, (bad, res.output)
        assert msg in res.output, (bad, res.output)


def test_demo_refuses_bad_targets_before_fitting(tmp_path):
    curves = tmp_path / "curves.csv"
    small_curves().to_csv(curves, index=False)
    for bad, msg in [("viscosity=1", "unknown property"), ("tg=-1", "> 0"), ("tg", "=VALUE")]:
        res = runner.invoke(
            app, ["demo", "--curves", str(curves), "-o", str(tmp_path / "o"), "--target", bad]
        )
        assert res.exit_code == 2, (bad, res.output)
        assert msg in res.output, (bad, res.output)
        assert not (tmp_path / "o" / "fit.nc").exists()
    res = runner.invoke(
        app, ["demo", "--curves", str(curves), "-o", str(tmp_path / "o"), "--surface-form", "cubic"]
    )
    assert res.exit_code == 2 and "Unknown surface form 'cubic'" in res.output, res.output
    assert not (tmp_path / "o" / "fit.nc").exists()


def test_demo_honours_targets_and_prints_the_summary(tmp_path):
    curves = tmp_path / "curves.csv"
    small_curves().to_csv(curves, index=False)
    out = tmp_path / "demo"
    res = runner.invoke(
        app,
        ["demo", "--curves", str(curves), "-o", str(out), "--draws", "200", "--chains", "2",
         "--target", "density=0.01", "--law", "power_gap", "--law", "mmf"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [ln for ln in res.output.splitlines() if "→ experiment:" in ln]
    assert len(rows) == 4  # one per transfer task
    density = [r for r in rows if r.startswith("- Density")]
    assert len(density) == 2 and all("target 0.01 [set with --target]" in r for r in density)
    assert all("default: today − 10 %" in r for r in rows if r.startswith("- Glass"))
    md = (out / "report.md").read_text()
    assert md.split('<a id="planning">')[0].count("0.01 — set with --target") == 2
    # the main job end to end: fit files (power_gap and mmf, stacked), both reports, every
    # decision's section, and which law shapes carry the weight
    assert (out / "fit.nc").exists() and (out / "report.html").exists()
    assert (out / "fit_mmf.nc").exists()
    # (200 draws do not converge: the report says no law of the stack converged)
    stacked = ("Law shapes stacked", "No law of the stack converged")
    assert any(w in res.output for w in stacked) and any(w in md for w in stacked)
    # the report command rebuilds the stacked report from the saved fits
    again = out / "again.md"
    res2 = runner.invoke(
        app, ["report", str(out / "fit.nc"), "-o", str(again), "--stack-with",
              str(out / "fit_mmf.nc"), "--target", "density=0.01"],
    )  # fmt: skip
    assert res2.exit_code == 0, res2.output
    text = again.read_text()
    assert any(w in text for w in stacked) and "mmf.nc" in text
    res3 = runner.invoke(
        app, ["report", str(out / "fit.nc"), "-o", str(again), "--stack-with", str(out / "fit.nc")]
    )
    assert res3.exit_code == 2 and "laws repeat" in res3.output
    for section in ("summary", "planning", "comparison", "diagnostics", "provenance"):
        assert f'<a id="{section}"></a>' in md, section
    for words in ("equivalent", "next batch"):
        assert words in md.lower(), words
    stages = next(ln for ln in res.output.splitlines() if ln.startswith("stage times:"))
    for stage in ("n-law fit", "n-law decisions", "report", "total"):
        assert stage in stages, stages


def test_corrupt_fit_file(tmp_path):
    bad = tmp_path / "fit.nc"
    bad.write_bytes(b"not a netcdf file at all")
    res = runner.invoke(app, ["compare", str(bad)])
    assert res.exit_code == 2
    assert "fit.nc" in res.output


def test_fit_rejects_bad_curves(tmp_path):
    df = small_curves()
    df.loc[0, "error"] = -1.0
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    res = runner.invoke(app, ["fit", str(path), "-o", str(tmp_path / "f.nc"), *FAST])
    assert res.exit_code == 2 and "'error' must be > 0" in res.output


def test_fit_cached_reuses_and_repairs_the_cache(tmp_path):
    from bayes_scaling.pipeline import fit_cached

    table = small_curves()
    settings = {"draws": 100, "tune": 100, "chains": 1, "check_convergence": False}
    model, path = fit_cached(table, tmp_path / "cache", **settings)
    assert path.exists() and path.parent == tmp_path / "cache"
    stamp = path.stat().st_mtime_ns
    again, path2 = fit_cached(table, tmp_path / "cache", **settings)
    assert path2 == path and path.stat().st_mtime_ns == stamp  # loaded, not refitted
    assert again.summary().equals(model.summary())
    other, path3 = fit_cached(table, tmp_path / "cache", **{**settings, "random_seed": 9})
    assert path3 != path  # other settings: another cache entry
    path.write_bytes(b"not a netCDF file")  # corrupt cache: refitted, not an error
    repaired, path4 = fit_cached(table, tmp_path / "cache", **settings)
    assert path4 == path and repaired.summary().equals(model.summary())


def test_fast_mode_settings_and_cache_dir(monkeypatch, tmp_path):
    from bayes_scaling.pipeline import (
        FAST_SAMPLER,
        default_cache_dir,
        fast_mode,
        sampler_settings,
    )

    monkeypatch.delenv("BAYES_SCALING_FAST", raising=False)
    assert not fast_mode() and sampler_settings() == {}
    for off in ("", "0"):
        monkeypatch.setenv("BAYES_SCALING_FAST", off)
        assert not fast_mode()
    monkeypatch.setenv("BAYES_SCALING_FAST", "1")
    assert fast_mode() and sampler_settings() == FAST_SAMPLER
    monkeypatch.setenv("BAYES_SCALING_NOTEBOOK_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("BAYES_SCALING_NOTEBOOK_CACHE")
    assert default_cache_dir().name == "bayes_scaling_notebooks"
