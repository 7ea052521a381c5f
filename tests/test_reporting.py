"""Reports: HTML parses, holds every section, escapes user names; Markdown mirrors it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
import dataclasses  # noqa: E402
import re  # noqa: E402
from html.parser import HTMLParser  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _fake_posterior import DEFAULT_SPECS, fake_curve_table, fake_posterior, ids  # noqa: E402

from bayes_scaling.compare import compare_groups  # noqa: E402
from bayes_scaling.constants import FAR_BEYOND  # noqa: E402
from bayes_scaling.decisions import escape_markdown, format_number, format_probability  # noqa: E402
from bayes_scaling.exceptions import BayesScalingError  # noqa: E402
from bayes_scaling.planning import next_batch_value, sample_size_for_target  # noqa: E402
from bayes_scaling.report_sections import _summary_cells  # noqa: E402
from bayes_scaling.reporting import SECTION_IDS, Report, build_report  # noqa: E402

MALICIOUS = "<script>alert(1)</script>"


class Collector(HTMLParser):
    """Collect start tags (with attributes) and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self) -> list[str]:
        return [a["id"] for t, a in self.tags if t == "section" and "id" in a]

    def joined_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(html: str) -> Collector:
    parser = Collector()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def post():
    return fake_posterior(n_samples=400)


@pytest.fixture(scope="module")
def decisions(post):
    c = ids(post)[("density", "radonpy")]
    return [
        sample_size_for_target(post, c, [0.025, 0.015]),
        next_batch_value(post, c, 1000),
        compare_groups(post),
    ]


DIAG = pd.DataFrame(
    {"r_hat": [1.001, 1.003], "ess_bulk": [950.0, 1200.0]},
    index=pd.Index(["alpha", "C"], name="variable"),
)


@pytest.fixture(scope="module")
def report(post, decisions) -> Report:
    return build_report(
        post,
        fake_curve_table(),
        decisions=decisions,
        diagnostics=DIAG,
        provenance={"source": "RadonPy + PoLyInfo subset", "seeds": [0, 1]},
        title="Density study",
    )


