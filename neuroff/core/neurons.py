"""Leaky integrate-and-fire dynamics and postsynaptic traces, as pure step functions.

Time is discrete: one call is one step of length ``dt`` (dimensionless here; every time
constant is already folded into a per-step decay factor in [0, 1]).

LIF membrane, one step (the only place this equation is written in torch)::

    v[t] = beta * v[t-1] * (1 - s[t-1]) + I[t]          reset="zero"
    v[t] = beta * v[t-1] + I[t] - theta * s[t-1]        reset="subtract"
    s[t] = H(v[t] - theta)                               (strictly greater than)

The reset is applied at the step after the spike, exactly as snnTorch's ``Leaky`` does with
its default ``reset_delay=True``, so the reported membrane is the pre-reset value and the spike
trains of the two libraries agree step for step. A neuron in its refractory period integrates
nothing and cannot fire.

Postsynaptic trace g(y), one step::

    count:        z[t] = z[t-1] + s[t]
    leaky:        z[t] = lam * z[t-1] + (1 - lam) * s[t]
    hard-leaky:   z[t] = s[t] + (1 - s[t]) * lam * z[t-1]     (jumps to 1 on a spike)
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neuroff.core.params import RESETS, TRACES, LIFParams
from neuroff.errors import NeuroffError


class LIFState(NamedTuple):
    v: torch.Tensor  # membrane potential (pre-reset), same shape as the input current
    spikes: torch.Tensor  # s[t-1], float 0/1
    refractory: torch.Tensor  # steps left in the refractory period (float, integer-valued)


def check_lif_params(p: LIFParams) -> None:
    """Raise a NeuroffError for parameters the dynamics cannot use."""
    if p.reset not in RESETS:
        raise NeuroffError(f"unknown reset {p.reset!r}; use one of {', '.join(RESETS)}")
    if not 0.0 <= p.beta <= 1.0:
        raise NeuroffError(f"LIF decay beta={p.beta} must lie in [0, 1]")
    if p.threshold <= 0:
        raise NeuroffError(f"LIF threshold {p.threshold} must be positive")
    if p.refractory_steps < 0:
        raise NeuroffError(f"refractory_steps={p.refractory_steps} must be >= 0")


def lif_initial_state(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> LIFState:
    zeros = torch.zeros(shape, dtype=dtype)
    return LIFState(zeros, zeros.clone(), zeros.clone())


def lif_step(current: torch.Tensor, state: LIFState, p: LIFParams) -> tuple[torch.Tensor, LIFState]:
    """Advance the LIF membrane by one step; returns (spikes s[t], new state)."""
    s_prev = state.spikes
    if p.reset == "zero":
        v = p.beta * state.v * (1.0 - s_prev) + current
    else:
        v = p.beta * state.v + current - p.threshold * s_prev
    refractory = state.refractory
    if p.refractory_steps > 0:
        active = refractory <= 0
        v = torch.where(active, v, torch.zeros_like(v))
        spikes = ((v > p.threshold) & active).to(v.dtype)
        refractory = torch.where(spikes > 0, torch.full_like(v, float(p.refractory_steps)), refractory - 1)
    else:
        spikes = (v > p.threshold).to(v.dtype)
    return spikes, LIFState(v, spikes, refractory)


def trace_step(z: torch.Tensor, spikes: torch.Tensor, kind: str, lam: float) -> torch.Tensor:
    """Advance the postsynaptic trace g(y) by one step (see the module docstring)."""
    if kind == "leaky":
        return lam * z + (1.0 - lam) * spikes
    if kind == "count":
        return z + spikes
    if kind == "hard-leaky":
        return spikes + (1.0 - spikes) * lam * z
    raise NeuroffError(f"unknown trace {kind!r}; use one of {', '.join(TRACES)}")
