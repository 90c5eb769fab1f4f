"""The off-chip FF read-out in numpy, from the sidecar's ``decode`` block.

It mirrors neuroff's torch read-out (``neuroff.core.neurons.trace_step``, ``neuroff.core.goodness``,
``neuroff.layers.fixed_point.decode_rasters``) for a host without torch; neuroff's test suite checks
the two give the same numbers on the same rasters. Per layer, per presentation::

    z[t] = lam z[t-1] + (1 - lam) s[t]      (leaky; count: z + s; hard-leaky: s + (1 - s) lam z)
    P = sigmoid(alpha (||z||^2 - theta))                    (sigma head)
    P = (G+ + eps) / (G+ + G- + 2 eps), G+- = ||z_half||^2  (sym head)
    p = mean of P over steps t >= learn_start
    score(label) = sum of p over the score layers;  prediction = argmax over candidate labels
"""

from __future__ import annotations

from typing import Any

import numpy as np


def trace_step(z: np.ndarray, s: np.ndarray, kind: str, lam: float) -> np.ndarray:
    if kind == "leaky":
        return lam * z + (1.0 - lam) * s
    if kind == "count":
        return z + s
    if kind == "hard-leaky":
        return s + (1.0 - s) * lam * z
    raise ValueError(f"unknown trace {kind!r}")


def probability(z: np.ndarray, head: dict[str, Any]) -> np.ndarray:
    if head["kind"] == "sigma":
        a = head["alpha"] * ((z * z).sum(-1) - head["theta"])
        return 1.0 / (1.0 + np.exp(-a))
    n = z.shape[-1] // 2
    gp, gn = (z[..., :n] ** 2).sum(-1), (z[..., n:] ** 2).sum(-1)
    return (gp + head["eps"]) / (gp + gn + 2 * head["eps"])


def has_readout(decode: dict[str, Any]) -> bool:
    """Whether the net has a goodness head (a label-free family's sidecar has none: head null, or
    before stop 27 a head of kind null)."""
    return bool(decode["head"]) and decode["head"]["kind"] is not None


def p_window(rasters: list[np.ndarray], decode: dict[str, Any]) -> np.ndarray:
    """rasters: per layer [P, T, N] 0/1 -> [P, L] P(positive) averaged over t >= learn_start; zeros
    for a net without a goodness head (``head`` null: a label-free family)."""
    steps = rasters[0].shape[1]
    start = decode["learn_start"]
    out = np.zeros((rasters[0].shape[0], len(rasters)))
    if not has_readout(decode):
        return out
    for i, r in enumerate(rasters):
        z = np.zeros((r.shape[0], r.shape[2]))
        for t in range(steps):
            z = trace_step(z, r[:, t].astype(np.float64), decode["trace"], decode["trace_decay"])
            if t >= start:
                out[:, i] += probability(z, decode["head"])
    return out / (steps - start)


def candidate_scores(rasters: list[np.ndarray], decode: dict[str, Any], n_classes: int) -> np.ndarray:
    """rasters [S*C, T, N] in sample-major, candidate-minor order -> scores [S, C]."""
    p = p_window(rasters, decode)
    layers = decode["score_layers"] if decode.get("score_layers") is not None else list(range(len(rasters)))
    return p[:, layers].sum(-1).reshape(-1, n_classes)
