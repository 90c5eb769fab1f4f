"""The worked example examples/snntorch_nir_to_loihi.py executes: snnTorch BPTT -> NIR -> neuroff
import -> compare -> Loihi export and, with the Lava venv, a bit-exact run-lava. The quick form
runs in the default suite; the full one is marked slow."""

import importlib.util
from pathlib import Path

import pytest

from neuroff.export.lava import DEFAULT_VENV, INSTALLED_MARKER

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "snntorch_nir_to_loihi.py"
HAS_LAVA = (DEFAULT_VENV / INSTALLED_MARKER).is_file()


def _run(tmp_path, *extra):
    spec = importlib.util.spec_from_file_location("snntorch_nir_to_loihi", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--out", str(tmp_path / "example"), *extra])


def _check(report):
    assert report["snntorch_export_to_nir"].startswith("fails")  # snnTorch 1.0 + nir 1.0.8; if it ever works, say so in the example
    assert report["snntorch_reimport_mismatches"] == 0 and report["snntorch_output_spikes"] > 0
    assert report["neuroff_vs_snntorch_mismatches"] == 0  # neuroff's import runs the snnTorch net spike for spike
    assert 0.0 <= report["imported_probe_accuracy"] <= 1.0
    assert Path(report["compare_report"]).is_file()
    if HAS_LAVA:
        assert report["lava"]["mismatched_spikes"] == 0 and report["lava"]["reference_spikes"] > 0
    else:
        assert report["lava"].startswith("skipped: the Lava venv")


def test_example_quick(tmp_path):
    _check(_run(tmp_path, "--quick"))


@pytest.mark.slow
def test_example_full(tmp_path):
    report = _run(tmp_path)
    _check(report)
    assert report["imported_probe_accuracy"] > 0.7 and report["snntorch_accuracy"] > 0.7