def test_html_parses_and_has_every_section(report, decisions):
    html = report.to_html()
    doc = parse(html)
    assert doc.ids() == list(SECTION_IDS)
    text = doc.joined_text()
    for d in decisions:
        assert " ".join(d.sentence.split()) in text
    assert "Density study" in text and "90 % equal-tailed" in text
    assert "RadonPy + PoLyInfo subset" in text and "no convergence problem flagged" in text
    imgs = [a for t, a in doc.tags if t == "img"]
    # learning curves, forest, n-required histogram, comparison heat map
    assert len(imgs) == 4
    for a in imgs:
        src = a["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(t in ("script", "link") for t, _ in doc.tags)  # self-contained


def test_markdown_mirrors_html(report, decisions):
    md = report.to_markdown()
    for sid in SECTION_IDS:
        assert f'<a id="{sid}"></a>' in md
    assert md.startswith("# Density study")
    assert md.count("![") == 4 and "data:image/png;base64," in md
    assert "density\\|radonpy" in md  # table pipes escaped
    assert "max r\\_hat = 1.003" in md


def test_malicious_names_are_escaped():
    specs = [
        dict(s, property=MALICIOUS if s["property"] == "density" else s["property"])
        for s in DEFAULT_SPECS
    ]
    post = fake_posterior(specs, n_samples=200)
    decisions = [compare_groups(post), sample_size_for_target(post, post.curve_ids[0], 0.025)]
    report = build_report(
        post, decisions=decisions, figures=False, provenance={MALICIOUS: MALICIOUS}, title=MALICIOUS
    )
    html = report.to_html()
    assert MALICIOUS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    doc = parse(html)
    assert not any(t == "script" for t, _ in doc.tags)
    assert MALICIOUS in doc.joined_text()  # shown as text, not run
    md = report.to_markdown()
    assert MALICIOUS not in md and "&lt;script&gt;" in md


def test_report_without_optional_parts(post):
    report = build_report(post, figures=False)
    doc = parse(report.to_html())
    assert doc.ids() == list(SECTION_IDS)
    text = doc.joined_text()
    assert "No convergence diagnostics were provided." in text
    assert "No planning decisions were included." in text
    assert "No comparison decisions were included." in text
    assert not any(t == "img" for t, _ in doc.tags)


def test_diagnostics_problems_are_flagged(post):
    bad = pd.DataFrame({"r_hat": [1.2], "ess_bulk": [35.0]})
    report = build_report(post, diagnostics=bad, figures=False)
    assert "convergence problem flagged" in report.section("diagnostics").paragraphs[0]
    alerts = report.section("summary").alerts
    assert any(a.problem and "convergence problem flagged" in a.text for a in alerts)


def test_provenance_records_data_and_settings(post):
    table = fake_curve_table()
    report = build_report(post, table, provenance={"git": "abc123"}, figures=False)
    rows = dict(report.section("provenance").blocks[0].tables[0].rows)
    assert rows["git"] == "abc123"
    assert rows["curve table rows"] == str(len(table))
    assert len(rows["curve table hash"]) == 16
    assert rows["posterior draws"] == "400"


def test_write_picks_format_by_suffix_atomically(tmp_path, post):
    report = build_report(post, figures=False)
    html_path = report.write(tmp_path / "out" / "report.html")
    md_path = report.write(tmp_path / "out" / "report.md")
    assert html_path.read_text("utf-8") == report.to_html()
    assert md_path.read_text("utf-8") == report.to_markdown()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.md"]
    with pytest.raises(BayesScalingError, match="unsupported suffix"):
        report.write(tmp_path / "report.pdf")


def test_build_report_validation(post):
    with pytest.raises(BayesScalingError, match="Decision objects"):
        build_report(post, decisions=["With more data it is better."])  # type: ignore[list-item]
    with pytest.raises(BayesScalingError, match="CurvePosterior"):
        build_report(DIAG)  # type: ignore[arg-type]
    with pytest.raises(BayesScalingError, match="diagnostics"):
        build_report(post, diagnostics={"r_hat": 1.0})  # type: ignore[arg-type]
    with pytest.raises(BayesScalingError, match="No section"):
        build_report(post, figures=False).section("nonexistent")
    with pytest.raises(BayesScalingError, match=".ok and .message"):
        build_report(post, figures=False, convergence="converged")


# ====================================================================== the one-screen summary
from bayes_scaling.curves import curve_ids  # noqa: E402
from bayes_scaling.exceptions import UnknownNameError  # noqa: E402
from bayes_scaling.models.posterior import CurvePosterior  # noqa: E402
from bayes_scaling.pipeline import plan_all  # noqa: E402
from bayes_scaling.summary import (  # noqa: E402
    PLATEAU_GAIN,
    decision_curves,
    parse_targets,
    readable_names,
    recommend,
    resolve_targets,
    summarise_tasks,
    task_name,
)
from bayes_scaling.tradeoffs import CheapestPlanDecision  # noqa: E402

BASE = dict(
    p_reached_now=0.0,
    p_gap_below_target=0.99,
    p_small_gain=0.0,
    n_needed=20_000.0,
    p_at_n_needed=0.92,
    prob=0.9,
)


@pytest.mark.parametrize(
    ("change", "action", "p"),
    [
        ({}, "simulate", 0.92),
        ({"p_reached_now": 0.95}, "target_met", 0.95),
        ({"p_gap_below_target": 0.05, "n_needed": float("inf")}, "plateau", 0.95),
        ({"p_small_gain": 0.97}, "plateau", 0.97),
        ({"experiments_cheaper": True, "p_experiments": 0.81}, "experiments", 0.81),
        ({"p_gap_below_target": 0.6, "n_needed": float("inf")}, "undecided", 0.6),
        # order: a met target beats every other case; experiments beat the plateau
        ({"p_reached_now": 0.95, "experiments_cheaper": True, "p_experiments": 0.8},
         "target_met", 0.95),
        ({"p_gap_below_target": 0.0, "experiments_cheaper": True, "p_experiments": 0.85},
         "experiments", 0.85),
        # a measured error that rose with n does not back the law's fall to the target
        ({"measured_rose": True}, "undecided", 0.99),
        ({"measured_rose": True, "p_small_gain": 0.97}, "plateau", 0.97),
    ],
)
def test_recommendation_rule(change, action, p):
    rec = recommend(**{**BASE, **change})
    assert rec.action == action
    assert rec.probability == pytest.approx(p)
    assert rec.words and rec.reason


def test_a_rise_says_why_the_law_is_not_followed():
    rec = recommend(**{**BASE, "measured_rose": True})
    assert rec.reason == (
        "the law says n ≈ 20,000, but the measured error rose with n (negative transfer)"
    )


def test_a_far_extrapolation_says_so():
    near = recommend(**{**BASE, "n_needed": 5_000.0, "n_now": 1_000.0})
    far = recommend(**{**BASE, "n_needed": 2.4e11, "n_now": 1_080.0})
    assert near.action == far.action == "simulate"
    assert "extrapolation" not in near.reason
    assert "(220,000,000× today's n: an extrapolation far beyond the measured curve)" in far.reason


def test_the_n_needed_is_rounded_up():
    """A sample size needed rounds up (as in the sample-size sentence), never down."""
    rec = recommend(**{**BASE, "n_needed": 362_000.0})
    assert "n ≈ 370,000 reaches it" in rec.reason


def test_recommendation_rule_thresholds_use_q():
    # P(C >= target) just below q is not a plateau; at q it is
    just_below = recommend(**{**BASE, "p_gap_below_target": 0.11, "n_needed": float("inf")})
    assert just_below.action == "undecided"
    at_q = recommend(**{**BASE, "p_gap_below_target": 0.1, "n_needed": float("inf")})
    assert at_q.action == "plateau"
    with pytest.raises(BayesScalingError):
        recommend(**{**BASE, "prob": 1.5})


def test_parse_targets():
    assert parse_targets(["density=0.05", " tg = 30 "]) == {"density": 0.05, "tg": 30.0}
    assert parse_targets(None) == {}
    for bad, msg in [
        ("density", "PROPERTY=VALUE"),
        ("=0.4", "PROPERTY=VALUE"),
        ("density=abc", "not a number"),
        ("density=0", "> 0"),
        ("density=-1", "> 0"),
        ("density=inf", "> 0"),
    ]:
        with pytest.raises(BayesScalingError, match=msg):
            parse_targets([bad])
    with pytest.raises(BayesScalingError, match="twice"):
        parse_targets(["tg=1", "tg=2"])


def test_resolve_targets_default_rule_and_user_values(post):
    chosen = resolve_targets(post, {"tg": 25.0})
    meta = post.curves
    transfer = [c for c in post.curve_ids if meta.loc[c, "kind"] == "transfer"]
    assert sorted(chosen) == sorted(transfer)
    for c in transfer:
        now = float(np.median(post.expected_error(float(meta.loc[c, "n_max"]), c, "original")))
        if meta.loc[c, "property"] == "tg":
            assert chosen[c].value == 25.0 and chosen[c].user
            assert chosen[c].rule == "set with --target"
        else:
            assert chosen[c].value == pytest.approx(0.9 * now)
            assert chosen[c].rule.replace("\u00a0", " ") == "default: today − 10 %"
            assert not chosen[c].user
    with pytest.raises(UnknownNameError, match="unknown property"):
        resolve_targets(post, {"viscosity": 1.0})
    with pytest.raises(BayesScalingError, match="> 0"):
        resolve_targets(post, {"tg": -3.0})


def test_readable_names():
    assert task_name({"property": "bandgap", "database": "materials_project",
                      "kind": "transfer"}) == "Band gap · Materials Project → experiment"
    assert task_name({"property": "heat_capacity", "database": "my_md", "kind": "transfer",
                      "strategy": "feature"}) == "Heat capacity · my md → experiment (feature)"
    assert "experiments only" in task_name({"property": "tg", "kind": "scratch"})


def _closed_form(spec, target):
    """n reaching ``target`` (original units) at the spec's truth (inf if C is above it)."""
    t = target / spec["target_scale"]
    return np.inf if t <= spec["C"] else (spec["D"] / (t - spec["C"])) ** (1 / spec["alpha"])


def test_summary_rows_follow_the_closed_forms(post):
    """Recommendations against the truth the fake posterior scatters around."""
    targets = resolve_targets(post, {"density": 0.015})  # below both density gaps
    tasks = summarise_tasks(post, plan_all(post, targets=targets), targets=targets)
    specs = {(s["property"], s["database"]): s for s in DEFAULT_SPECS if s["kind"] == "transfer"}
    assert len(tasks) == len(specs)
    for t in tasks:
        meta = post.curves.loc[t.curve]
        spec = specs[(meta["property"], meta["database"])]
        n_true = _closed_form(spec, t.target.value)
        e_now = spec["target_scale"] * (spec["D"] * spec["n_max"] ** -spec["alpha"] + spec["C"])
        assert t.error_now.median == pytest.approx(e_now, rel=0.1)
        assert t.gap.lower < spec["C"] * spec["target_scale"] < t.gap.upper
        if np.isinf(n_true):  # density: the target is under the transfer gap
            assert t.recommendation.action == "plateau"
            assert t.recommendation.probability > 0.9 and np.isinf(t.n_needed)
        else:  # tg: default target, reachable by more simulations
            reducible = spec["D"] * spec["n_max"] ** -spec["alpha"]
            gain = spec["target_scale"] * reducible * (1 - 2 ** -spec["alpha"])
            assert gain / e_now > PLATEAU_GAIN
            assert t.recommendation.action == "simulate"
            # the q-quantile of n sits above the truth the draws scatter around
            assert n_true * 0.8 < t.n_needed < n_true * 10
            assert t.more_needed == t.n_needed - spec["n_max"]
            assert t.doubling_relative == pytest.approx(gain / e_now, rel=0.2)


def test_experiments_lever_from_the_surface_plan(post):
    c = ids(post)[("density", "radonpy")]
    targets = resolve_targets(post)
    plan = CheapestPlanDecision(
        pd.DataFrame(
            {
                "task": "density|radonpy|finetune",
                "plan": ["cheapest", "simulations only", "experiments only"],
                "dn": [0.0, 1e6, 0.0],
                "dm": [40.0, 0.0, 40.0],
                "cost": [4000.0, 1e6, 4000.0],
                "prob": [0.83, 0.8, 0.83],
                "feasible": [True, True, True],
            }
        ),
        "sentence",
        frontier=pd.DataFrame(),
    )
    tasks = {t.curve: t for t in summarise_tasks(post, [*plan_all(post, targets=targets), plan])}
    assert tasks[c].recommendation.action == "experiments"
    assert tasks[c].recommendation.probability == pytest.approx(0.83)
    assert "40 more experiments" in tasks[c].experiments_plan
    others = [t for k, t in tasks.items() if k != c]
    assert all(t.recommendation.action != "experiments" for t in others)


class _Collapsed(HTMLParser):
    """Text outside ``<details>`` (what a reader sees without opening anything)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.visible: list[str] = []
        self.headings: list[str] = []
        self._in_h3 = False
        self.rows = 0

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "details"
        self._in_h3 = tag == "h3"
        if tag == "tr" and ("class", "task-row") in attrs:
            self.rows += 1

    def handle_endtag(self, tag):
        self.depth -= tag == "details"
        self._in_h3 = False if tag == "h3" else self._in_h3

    def handle_data(self, data):
        if self.depth == 0:
            self.visible.append(data)
        if self._in_h3:
            self.headings.append(data.strip())


@pytest.fixture(scope="module")
def planned_report(post):
    targets = resolve_targets(post, {"tg": 25.0})
    return build_report(
        post,
        fake_curve_table(),
        decisions=plan_all(post, targets=targets),
        targets=targets,
        figures=False,
        title="Summary study",
    )


def test_summary_table_one_row_per_task_with_targets_and_rules(planned_report, post):
    doc = _Collapsed()
    doc.feed(planned_report.to_html())
    n_transfer = int((post.curves["kind"] == "transfer").sum())
    assert doc.rows == n_transfer == len(planned_report.tasks)
    table = planned_report.section("summary").summary
    assert len(table.rows) == n_transfer and len(table.columns) == 10
    for row, task in zip(table.rows, planned_report.tasks, strict=True):
        assert row[0].startswith(task.name)
        assert task.target.rule in row[4]  # every target printed with its rule
        assert task.recommendation.words[1:] in row[-1]
        assert f"P {format_probability(task.recommendation.probability)}" in row[-1]
        for cell in row:  # sensible significant digits: no long decimals
            assert not re.search(r"\d\.\d{5,}", cell), cell


def test_summary_cell_says_when_the_n_needed_is_far_beyond_the_curve(planned_report):
    task = next(t for t in planned_report.tasks if t.target is not None)
    near = dataclasses.replace(task, n_needed=2.0 * task.n_now, more_needed=task.n_now)
    far = dataclasses.replace(
        task, n_needed=(FAR_BEYOND + 50.0) * task.n_now, more_needed=(FAR_BEYOND + 49) * task.n_now
    )
    cell = _summary_cells(far)[6]
    assert f"{format_number(FAR_BEYOND + 50.0)}× today's n: far beyond the measured curve" in cell
    assert "far beyond" not in _summary_cells(near)[6]


def test_curve_ids_only_in_details_and_tasks_headed_by_name(planned_report, post):
    doc = _Collapsed()
    html = planned_report.to_html()
    doc.feed(html)
    visible = " ".join(doc.visible)
    for c in post.curve_ids:
        assert c not in visible
        assert c in html  # in the appendix, collapsed
    for t in planned_report.tasks:
        assert t.name in doc.headings
    assert "Sample size to a target" not in doc.headings


def test_markdown_twin_has_the_same_structure(planned_report):
    md = planned_report.to_markdown()
    html = planned_report.to_html()
    table = planned_report.section("summary").summary
    header = "| " + " | ".join(escape_markdown(c) for c in table.columns) + " |"
    assert header in md
    lines = md.splitlines()
    start = lines.index(header)
    body = [ln for ln in lines[start + 2 :] if ln.startswith("| ")]
    assert len(body) >= len(table.rows)
    for row, line in zip(table.rows, body, strict=False):
        assert escape_markdown(row[0].split("\n")[0]) in line
    for t in planned_report.tasks:
        assert f"### {escape_markdown(t.name)}" in md
    assert md.count("<details>") == html.count("<details>") > 0
    assert md.count("</details>") == md.count("<details>")
    order = [md.index(f'<a id="{sid}"></a>') for sid in SECTION_IDS]
    assert order == sorted(order)


def test_non_convergence_is_loud_and_blocks_plain_recommendations(post):
    class Report:
        ok = False
        message = "Sampler did NOT converge: 7 divergences."

    targets = resolve_targets(post)
    rep = build_report(
        post, decisions=plan_all(post, targets=targets), targets=targets, figures=False,
        convergence=Report(),
    )  # fmt: skip
    summary = rep.section("summary")
    assert summary.alerts[0].problem and "DID NOT CONVERGE" in summary.alerts[0].text
    assert "7 divergences" in summary.alerts[0].text
    assert set(summary.summary.actions) == {"unreliable"}
    assert all(r[-1].startswith("NOT RELIABLE") for r in summary.summary.rows)
    html = rep.to_html()
    assert html.index('class="alert problem"') < html.index('id="summary-table"')
    md = rep.to_markdown()
    assert md.index("DID NOT CONVERGE") < md.index("| Task")

    class Fine:
        ok = True
        message = "Sampler converged: 0 divergences."

    ok = build_report(post, decisions=plan_all(post), figures=False, convergence=Fine())
    assert not any(a.problem for a in ok.section("summary").alerts)
    assert "unreliable" not in ok.section("summary").summary.actions


def _posterior_with_m_levels() -> CurvePosterior:
    """One density task measured at three experimental sizes m, plus tg at the full split."""
    rows = [
        dict(property="density", database="radonpy", kind="transfer", strategy="finetune",
             metric="mae", unit="g/cm³", target_scale=0.1, n_max=5000, m=m, C=c)
        for m, c in ((50, 0.5), (100, 0.4), (200, 0.3))
    ] + [
        dict(property="tg", database="radonpy", kind="transfer", strategy="finetune",
             metric="mae", unit="K", target_scale=60.0, n_max=2000, m=np.nan, C=0.3)
    ]  # fmt: skip
    meta = pd.DataFrame(rows).drop(columns="C")
    meta["m"] = meta["m"].astype("Int64")
    meta.index = pd.Index(curve_ids(meta).tolist(), name="curve")
    rng = np.random.default_rng(3)
    shape = (300, len(rows))
    jitter = np.exp(rng.normal(0, 0.03, size=shape))
    C = np.array([r["C"] for r in rows]) * jitter
    return CurvePosterior.from_arrays(np.full(shape, 2.0) * jitter, 0.4 * jitter, C, meta)


def test_scarce_regime_one_row_per_task_at_the_largest_m():
    post = _posterior_with_m_levels()
    chosen = decision_curves(post)
    assert len(chosen) == 2
    density = [c for c in chosen if post.curves.loc[c, "property"] == "density"]
    assert [int(post.curves.loc[c, "m"]) for c in density] == [200]
    names = readable_names(post)
    assert len(set(names.values())) == len(names)  # unique names across m levels
    assert "at m = 200 experiments" in names[density[0]]
    rep = build_report(post, decisions=plan_all(post), figures=False)
    assert len(rep.section("summary").summary.rows) == 2
    assert "m = 200" in rep.section("summary").summary.rows[0][0]


def test_unconverged_surface_flags_its_answers(post):
    from bayes_scaling.tradeoffs import SurfaceEquivalentDecision

    class Failed:
        ok = False
        message = "Sampler did NOT converge: R-hat 1.03."

    task = "density|radonpy|finetune"
    worth = SurfaceEquivalentDecision(
        pd.DataFrame(
            {"task": [task], "n": [5000.0], "m": [300.0], "m_eq_median": [420.0],
             "m_eq_lower": [350.0], "m_eq_upper": [500.0], "worth_median": [120.0],
             "worth_lower": [50.0], "worth_upper": [200.0], "p_beats_scratch": [0.0]}
        ),
        "sentence",
    )  # fmt: skip
    plan = CheapestPlanDecision(
        pd.DataFrame(
            {"task": task, "plan": ["cheapest", "simulations only", "experiments only"],
             "dn": [0.0, np.inf, 0.0], "dm": [40.0, np.inf, 40.0],
             "cost": [4000.0, np.inf, 4000.0], "prob": [0.83, np.nan, 0.83],
             "feasible": [True, False, True]}
        ),
        "sentence",
        frontier=pd.DataFrame(),
    )  # fmt: skip
    rep = build_report(
        post, decisions=[*plan_all(post), worth, plan], figures=False,
        surface_convergence=Failed(),
    )  # fmt: skip
    c = ids(post)[("density", "radonpy")]
    rows = dict(zip([t.curve for t in rep.tasks], rep.section("summary").summary.rows,
                    strict=True))  # fmt: skip
    assert "≈ 120 experiments" in rows[c][8] and "NOT RELIABLE" in rows[c][8]
    assert rows[c][-1].startswith("NOT RELIABLE")  # its recommendation came from the surface
    other = ids(post)[("density", "pubchem")]
    assert not rows[other][-1].startswith("NOT RELIABLE")  # n-law only: still shown plainly
    assert any(a.problem and "surface" in a.text for a in rep.section("summary").alerts)
