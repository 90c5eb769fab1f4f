"""The two substrates of one FF architecture: a spiking LIF stack and its analog ReLU twin.

Both expose the same interface, so the engine, evaluation, latents and exports treat them
alike:

- ``sizes``: [input, layer 1, ..., layer L] and ``weights`` ([N_l, D_l] per layer, torch order);
- ``candidate_scores(x_all, generator)``: [B, C] score of every candidate label (the summed
  P(positive) of the score layers), whose argmax is the prediction;
- ``latents(x, generator)``: per-layer activity of the samples (analog: ReLU outputs; spiking:
  spike counts and final trace values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

from neuroff.core.encoding import encode, encode_candidates, varying_features
from neuroff.core.goodness import HeadParams, check_head, layers_score, modulation, probability
from neuroff.core.init import spiking_weights
from neuroff.core.neurons import (
    LIFParams,
    check_lif_params,
    lif_initial_state,
    lif_step,
    trace_step,
)
from neuroff.core.plasticity import (
    NeoHebbianParams,
    activity_step,
    eligibility_step,
    homeostatic_delta,
    neo_hebbian_delta,
    pre_trace_step,
)

if TYPE_CHECKING:  # typing only: the run's options live in the engine, above this layer
    from neuroff.engine.options import FFConfig


class Presentation(NamedTuple):
    """What one presentation of a batch of spike trains produced, per layer."""

    p_window: torch.Tensor  # [B, L] P(positive) averaged over the learning window
    p_last: torch.Tensor  # [B, L] P(positive) at the last step
    counts: list[torch.Tensor]  # [B, N_l] spike counts over the presentation
    traces: list[torch.Tensor]  # [B, N_l] trace values at the last step


class SpikingFFNet(nn.Module):
    """A stack of LIF layers trained by the neo-Hebbian rule; weights in float64."""

    def __init__(self, config: FFConfig, n_inputs: int, generator: torch.Generator) -> None:
        super().__init__()
        self.config = config
        self.sizes = [n_inputs, *[int(n) for n in config.layers]]
        self.lif = LIFParams(config.beta, config.threshold, config.reset, config.refractory)
        check_lif_params(self.lif)
        # None for a family without a goodness head (SCFF reads its spikes through a probe)
        self.head = HeadParams(config.head, config.alpha, config.theta, config.eps) if config.head is not None else None
        for n in self.sizes[1:] if self.head is not None else []:
            check_head(self.head, n)
        for i, (d, n) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            self.register_buffer(f"weight_{i}", spiking_weights(n, d, config.init, config.init_scale, generator))
            self.register_buffer(f"eligibility_{i}", torch.zeros(n, d, dtype=torch.float64))

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"weight_{i}") for i in range(self.n_layers)]

    @property
    def eligibilities(self) -> list[torch.Tensor]:
        return [getattr(self, f"eligibility_{i}") for i in range(self.n_layers)]

    def set_layer(self, i: int, weight: torch.Tensor, eligibility: torch.Tensor) -> None:
        getattr(self, f"weight_{i}").copy_(weight)
        getattr(self, f"eligibility_{i}").copy_(eligibility)

    def third_factor(self, i: int, z: torch.Tensor, is_positive: torch.Tensor) -> torch.Tensor:
        """M of layer i for its traces z [B, N] (``neuroff.core.goodness.modulation``); a rule family
        with another loss (e.g. ``neuroff.families.scff.model``) overrides this one method."""
        return modulation(z, is_positive, self.head)

    def presynaptic(self, i: int, spikes: torch.Tensor) -> torch.Tensor:
        """What layer i's synapses see of its input spikes [B, D_i]: the spikes themselves; a
        rule family may transform them (the current and the Hebbian term both use the result)."""
        return spikes

    @property
    def plasticity(self) -> NeoHebbianParams:
        c = self.config
        pre_decay = c.pre_trace_decay if c.pre_trace == "leaky" else 0.0
        return NeoHebbianParams(
            c.lr, c.eligibility_tau, c.eligibility_nu, c.learn_start, pre_decay,
            c.homeostasis_rate, c.homeostasis_target, c.homeostasis_tau,
        )  # fmt: skip

    def encode(
        self, x: torch.Tensor, generator: torch.Generator | None = None, noise_shape: tuple[int, ...] | None = None
    ) -> torch.Tensor:
        return encode(x, self.config.encoder_params, generator, noise_shape)

    def present(
        self,
        spikes: torch.Tensor | None,
        is_positive: torch.Tensor | None = None,
        plasticity: NeoHebbianParams | None = None,
        currents0: torch.Tensor | None = None,
        activity: list[torch.Tensor] | None = None,
    ) -> Presentation:
        """Run spike trains [T, B, D] through the stack; learn (batch-averaged) if ``plasticity``.
        With homeostasis on, ``activity`` holds each layer's running activities a [N_l] (float64),
        read by the activity term; its entries are replaced by the updated ones after the presentation.

        This is the readable torch reference of the spiking network; the online numba kernel
        (``neuroff.families.ff.online_kernel``) is checked against it with B = 1. Inference may pass the
        first layer's input currents [T, B, N_1] instead of the spikes (``currents0``).
        """
        drive = spikes if currents0 is None else currents0
        steps, batch = drive.shape[0], drive.shape[1]
        learn_start = plasticity.learn_start if plasticity is not None else self.config.learn_start
        # learning runs in float64 (it is compared with the kernel); inference in float32 for speed
        dtype = torch.float64 if plasticity is not None else torch.float32
        weights = [w.to(dtype, copy=True) for w in self.weights]
        elig = [e.clone() for e in self.eligibilities] if plasticity is not None else None
        states = [lif_initial_state((batch, n), dtype) for n in self.sizes[1:]]
        traces = [torch.zeros(batch, n, dtype=dtype) for n in self.sizes[1:]]
        counts = [torch.zeros(batch, n, dtype=dtype) for n in self.sizes[1:]]
        pre_traces = [torch.zeros(batch, d, dtype=dtype) for d in self.sizes[:-1]] if plasticity is not None else None
        p_sum = torch.zeros(batch, self.n_layers, dtype=dtype)
        p_last = torch.zeros_like(p_sum)
        for t in range(steps):
            pre = spikes[t].to(dtype) if currents0 is None else None
            for i in range(self.n_layers):
                if i == 0 and currents0 is not None:
                    current = currents0[t].to(dtype)
                else:
                    pre = self.presynaptic(i, pre)
                    current = pre @ weights[i].T
                    if pre_traces is not None:
                        pre_traces[i] = pre_trace_step(pre_traces[i], pre, plasticity.pre_decay)
                out, states[i] = lif_step(current, states[i], self.lif)
                traces[i] = trace_step(traces[i], out, self.config.trace, self.config.trace_decay)
                counts[i] += out
                if self.head is not None and (t >= learn_start or t == steps - 1):
                    p = probability(traces[i], self.head)
                    if t >= learn_start:
                        p_sum[:, i] += p
                    if t == steps - 1:
                        p_last[:, i] = p
                if plasticity is not None and t >= learn_start:
                    m = self.third_factor(i, traces[i], is_positive)
                    dw = neo_hebbian_delta(pre_traces[i], traces[i], m, plasticity.lr)
                    if activity is not None and plasticity.homeostasis_rate > 0:
                        dw = dw + homeostatic_delta(pre_traces[i], activity[i], plasticity)
                    weights[i], elig[i] = eligibility_step(weights[i], elig[i], dw, plasticity)
                pre = out
        if plasticity is not None:
            for i in range(self.n_layers):
                self.set_layer(i, weights[i], elig[i])
                if activity is not None and plasticity.homeostasis_rate > 0:
                    activity[i] = activity_step(activity[i], counts[i] > 0, plasticity.homeostasis_tau)
        return Presentation(p_sum / (steps - learn_start), p_last, counts, traces)

    @torch.no_grad()
    def scale_to_input_rates(self, spikes: torch.Tensor) -> list[float]:
        """Scale layer l >= 1's weights by sqrt(r_0 / r_l), r_l the mean spike rate (per input and
        step) of layer l's input on the spike trains [T, B, D]: a neuron's input current has a
        standard deviation ~ |w| sqrt(D r), so every layer then starts with the first layer's
        drive (layer by layer, each measured after the ones below are scaled). Returns the factors."""
        steps, batch = spikes.shape[0], spikes.shape[1]
        rate0 = float(spikes.to(torch.float64).mean())
        factors = []
        for i in range(1, self.n_layers):
            counts = self.present(spikes).counts[i - 1]
            rate = float(counts.sum()) / (steps * batch * counts.shape[1])
            factor = (rate0 / rate) ** 0.5 if rate > 0 else 1.0
            getattr(self, f"weight_{i}").mul_(factor)
            factors.append(factor)
        return factors

    @torch.no_grad()
    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return layers_score(self.layer_scores(x_all, generator), self.config.score_layers)

    @torch.no_grad()
    def layer_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """[S, C, L] each layer's P(positive) for each candidate. All C candidates of a sample
        share their uniform draws (common random numbers), so the spikes of input features that
        do not depend on the label are identical across candidates and their current is computed
        once; only the label features' current is computed per candidate. Exact, and ~C times
        less work for the first layer."""
        b, c, _ = x_all.shape
        varying = varying_features(x_all)
        first, cand, _ = encode_candidates(x_all, varying, self.config.encoder_params, generator)  # [T, b, d], [T, b, c, v]
        steps = first.shape[0]
        if self.config.encoder == "direct":  # the same input at every step: one current, repeated
            first, cand = first[:1], cand[:1]
        w0 = self.weights[0].to(torch.float32)
        base = first @ w0.T  # [T, b, N]
        delta = (cand - cand[:, :, :1]) @ w0[:, varying].T  # [T, b, c, N]
        currents0 = (base.unsqueeze(2) + delta).reshape(first.shape[0], b * c, -1).expand(steps, -1, -1)
        return self.present(None, currents0=currents0).p_window.reshape(b, c, -1)

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        out = self.present(self.encode(x, generator))
        return {"counts": out.counts, "traces": out.traces}
