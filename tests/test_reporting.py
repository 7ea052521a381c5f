"""Reports: HTML parses, holds every section, escapes user names; Markdown mirrors it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
from html.parser import HTMLParser  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _fake_posterior import DEFAULT_SPECS, fake_curve_table, fake_posterior, ids  # noqa: E402

from bayes_scaling.compare import compare_groups  # noqa: E402
from bayes_scaling.exceptions import BayesScalingError  # noqa: E402
from bayes_scaling.planning import next_batch_value, sample_size_for_target  # noqa: E402
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
    assert any("convergence problem flagged" in s for s in report.section("summary").items)


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
        build_report(post, figures=False).section("appendix")
