"""Initial weights, drawn from the run's seeded generator (so the seed fixes them)."""

from __future__ import annotations

import torch

from neuroff.errors import NeuroffError


def uniform_fan_in(shape: tuple[int, ...] | torch.Size, fan_in: int, generator: torch.Generator) -> torch.Tensor:
    """U(-1/sqrt(fan_in), +1/sqrt(fan_in)), PyTorch's default for Linear and Conv2d weights and
    biases, float32. Every analog family initialises its layers with this one draw."""
    bound = 1.0 / fan_in**0.5
    return torch.rand(shape, generator=generator) * 2 * bound - bound


def spiking_weights(n_out: int, n_in: int, kind: str, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Spiking weight init, [n_out, n_in] float64; the scale is relative to 1/sqrt(n_in):
    uniform in +-a, normal with sd a, or positive uniform in [0, a), a = scale / sqrt(n_in)."""
    a = scale / n_in**0.5
    if kind == "uniform":
        return (torch.rand((n_out, n_in), generator=generator, dtype=torch.float64) * 2 - 1) * a
    if kind == "normal":
        return torch.randn((n_out, n_in), generator=generator, dtype=torch.float64) * a
    if kind == "positive":
        return torch.rand((n_out, n_in), generator=generator, dtype=torch.float64) * a
    raise NeuroffError(f"unknown init {kind!r}; use uniform, normal or positive")


def length_normalise(h: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """h / (||h|| + eps) per sample, the norm over all of a sample's features (any shape [B, ...]).
    FF-style nets apply it between layers so a layer cannot be good by passing goodness on."""
    norm = h.flatten(1).norm(dim=1).reshape(-1, *([1] * (h.dim() - 1)))
    return h / (norm + eps)
