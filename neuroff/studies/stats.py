"""Seed statistics for results tables: mean ± sd over seeds with a 95 % confidence interval of the
mean, and the rule by which a table may say a target is "met".

The interval is Student's t: mean ± t(0.975, n − 1) · sd / √n. With 3-5 seeds a bootstrap interval
(``neuroff.studies.sweep.bootstrap_ci``) is too narrow (it cannot see spread the few seeds did not
show); the t interval is the standard, wider choice for small n and assumes roughly normal seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from neuroff.errors import NeuroffError


def t_quantile(df: int, level: float = 0.95) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t  # deferred: scipy is slow to import

    return float(t.ppf(0.5 + level / 2, df))


def seed_summary(values: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """{n, mean, sd, ci: [lo, hi], values} of per-seed values (the ci is None below two seeds)."""
    vals = [float(v) for v in values]
    if not vals or not all(math.isfinite(v) for v in vals):
        raise NeuroffError(f"seed values {vals} must be finite and at least one; rerun the failed seeds")
    mean = statistics.fmean(vals)
    if len(vals) < 2:
        return {"n": 1, "mean": mean, "sd": 0.0, "ci": None, "values": vals}
    sd = statistics.stdev(vals)
    half = t_quantile(len(vals) - 1, level) * sd / math.sqrt(len(vals))
    return {"n": len(vals), "mean": mean, "sd": sd, "ci": [mean - half, mean + half], "values": vals}


def paired_differences(first: dict[int, float], second: dict[int, float], level: float = 0.95) -> dict[str, Any]:
    """``seed_summary`` of first − second over the seeds both have (a paired comparison: runs of one
    seed share its validation split, hence its training set, so the split's share of the spread
    between seeds cancels), with the seeds used under "seeds"."""
    seeds = sorted(set(first) & set(second))
    if not seeds:
        raise NeuroffError(f"no seed in common ({sorted(first)} vs {sorted(second)}); run the same seeds of both")
    return {**seed_summary([first[s] - second[s] for s in seeds], level), "seeds": seeds}


def target_met(result: dict[str, Any], target: float, control: dict[str, Any] | None = None, at_most: bool = False) -> bool:
    """A target is met only if the result's whole interval clears it and the control's does not
    (a control reaching the target too means the method is not what met it). ``at_most``: a
    ceiling (e.g. a gap of at most 1 point), cleared when the interval lies wholly at or below it."""
    if result.get("ci") is None:
        return False
    if at_most:
        return result["ci"][1] <= target
    if result["ci"][0] < target:
        return False
    return control is None or control.get("ci") is None or control["ci"][0] < target


def format_summary(s: dict[str, Any], scale: float = 100.0, digits: int = 2) -> str:
    """'mean ± sd [lo, hi]' (percent by default)."""
    text = f"{scale * s['mean']:.{digits}f} ± {scale * s['sd']:.{digits}f}"
    if s.get("ci") is not None:
        text += f" [{scale * s['ci'][0]:.{digits}f}, {scale * s['ci'][1]:.{digits}f}]"
    return text
