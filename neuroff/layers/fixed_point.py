"""The spiking FF network in Loihi fixed point: a neuron mode of ``SpikingFFNet`` for evaluation.

A ``FixedPointSpikingNet`` holds quantised layers (integer weights + CUBA registers, see
``neuroff.core.loihi_neurons``) and exposes the models' shared interface (``sizes``, ``weights``,
``candidate_scores``, ``latents``, ``present``), so ``engine.evaluate`` runs it unchanged. Only
the spiking layers are on-chip; the postsynaptic trace and the goodness read-out are computed
off-chip from the output spikes by ``decode_rasters``, the same decode the float network's
``present`` does (tested equal), so float, fixed point and Lava differ only in their spikes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch

from neuroff.core.encoding import CandidateSpikes, encode, encode_candidates, varying_features
from neuroff.core.goodness import HeadParams, layers_score, probability
from neuroff.core.loihi_neurons import (
    CubaParams,
    check_cuba_params,
    check_weights,
    cuba_initial_state,
    cuba_step,
    dense_activation,
)
from neuroff.core.neurons import lif_initial_state, lif_step, trace_step
from neuroff.errors import NeuroffError
from neuroff.layers.lif_stack import Presentation, SpikingFFNet

if TYPE_CHECKING:  # typing only: the run's options live in the engine, above this layer
    from neuroff.engine.options import FFConfig


class FixedLayer(NamedTuple):
    """One on-chip layer: integer weights [N, D] and its CUBA parameters."""

    weight: torch.Tensor  # int64, even integers in [-256, 254]
    params: CubaParams
    scale: float  # integer weight ~= scale * float weight (1.0 when unknown)


def candidate_sums(weight: torch.Tensor, first: torch.Tensor, label: torch.Tensor, varying: torch.Tensor) -> torch.Tensor:
    """First-layer dendritic sums of one step's presentations of S samples times C candidates
    that spike alike except on the input features ``varying`` (common random numbers: the label
    features), given as the first candidate's spikes [S, D] and every candidate's spikes on
    ``varying`` [S, C, V] (one step of ``CandidateSpikes``) -> int64 [S * C, N].

    a_c = W s_0 + W (s_c - s_0), the second product only over ``varying``; integer-exact like
    ``dense_activation``, and about D / |varying| times less work."""
    s, c, _ = label.shape
    base = dense_activation(weight, first)  # [S, N]
    label = label.to(torch.float32)
    delta = dense_activation(weight[:, varying], (label - label[:, :1]).reshape(s * c, -1))  # {-1, 0, 1} inputs
    return (delta.reshape(s, c, -1) + base.unsqueeze(1)).reshape(s * c, -1)


def run_fixed(layers: list[FixedLayer], spikes: torch.Tensor | CandidateSpikes) -> tuple[list[torch.Tensor], list[int]]:
    """Spike trains [T, B, D] through the fixed-point stack in aligned time.

    ``spikes`` may be ``CandidateSpikes``: S samples times C candidate labels that spike alike
    except on the label features; the first layer then uses ``candidate_sums`` and B = S * C
    (sample-major). Returns per-layer rasters (int64 0/1, [T, B, N_l]) and the largest
    |dendritic sum| seen in each layer (the hardware accumulator is 16-bit; Lava's simulator
    does not bound it).
    """
    by_candidate = isinstance(spikes, CandidateSpikes)
    steps = spikes.first.shape[0] if by_candidate else spikes.shape[0]
    batch = spikes.label.shape[1] * spikes.label.shape[2] if by_candidate else spikes.shape[1]
    states = [cuba_initial_state((batch, layer.weight.shape[0])) for layer in layers]
    rasters = [torch.zeros(steps, batch, layer.weight.shape[0], dtype=torch.int64) for layer in layers]
    max_a = [torch.zeros((), dtype=torch.int64) for _ in layers]
    for t in range(steps):
        pre = None if by_candidate else spikes[t]
        for i, layer in enumerate(layers):
            if pre is None:
                a = candidate_sums(layer.weight, spikes.first[t], spikes.label[t], spikes.varying)
            else:
                a = dense_activation(layer.weight, pre)
            if a.numel():
                max_a[i] = torch.maximum(max_a[i], a.abs().max())
            rasters[i][t], states[i] = cuba_step(a, states[i], layer.params)
            pre = rasters[i][t]
    return rasters, [int(m) for m in max_a]


def run_float(model: SpikingFFNet, spikes: torch.Tensor) -> list[torch.Tensor]:
    """The float network's per-layer rasters [T, B, N_l] (float64 0/1) for spike trains [T, B, D];
    the same dynamics as ``SpikingFFNet.present``, without its read-out."""
    steps, batch = spikes.shape[0], spikes.shape[1]
    states = [lif_initial_state((batch, n), torch.float64) for n in model.sizes[1:]]
    rasters = [torch.zeros(steps, batch, n, dtype=torch.float64) for n in model.sizes[1:]]
    for t in range(steps):
        pre = spikes[t].to(torch.float64)
        for i, w in enumerate(model.weights):
            rasters[i][t], states[i] = lif_step(pre @ w.T, states[i], model.lif)
            pre = rasters[i][t]
    return rasters


def decode_rasters(rasters: list[torch.Tensor], config: FFConfig) -> Presentation:
    """The off-chip read-out: traces, spike counts and P(positive) from per-layer rasters
    [T, B, N_l] (any 0/1 dtype); identical to what ``SpikingFFNet.present`` reports."""
    head = HeadParams(config.head, config.alpha, config.theta, config.eps) if config.head is not None else None
    steps, batch = rasters[0].shape[0], rasters[0].shape[1]
    n_layers = len(rasters)
    traces = [torch.zeros(batch, r.shape[2], dtype=torch.float64) for r in rasters]
    counts = [torch.zeros(batch, r.shape[2], dtype=torch.float64) for r in rasters]
    p_sum = torch.zeros(batch, n_layers, dtype=torch.float64)
    p_last = torch.zeros_like(p_sum)
    for t in range(steps):
        for i in range(n_layers):
            out = rasters[i][t].to(torch.float64)
            traces[i] = trace_step(traces[i], out, config.trace, config.trace_decay)
            counts[i] += out
            if head is not None and (t >= config.learn_start or t == steps - 1):  # no head (SCFF): P stays 0
                p = probability(traces[i], head)
                if t >= config.learn_start:
                    p_sum[:, i] += p
                if t == steps - 1:
                    p_last[:, i] = p
    return Presentation(p_sum / (steps - config.learn_start), p_last, counts, traces)


class FixedPointSpikingNet:
    """A quantised spiking FF network evaluated in Loihi fixed point (no training)."""

    def __init__(self, config: FFConfig, n_inputs: int, layers: list[FixedLayer]) -> None:
        self.config = config
        self.layers = list(layers)
        self.sizes = [n_inputs, *[int(layer.weight.shape[0]) for layer in layers]]
        for d, layer in zip(self.sizes[:-1], self.layers):
            if layer.weight.shape[1] != d:
                raise NeuroffError(f"layer weights {tuple(layer.weight.shape)} do not take {d} inputs")
            check_weights(layer.weight)
            check_cuba_params(layer.params)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def weights(self) -> list[torch.Tensor]:
        """Dequantised weights (integer / scale), comparable with the float network's."""
        return [layer.weight.to(torch.float64) / layer.scale for layer in self.layers]

    def encode(
        self, x: torch.Tensor, generator: torch.Generator | None = None, noise_shape: tuple[int, ...] | None = None
    ) -> torch.Tensor:
        return encode(x, self.config.encoder_params, generator, noise_shape)

    def rasters(self, spikes: torch.Tensor) -> list[torch.Tensor]:
        return run_fixed(self.layers, spikes)[0]

    def present(self, spikes: torch.Tensor) -> Presentation:
        return decode_rasters(self.rasters(spikes), self.config)

    @torch.no_grad()
    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return layers_score(self.layer_scores(x_all, generator), self.config.score_layers)

    @torch.no_grad()
    def layer_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """[S, C, L] each layer's P(positive) for each candidate, in fixed-point arithmetic."""
        b, c, _ = x_all.shape
        # the same draws as SpikingFFNet.candidate_scores (common random numbers across labels)
        spikes = encode_candidates(x_all, varying_features(x_all), self.config.encoder_params, generator)
        rasters = run_fixed(self.layers, spikes)[0]
        return decode_rasters(rasters, self.config).p_window.reshape(b, c, -1)

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        out = self.present(self.encode(x, generator))
        return {"counts": out.counts, "traces": out.traces}
