"""The example notebooks: each runs top to bottom, and each .ipynb matches its .py source.

The jupytext percent scripts ``notebooks/*.py`` are the source of truth; the paired
``.ipynb`` files are generated from them (``.venv/bin/jupytext --to ipynb``). The execution
test converts the *script*, so it always runs the current source, in fast mode
(``BAYES_SCALING_FAST=1``: short chains) with a per-cell timeout. The notebooks share one fit
of the real curves through a cache folder, here a fresh temporary one per test session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
SCRIPTS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
#: Seconds one cell may run (the slowest cells fit a model in fast mode: ~30-90 s on 2 cores).
CELL_TIMEOUT = 600


def _code_cells(nb) -> list[str]:
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert len(SCRIPTS) >= 4, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_ipynb_in_sync_with_script(script):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run jupytext --to ipynb {script.name}"
    paired = nbformat.read(ipynb, as_version=4)
    source = jupytext.read(script)
    assert _code_cells(paired) == _code_cells(source), (
        f"{ipynb.name} is out of sync with {script.name}: run "
        f"`.venv/bin/jupytext --to ipynb notebooks/{script.name}`"
    )
    markdown = [c.source.strip() for c in source.cells if c.cell_type == "markdown"]
    assert markdown and markdown[0].startswith("# "), "first cell must be the title/question"
    assert "**Question.**" in markdown[0], "the first markdown cell must state the question"


def test_no_orphan_ipynb():
    scripts = {p.stem for p in SCRIPTS}
    orphans = [p.name for p in NOTEBOOK_DIR.glob("*.ipynb") if p.stem not in scripts]
    assert not orphans, f"notebooks without a .py source: {orphans}"


@pytest.fixture(scope="session")
def notebook_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("notebook_cache")


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs(script, notebook_cache, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("BAYES_SCALING_FAST", "1")
    monkeypatch.setenv("BAYES_SCALING_NOTEBOOK_CACHE", str(notebook_cache))
    # scripts/test.sh exports MPLBACKEND=Agg; the kernel needs the inline backend to
    # capture figures (and never opens a window).
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    assert os.environ["BAYES_SCALING_FAST"] == "1"
    nb = jupytext.read(script)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert images, f"{script.name} drew no figure"
