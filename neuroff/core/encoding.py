"""Spike encoders: intensities in [0, 1] -> spike trains of shape [T, ..., N] (float 0/1).

Rate (Bernoulli): each step, each input fires with probability ``max_rate * x``.

Latency (time to first spike, one spike per input at most), following snnTorch's
``spikegen.latency`` conventions:

    linear:  t(x) = (T - 1) * (1 - x)                  (x = 1 fires first, at t = 0)
    log:     t(x) = tau * ln(x / (x - threshold))      for x > threshold, else no spike

With ``normalize=True`` the spike times are rescaled so the earliest possible spike is at
t = 0 and the latest at t = T - 1. Inputs at or below ``threshold`` never fire.

Direct: no spikes; each step the input is the intensity itself, a constant graded current (what
snnTorch's tutorials do when they feed a static image to the first layer every step, Norse's
``ConstantCurrentLIFEncoder`` before its LIF, a graded spike on Loihi 2). The first layer then sees
the rate code's expected input, max_rate * x with max_rate 1, without its Bernoulli noise; every
layer above still sees spikes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from neuroff.core.params import ENCODERS, EncoderParams
from neuroff.errors import NeuroffError


def rate_encode(
    x: torch.Tensor,
    steps: int,
    max_rate: float = 1.0,
    generator: torch.Generator | None = None,
    noise_shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Bernoulli rate code; returns [steps, *x.shape] float spikes.

    ``noise_shape`` (broadcastable to ``x.shape``) shares uniform draws across dimensions of
    size 1: common random numbers, e.g. the same pixel spikes for every candidate label."""
    check_rate_code(steps, max_rate)
    u = torch.rand((steps, *(noise_shape or x.shape)), generator=generator, dtype=torch.float32)
    return rate_spikes(u, x, max_rate)


def intensities(x: torch.Tensor) -> torch.Tensor:
    """What every encoder reads: x clamped to [0, 1] (a firing probability, a spike time's
    earliness, or the direct input's current)."""
    return x.clamp(0.0, 1.0)


def check_rate_code(steps: int, max_rate: float) -> None:
    if steps < 1:
        raise NeuroffError(f"steps={steps} must be >= 1")
    if not 0.0 < max_rate <= 1.0:
        raise NeuroffError(f"max_rate={max_rate} must lie in (0, 1]")


def rate_spikes(u: torch.Tensor, x: torch.Tensor, max_rate: float) -> torch.Tensor:
    """The Bernoulli rate code's spikes for uniform draws ``u`` (broadcast against ``x``)."""
    return (u < (intensities(x) * max_rate).to(torch.float32)).to(torch.float32)


def latency_times(
    x: torch.Tensor,
    steps: int,
    mode: str = "linear",
    tau: float = 5.0,
    threshold: float = 0.01,
    normalize: bool = False,
) -> torch.Tensor:
    """Integer first-spike step per input; ``steps`` (one past the end) means no spike."""
    x = intensities(x).to(torch.float32)
    fires = x > threshold
    if mode == "linear":
        t = (steps - 1) * (1.0 - x)
        if normalize:
            span = 1.0 - threshold
            t = (steps - 1) * (1.0 - (x - threshold) / span)
    elif mode == "log":
        safe = torch.where(fires, x, torch.ones_like(x))
        t = tau * torch.log(safe / (safe - threshold).clamp_min(1e-12))
        if normalize:
            # the latest spike comes from the smallest firing input; the earliest from x = 1
            t_first = tau * math.log(1.0 / (1.0 - threshold))
            t_last = tau * math.log((threshold + 1e-3) / 1e-3)
            t = (t - t_first) / (t_last - t_first) * (steps - 1)
    else:
        raise NeuroffError(f"unknown latency mode {mode!r}; use 'linear' or 'log'")
    t = t.round().clamp(0, steps - 1)
    return torch.where(fires, t, torch.full_like(t, float(steps))).to(torch.int64)


def latency_encode(
    x: torch.Tensor,
    steps: int,
    mode: str = "linear",
    tau: float = 5.0,
    threshold: float = 0.01,
    normalize: bool = False,
) -> torch.Tensor:
    """Time-to-first-spike code; returns [steps, *x.shape] float spikes, one spike at most."""
    if steps < 1:
        raise NeuroffError(f"steps={steps} must be >= 1")
    t = latency_times(x, steps, mode, tau, threshold, normalize)
    grid = torch.arange(steps).view(steps, *([1] * x.dim()))
    return (grid == t.unsqueeze(0)).to(torch.float32)


def direct_encode(x: torch.Tensor, steps: int) -> torch.Tensor:
    """The direct (graded) input: [steps, *x.shape], the clamped intensities at every step."""
    if steps < 1:
        raise NeuroffError(f"steps={steps} must be >= 1")
    return intensities(x).to(torch.float32).unsqueeze(0).expand(steps, *x.shape)


def encode(
    x: torch.Tensor,
    params: EncoderParams,
    generator: torch.Generator | None = None,
    noise_shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """The encoder ``params`` names, on intensities x; the configuration-facing entry point
    (``rate_encode`` and ``latency_encode`` are the encoders themselves)."""
    if params.kind == "rate":
        return rate_encode(x, params.steps, params.max_rate, generator, noise_shape)
    if params.kind == "latency":
        return latency_encode(x, params.steps, params.latency_mode, normalize=params.normalize)
    if params.kind == "direct":
        return direct_encode(x, params.steps)
    raise NeuroffError(f"unknown encoder {params.kind!r}; use one of {', '.join(ENCODERS)}")


def varying_features(x_all: torch.Tensor) -> torch.Tensor:
    """Indices of the features of x_all [S, C, D] that differ between candidates."""
    return (x_all != x_all[:, :1]).any(0).any(0).nonzero().squeeze(1)


class CandidateSpikes(NamedTuple):
    """The spikes of C candidate presentations of S samples that spike alike except on the
    features ``varying`` (common random numbers; the label features), without the C copies of
    the shared spikes: what the [T, S, C, D] raster holds, in C times less memory."""

    first: torch.Tensor  # [T, S, D] the first candidate's spikes
    label: torch.Tensor  # [T, S, C, V] every candidate's spikes on the varying features
    varying: torch.Tensor  # [V] indices of those features

    @classmethod
    def from_raster(cls, spikes: torch.Tensor, varying: torch.Tensor) -> CandidateSpikes:
        """From a full raster [T, S, C, D] whose candidates spike alike outside ``varying``."""
        return cls(spikes[:, :, 0], spikes[..., varying], varying)


def encode_candidates(
    x_all: torch.Tensor, varying: torch.Tensor, params: EncoderParams, generator: torch.Generator | None = None
) -> CandidateSpikes:
    """Spikes of C candidate inputs per sample, x_all [S, C, D], that differ only on the features
    ``varying`` [V], with common random numbers across candidates.

    The same spikes as ``encode(x_all, params, generator, noise_shape=(S, 1, D))`` restricted to what differs
    (both encoders act feature by feature, and the rate code draws the same uniforms in the same
    order), without building the [T, S, C, D] raster: C times less encoding work at inference."""
    first, cand = x_all[:, 0], x_all[:, :, varying]
    if params.kind == "rate":
        check_rate_code(params.steps, params.max_rate)
        u = torch.rand((params.steps, *first.shape), generator=generator, dtype=torch.float32)  # [T, S, D]
        label = rate_spikes(u[..., varying].unsqueeze(2), cand, params.max_rate)
        return CandidateSpikes(rate_spikes(u, first, params.max_rate), label, varying)
    return CandidateSpikes(encode(first, params, generator), encode(cand, params, generator), varying)
