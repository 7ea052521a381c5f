"""The report as a person sees it: rendered in headless Chromium at 1280 px.

A copy of the report gets a small inline probe script that, once the page has loaded,
writes its measurements as JSON into ``<pre id="probe">``; Chromium's ``--dump-dom`` hands
the DOM back. The probe measures the page twice: as it opens and with every ``<details>``
expanded. Built from a fake posterior (no sampling), so the test takes seconds.

Skips, saying why, where Chromium is not installed (Debian package ``chromium``; CI installs
it in ``.ci/run``).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from html import unescape  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from _fake_posterior import DEFAULT_SPECS, fake_curve_table, fake_posterior  # noqa: E402

from bayes_scaling.pipeline import plan_all  # noqa: E402
from bayes_scaling.reporting import SECTION_IDS, build_report  # noqa: E402
from bayes_scaling.summary import resolve_targets  # noqa: E402

WIDTH = 1280


def chromium_binary() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


CHROMIUM = chromium_binary()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install -y chromium); "
    "the browser check of the report needs it",
)

#: Writes the measurements into the page; runs once the page (and its images) loaded.
PROBE = """
<pre id="probe"></pre>
<script>
function measure() {
  const doc = document.documentElement;
  const wrap = document.querySelector('#summary .table-wrap');
  return {
    scrollWidth: doc.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    innerWidth: window.innerWidth,
    summaryFits: wrap ? wrap.scrollWidth <= wrap.clientWidth + 1 : null,
  };
}
window.addEventListener('load', () => {
  const closed = measure();
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const opened = measure();
  const images = Array.from(document.images).map(i => ({
    alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth,
    width: i.getBoundingClientRect().width }));
  const sections = Array.from(document.querySelectorAll('main > section')).map(s => {
    const h = s.querySelector('h2');
    const body = s.innerText.replace(h ? h.innerText : '', '').trim();
    return { id: s.id, title: h ? h.innerText : '', contentChars: body.length,
             children: s.children.length };
  });
  const rows = document.querySelectorAll('#summary table.summary tbody tr').length;
  const top = sel => (document.querySelector(sel) || {offsetTop: null}).offsetTop;
  const alertTop = top('#summary .alert.problem');
  const tableTop = top('#summary table.summary');
  document.getElementById('probe').textContent = JSON.stringify({
    closed, opened, images, sections, rows, alertTop, tableTop });
});
</script>
"""


def render(html: str, tmp_path: Path, *, width: int = WIDTH) -> dict:
    """Open ``html`` (with the probe) in headless Chromium and return the measurements."""
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={width},900",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match and match.group(1).strip(), (
        f"the probe wrote nothing (exit {done.returncode}); stderr:\n{done.stderr[-2000:]}"
    )
    return json.loads(unescape(match.group(1)))


@pytest.fixture(scope="module")
def report():
    post = fake_posterior(n_samples=400)
    targets = resolve_targets(post, {"tg": 25.0})
    return build_report(
        post,
        fake_curve_table(),
        decisions=plan_all(post, targets=targets),
        targets=targets,
        title="Browser check",
    )


@pytest.fixture(scope="module")
def probe(report, tmp_path_factory):
    return render(report.to_html(), tmp_path_factory.mktemp("browser"))


def n_tasks() -> int:
    return sum(s["kind"] == "transfer" for s in DEFAULT_SPECS)


def test_every_image_loaded(probe):
    assert probe["images"], "the report has no images"
    for img in probe["images"]:
        assert img["complete"] and img["naturalWidth"] > 0, img["alt"]
        assert 0 < img["width"] <= WIDTH, img


def test_no_horizontal_overflow_at_1280px(probe):
    for state in ("closed", "opened"):  # as opened, and with every <details> expanded
        m = probe[state]
        assert m["scrollWidth"] <= WIDTH, (state, m)
        assert m["bodyScrollWidth"] <= WIDTH, (state, m)
    assert probe["closed"]["summaryFits"], "the summary table needs horizontal scrolling"


def test_every_section_has_content(probe):
    assert [s["id"] for s in probe["sections"]] == list(SECTION_IDS)
    for s in probe["sections"]:
        assert s["title"] and s["contentChars"] > 20, s


def test_summary_has_one_row_per_task(probe, report):
    assert probe["rows"] == n_tasks() == len(report.tasks)


def test_non_convergence_is_stated_above_the_table(tmp_path):
    class Failed:
        ok = False
        message = "Sampler did NOT converge: 12 divergences."

    post = fake_posterior(n_samples=200)
    rep = build_report(post, decisions=plan_all(post), figures=False, convergence=Failed())
    m = render(rep.to_html(), tmp_path)
    assert m["alertTop"] is not None and m["tableTop"] is not None
    assert m["alertTop"] < m["tableTop"]
    assert m["rows"] == n_tasks()


def test_a_wide_table_would_be_caught(tmp_path, report):
    """The probe can fail: a page with a wide unwrapped table overflows."""
    wide = "<table><tr>" + "<td>wide_cell_without_breaks_1234567890</td>" * 60 + "</tr></table>"
    html = report.to_html().replace("<main>", "<main>" + wide, 1)
    m = render(html, tmp_path)
    assert m["closed"]["scrollWidth"] > WIDTH
