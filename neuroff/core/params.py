"""Parameter tuples of the core components and the names they accept, as plain data (no torch),
so option declarations and the CLI can read the defaults without loading the numerics.

The equations these parameters enter are written in ``neuroff.core.neurons`` (LIF, traces),
``neuroff.core.goodness`` (heads) and ``neuroff.core.plasticity`` (neo-Hebbian rule)."""

from __future__ import annotations

from typing import NamedTuple

RESETS = ("zero", "subtract")
TRACES = ("count", "leaky", "hard-leaky")
HEADS = ("sigma", "sym")
ENCODERS = ("rate", "latency", "direct")
PRE_TRACES = ("none", "leaky")
# when the on-chip modulator computes M (neuroff.core.loihi_learning): once per presentation from the
# goodness of steps [0, learn_start), or every step from that step's goodness (the float rule's timing)
M_TIMINGS = ("window", "step")


class EncoderParams(NamedTuple):
    """Input encoder: ``kind`` rate (``max_rate``), latency (``latency_mode``, ``normalize``) or
    direct (the intensities themselves every step: graded, not spikes)."""

    kind: str = "rate"
    steps: int = 23
    max_rate: float = 1.0
    latency_mode: str = "linear"
    normalize: bool = False


class LIFParams(NamedTuple):
    """Per-step LIF parameters. ``beta`` is the membrane decay per step, exp(-dt / tau_mem)."""

    beta: float = 0.85
    threshold: float = 1.0
    reset: str = "zero"
    refractory_steps: int = 0


class HeadParams(NamedTuple):
    """P(positive) head: ``kind`` sigma (alpha, theta) or sym (eps)."""

    kind: str = "sym"
    alpha: float = 6.0
    theta: float = 1.0
    eps: float = 0.01


class NeoHebbianParams(NamedTuple):
    lr: float = 0.002  # c
    tau: float = 0.1  # eligibility mixing per learning step
    nu: float = 1.0  # how much of E is added to W per learning step
    learn_start: int = 16  # learning happens on steps t >= learn_start (0-based)
    pre_decay: float = 0.0  # presynaptic trace x̄ <- pre_decay * x̄ + x per step; 0: x̄ = x (no trace)
    homeostasis_rate: float = 0.0  # h of the activity term h (rho - a_j) x̄_i; 0: off
    homeostasis_target: float = 0.1  # rho: the fraction of presentations a neuron should spike in
    homeostasis_tau: float = 0.001  # a_j <- a_j + tau (fired_j - a_j), once per presentation
