"""On-chip learning in Lava (lava-nc 0.10.0, LearningDense + Loihi3FLearningRule) against neuroff's
emulator: 0 differing weights and spikes after every presentation.

Needs the Python 3.10 Lava venv (.venv-lava); skipped with that reason otherwise, like
tests/test_lava.py. The default test is short (a few samples, a small net); the acceptance-size
runs (digits >= 50 samples, Fashion-MNIST 784+label -> 100, two layers) are marked slow.
"""

import pytest

from neuroff.cli import main
from neuroff.export.lava import DEFAULT_VENV
from neuroff.export.lava_learn import run_lava_learn

pytestmark = pytest.mark.skipif(
    not any(DEFAULT_VENV.glob(".installed-lava-*")),
    reason="Lava venv .venv-lava missing: run `make lava-venv` (needs a Python 3.10 interpreter)",
)
SIGMA = ["--head", "sigma", "--theta", "5", "--alpha", "0.5"]


def _train(tmp_path, name, *argv):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--mode", "loihi", *SIGMA, "--epochs", "1", "--quiet", "--out", str(tmp_path / name), *argv])
    assert exc.value.code == 0
    return str(tmp_path / name)


def _check(report, samples):
    assert report["samples"] == samples and len(report["differing_weights"]) == 2 * samples
    assert max(report["differing_weights"]) == 0 and max(report["differing_spikes"]) == 0 and report["differing_m"] == 0
    assert min(report["weights_changed_by_learning"]) > 0 and report["lava_spikes"] > 0  # it learned, it fired


def test_lava_learning_engine_matches_the_emulator_weight_for_weight(tmp_path):
    run = _train(tmp_path, "small", "--layers", "12", "--n-train", "40", "--n-test", "20")
    _check(run_lava_learn(run, None, 3, DEFAULT_VENV), 3)


@pytest.mark.parametrize("m_timing", ["window", "step"])
def test_learning_from_a_fresh_network_two_layers(tmp_path, capsys, m_timing):
    """--learn fresh: the network train --mode loihi starts from (options from --config), both layers
    learning; the modulator's M once per presentation or on every step."""
    import json

    config = tmp_path / "net.json"
    config.write_text(json.dumps({"layers": [12, 8], "theta": 5, "alpha": 0.5, "n_train": 40, "seed": 3, "onchip_vth": 256,
                                  "onchip_m_timing": m_timing}))
    out = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exc:
        main(["run-lava", "--learn", "fresh", "--config", str(config), "--dataset", "digits", "--samples", "2", "--out", str(out)])
    assert exc.value.code == 0
    assert "from a fresh network (seed 3)" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["layers"] == [12, 8]
    _check(report, 2)


@pytest.mark.slow
def test_digits_one_layer_50_samples(tmp_path):
    run = _train(tmp_path, "digits", "--layers", "200", "--n-train", "300", "--n-test", "60")
    _check(run_lava_learn(run, None, 50, DEFAULT_VENV), 50)


@pytest.mark.slow
def test_two_layers_each_learning_from_its_own_goodness(tmp_path):
    run = _train(tmp_path, "two", "--layers", "60,40", "--n-train", "300", "--n-test", "60", "--onchip-vth", "512")
    report = run_lava_learn(run, None, 20, DEFAULT_VENV)
    _check(report, 20)
    m = report["m_sent"]
    assert any(a != b for a, b in m)  # the layers' third factors differ: each has its own modulator


@pytest.mark.slow
def test_fashion_784_plus_label_to_100_20_samples(tmp_path):
    run = _train(tmp_path, "fashion", "--dataset", "fashion-mnist", "--layers", "100", "--max-rate", "0.5", "--theta", "2.5",
                 "--onchip-vth", "4096", "--onchip-m-scale", "48", "--n-train", "200", "--n-test", "50")
    _check(run_lava_learn(run, None, 20, DEFAULT_VENV), 20)
