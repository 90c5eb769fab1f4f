"""The same-architecture controls of a core-learner run: untrained net and backprop."""

from __future__ import annotations

import pytest
import torch

from neuroff import engine
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.studies.controls import BackpropSettings, backprop_control, untrained_control

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def config(**overrides) -> FFConfig:
    return FFConfig(**{"dataset": "digits", "mode": "analog", "layers": [64], "epochs": 1, "validation": 300, "seed": 1, **overrides}).validate()


def test_untrained_control_is_the_net_training_starts_from(digits):
    cfg = config()
    out = untrained_control(cfg, digits)
    train_part, val_part = engine.split_dataset(cfg, digits)
    start = engine.create(cfg, train_part)  # what engine.train starts from: same seed, same kept samples
    assert out["goodness"]["validation"] == engine.evaluate(start, val_part.x_test, val_part.y_test)
    assert out["goodness"]["test"] == engine.evaluate(start, train_part.x_test, train_part.y_test)
    # a random 64-unit ReLU projection of the digits is largely linearly separable; its goodness is not a classifier
    assert out["linear_readout"]["validation"] > 0.85 and out["linear_readout"]["test"] > 0.85
    assert out["goodness"]["test"] < out["linear_readout"]["test"] - 0.3


def test_untrained_control_without_test_reads_validation_only(digits):
    with_test, without = untrained_control(config(), digits), untrained_control(config(), digits, read_test=False)
    assert "test" not in without["goodness"] and "test" not in without["linear_readout"]
    # the read-out is fitted on the training latents alone: adding the test samples to the scored set changes nothing
    assert without["linear_readout"]["validation"] == with_test["linear_readout"]["validation"]


def test_spiking_untrained_control_reads_spike_counts(digits):
    out = untrained_control(config(mode="spiking", layers=[40]), digits, read_test=False)
    assert 0.0 <= out["goodness"]["validation"] <= 1.0 and out["linear_readout"]["validation"] > 0.5


def test_backprop_control_keeps_the_best_validation_epoch_and_is_seeded(digits):
    settings = BackpropSettings(epochs=15, batch_size=32, patience=3)
    out = backprop_control(config(), digits, settings)
    curve = out["validation_accuracy"]
    assert 1 <= out["best_epoch"] <= len(curve) <= 15
    assert out["validation"] == max(curve) == curve[out["best_epoch"] - 1]
    assert out["test"] > 0.9  # a 64-unit MLP on the digits
    again = backprop_control(config(), digits, settings)
    assert again["validation_accuracy"] == curve and again["test"] == out["test"]
    other_seed = backprop_control(config(seed=2), digits, settings, read_test=False)
    assert other_seed["validation_accuracy"] != curve and "test" not in other_seed


def test_controls_need_a_validation_split(digits):
    with pytest.raises(NeuroffError, match="--validation"):
        untrained_control(config(validation=0), digits)
    with pytest.raises(NeuroffError, match="--validation"):
        backprop_control(config(validation=0), digits)
