"""Seed statistics of the results tables (neuroff.studies.stats)."""

from __future__ import annotations

import pytest

from neuroff.errors import NeuroffError
from neuroff.studies.stats import format_summary, paired_differences, seed_summary, target_met


def test_seed_summary_is_the_t_interval_of_the_mean():
    s = seed_summary([0.80, 0.82, 0.84])
    assert s["mean"] == pytest.approx(0.82) and s["sd"] == pytest.approx(0.02)
    half = 4.302653 * 0.02 / 3**0.5  # t(0.975, 2) = 4.3027
    assert s["ci"] == pytest.approx([0.82 - half, 0.82 + half], abs=1e-6)
    assert seed_summary([0.5])["ci"] is None
    assert format_summary(s) == "82.00 ± 2.00 [77.03, 86.97]"
    with pytest.raises(NeuroffError, match="finite"):
        seed_summary([0.5, float("nan")])


def test_met_only_when_the_interval_clears_the_target_and_the_control_does_not():
    good, control = seed_summary([0.90, 0.91, 0.92]), seed_summary([0.80, 0.81, 0.82])
    assert target_met(good, 0.88, control)
    assert not target_met(good, 0.905)  # the interval reaches below the target
    assert not target_met(good, 0.85, seed_summary([0.89, 0.90, 0.91]))  # the control clears it too
    assert not target_met(seed_summary([0.99]), 0.5)  # one seed has no interval


def test_paired_differences_over_common_seeds_and_a_ceiling_target():
    """The gap per shared seed (seed 3 of one side has no partner and is left out); a ceiling is met
    only when the whole interval lies at or below it: a mean under it is not enough."""
    analog = {0: 0.8818, 1: 0.8845, 2: 0.8853, 3: 0.9}
    spiking = {0: 0.8744, 1: 0.8751, 2: 0.8739}
    gap = paired_differences(analog, spiking)
    assert gap["seeds"] == [0, 1, 2] and gap["n"] == 3
    assert gap["values"] == pytest.approx([0.0074, 0.0094, 0.0114])
    assert gap["mean"] == pytest.approx(0.0094) and gap["ci"][1] > 0.01  # mean within 1 point, interval not
    assert not target_met(gap, 0.01, at_most=True)
    assert target_met({"ci": [0.002, 0.008]}, 0.01, at_most=True)
    with pytest.raises(NeuroffError, match="no seed in common"):
        paired_differences({0: 0.5}, {1: 0.5})
