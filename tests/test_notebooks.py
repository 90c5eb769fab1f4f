"""Every example notebook executes end to end (nbclient), so none can rot.

The kernel is ``python3``; jupyter_client starts a kernel whose command is ``python`` with this
interpreter (``sys.executable``), i.e. the venv's python and its ipykernel, which the first
cell's output confirms. Notebooks run in a temporary directory: what they write stays there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def execute(name: str, cwd: Path, timeout: int) -> "nbformat.NotebookNode":
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def outputs_text(nb) -> str:
    return "\n".join(
        o.get("text", "") + "".join(str(v) for k, v in o.get("data", {}).items() if k == "text/markdown")
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )


PROGRESS_BAR = ("%|", "it/s]", "sample/s]", "s/it]")  # tqdm bar, rates


def no_progress_bars(nb) -> bool:
    """No tqdm line in any stored or produced output (they fill a notebook with hundreds of lines)."""
    return not any(
        marker in o.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        for marker in PROGRESS_BAR
    )


def test_latent_comparison_digits_notebook(tmp_path):
    nb = execute("latent_comparison.ipynb", tmp_path, timeout=300)
    text = outputs_text(nb)
    assert sys.executable in text  # the kernel ran this venv's python
    assert "neutral label" in text and "## Layer 0" in text and "## Verdict" in text
    # the notebook's own text is computed from this run's numbers: the accuracy-vs-latent gap, the verdict
    assert "goodness test accuracy" in text and "(gap " in text and "Verdict for layer 0" in text
    assert "CKA(analog, spiking counts)" in text
    images = sum(bool(o.get("data", {}).get("image/png")) for cell in nb.cells for o in cell.get("outputs", []))
    assert images >= 6  # five report figures and the notebook's own inline plot (backend untouched)
    assert no_progress_bars(nb)
    report = tmp_path / "runs" / "latent_comparison_digits" / "compare" / "report.json"
    assert report.is_file() and "reference" in report.read_text()


@pytest.mark.parametrize("name", ["latent_comparison.ipynb", "latent_comparison_fashion.ipynb"])
def test_stored_notebooks_hold_no_progress_bars(name):
    assert no_progress_bars(nbformat.read(EXAMPLES / name, as_version=4))


@pytest.mark.slow
def test_latent_comparison_fashion_notebook(tmp_path):
    from neuroff.data.loaders import _fashion_dir

    if not _fashion_dir(None).is_dir():
        pytest.skip("Fashion-MNIST not installed (make data)")
    nb = execute("latent_comparison_fashion.ipynb", tmp_path, timeout=2400)
    text = outputs_text(nb)
    assert "## Layer 0" in text and "## Verdict" in text and "(gap " in text
    assert no_progress_bars(nb)
