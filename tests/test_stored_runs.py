"""Reading the core-learner bench's stored runs: seeds, final read-outs, summaries, screens, controls."""

from __future__ import annotations

import pytest

from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.studies.controls import BackpropSettings
from neuroff.studies.stored_runs import (
    backprop_key, controls_summary, final_test, final_validation, gap, result_key, seeds_of, summarize, versus,
)


def entry(validation: list[float], test: float, readout: dict | None = None, seed: int = 0) -> dict:
    config = {"mode": "analog", "layers": [400], "validation": 10000, "n_train": None, "seed": seed}
    return {"config": config, "command": "neuroff train ...", "validation_accuracy": validation, "test_accuracy": test,
            **({"eval_repeats_readout": readout} if readout else {})}


STORED = {
    "a": entry([0.80, 0.85], 0.84),
    "a (seed 1)": entry([0.81, 0.87], 0.86, seed=1),
    "a-longer (seed 1)": entry([0.9], 0.9, seed=1),  # another run whose name starts with "a"
    "b": entry([0.82, 0.86], 0.83, {"repeats": 5, "validation_accuracy": 0.88, "test_accuracy": 0.85}),
    "b (seed 1)": entry([0.80, 0.84], 0.82, {"repeats": 10, "validation_accuracy": 0.86, "test_accuracy": 0.84}, seed=1),
}


def test_seeds_are_found_by_their_keys_only():
    assert list(seeds_of(STORED, "a")) == [0, 1]
    assert result_key("a", 0) == "a" and result_key("a", 3) == "a (seed 3)"
    with pytest.raises(NeuroffError, match="no stored run named 'c'"):
        seeds_of(STORED, "c")


def test_final_read_outs_prefer_the_one_chosen_on_validation():
    assert final_test(STORED["a"]) == 0.84 and final_validation(STORED["a"]) == 0.85
    assert final_test(STORED["b"]) == 0.85 and final_validation(STORED["b"]) == 0.88


def test_summary_gap_and_screen_are_paired_over_seeds():
    s = summarize(STORED, "a")
    assert s["validation"]["mean"] == pytest.approx(0.86) and s["test"]["mean"] == pytest.approx(0.85)
    assert s["validation_curve_mean"] == pytest.approx([0.805, 0.86])
    g = gap(STORED, "a:b")  # a's test minus b's chosen read-out's test, per seed: -0.01, +0.02
    assert g["gap"]["values"] == pytest.approx([-0.01, 0.02]) and g["gap"]["seeds"] == [0, 1]
    v = versus(STORED, "a:b")  # b − a on validation, last epoch: +0.01, -0.03; chosen read-outs: 0.88-0.85, 0.86-0.87
    assert v["last_epoch"]["values"] == pytest.approx([0.01, -0.03])
    with pytest.raises(NeuroffError, match="joined by ':'"):
        gap(STORED, "a")


def test_controls_summary_pairs_each_seed_with_its_controls():
    settings = BackpropSettings()
    config = FFConfig.from_stored(STORED["a"]["config"])
    assert backprop_key(config, settings) == "backprop-400-val10000"
    assert backprop_key(config, BackpropSettings(lr=3e-4)) == "backprop-400-val10000-lr0.0003"
    untrained = {k: {"goodness": {"validation": 0.1, "test": 0.1}, "linear_readout": {"validation": 0.8, "test": 0.79}}
                 for k in ("a", "a (seed 1)")}
    backprop = {"backprop-400-val10000": {"validation": 0.9, "test": 0.85, "best_epoch": 3},
                "backprop-400-val10000 (seed 1)": {"validation": 0.9, "test": 0.86, "best_epoch": 4}}
    out = controls_summary(STORED, {"untrained": untrained, "backprop": backprop}, "a", settings)
    assert out["seeds"] == [0, 1] and out["backprop_best_epochs"] == [3, 4]
    assert out["ff_minus_backprop_test"]["values"] == pytest.approx([-0.01, 0.0])
    assert out["ff_minus_untrained_linear_test"]["mean"] == pytest.approx(0.06)
    del backprop["backprop-400-val10000 (seed 1)"]["test"]  # a --no-test control is not a test-set control
    assert controls_summary(STORED, {"untrained": untrained, "backprop": backprop}, "a", settings)["seeds"] == [0]
    with pytest.raises(NeuroffError, match="no seed of 'a' has both controls"):
        controls_summary(STORED, {"untrained": {}, "backprop": backprop}, "a", settings)
