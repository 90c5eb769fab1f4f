"""FF trained by on-chip learning (``--mode loihi``): the spiking FF network with Loihi 2's
learning-engine semantics, run by the emulator ``neuroff.core.loihi_learning``.

The model is a ``SpikingFFNet`` whose truth is its integer weights (``int_weight_<l>``, what the
chip's synapses hold); its float ``weights`` are those divided by k = vth / threshold, so exports
and float tools read it as any spiking checkpoint. It is read out as the chip would run it after
training: the fixed-point CUBA stack (``neuroff.layers.fixed_point.run_fixed``) with the goodness
decoded off-chip (``decode_rasters``), the same read-out as ``export --target loihi``.

Mapping from the float options (each checked; what the chip cannot express is refused):
    dv = round(4096 (1 - beta)), du = 4095 (no current persistence), vth = --onchip-vth
    W_int = round_even(k W_float), k = vth / threshold                  (initial weights)
    z: dz = round(4096 (1 - trace_decay)), impulse = round(127 (1 - trace_decay))   (leaky trace only)
    M: the sigma head, sent as round(m_scale M): from the goodness of steps [0, learn_start) once per
       presentation (--onchip-m-timing window) or from each step's goodness (step)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from neuroff.core.encoding import encode_candidates, varying_features
from neuroff.core.loihi_learning import (
    LEARN_WEIGHT_MAX,
    LEARN_WEIGHT_MIN,
    TRACE_MAX,
    OnChipNet,
    RandomStreams,
    RuleParams,
    TraceParams,
    check_learning_weights,
    learning_weights_fit,
    check_rule,
    modulator_table,
    modulator_window,
    run_emulator,
)
from neuroff.core.goodness import layers_score
from neuroff.core.loihi_neurons import (
    DECAY_UNITY,
    VTH_BITS,
    CubaParams,
    check_cuba_params,
)
from neuroff.errors import NeuroffError
from neuroff.families.base import Batch, LRSchedule, RuleBase, StepStats
from neuroff.layers.fixed_point import (
    FixedLayer,
    decode_rasters,
    run_fixed,
)
from neuroff.layers.lif_stack import SpikingFFNet

if TYPE_CHECKING:
    from neuroff.engine.options import FFConfig


def check_onchip_config(c: FFConfig) -> None:
    """One line naming each option the learning engine cannot express, and what the chip supports."""
    if c.encoder == "direct":  # the chip's input ports carry binary spikes; a graded x would be cast to 0 or 1
        raise NeuroffError("--encoder direct: on-chip learning presents the inputs as spikes; use --encoder rate or latency, not direct")
    if c.reset != "zero":
        raise NeuroffError(f"--reset {c.reset}: Loihi's CUBA neuron resets to zero; use --reset zero")
    if c.refractory:
        raise NeuroffError(f"--refractory {c.refractory}: the on-chip neuron has no refractory period; use --refractory 0")
    if c.trace != "leaky":
        raise NeuroffError(f"--trace {c.trace}: the neuron writes a 7-bit leaky trace (y1) to the learning engine; use --trace leaky")
    if not 0.0 < c.trace_decay < 1.0:
        raise NeuroffError(f"--trace-decay {c.trace_decay}: the 7-bit trace needs a decay in (0, 1)")
    if c.head != "sigma":
        raise NeuroffError(f"--head {c.head}: the on-chip modulator broadcasts one M = s - sigmoid(alpha (G - theta)) per layer; use --head sigma")
    if c.pre_trace != "none":
        raise NeuroffError(f"--pre-trace {c.pre_trace}: the on-chip rule reads x0, the input spike of the step; use --pre-trace none")
    if c.homeostasis_rate > 0:
        raise NeuroffError(f"--homeostasis-rate {c.homeostasis_rate}: the on-chip rule has no per-neuron activity term; use --homeostasis-rate 0")
    if c.batch_size != 1:
        raise NeuroffError(f"--batch-size {c.batch_size}: the chip learns online, one presentation after another; use --batch-size 1")
    if not 1 <= c.learn_start < c.steps:
        raise NeuroffError(f"--learn-start {c.learn_start}: the modulator measures G on steps [0, learn_start) and M acts on the rest; use 1..{c.steps - 1}")
    if not 0 < c.threshold:
        raise NeuroffError(f"--threshold {c.threshold} must be > 0 (k = vth / threshold)")
    if not 1 <= c.onchip_vth < 1 << VTH_BITS:
        raise NeuroffError(f"--onchip-vth {c.onchip_vth}: the threshold mantissa is unsigned {VTH_BITS}-bit; use 1..{(1 << VTH_BITS) - 1}")


def onchip_net(c: FFConfig, sizes: list[int], m_scale: int | None = None) -> OnChipNet:
    """The learning network of a config; ``m_scale`` (default --onchip-m-scale): the modulator's
    scaling of M, which the learning-rate schedule lowers epoch by epoch."""
    check_onchip_config(c)
    m_scale = c.onchip_m_scale if m_scale is None else m_scale
    trace = TraceParams(round(DECAY_UNITY * (1.0 - c.trace_decay)), round(TRACE_MAX * (1.0 - c.trace_decay)))
    rule = RuleParams(c.onchip_lr_mantissa, c.onchip_lr_exponent, c.onchip_rng_seed)
    check_rule(rule, trace, m_scale)
    params = CubaParams(du=DECAY_UNITY - 1, dv=round(DECAY_UNITY * (1.0 - c.beta)), vth=c.onchip_vth)
    check_cuba_params(params)
    window = modulator_window(c.onchip_m_timing, c.learn_start)
    tables = [modulator_table(c.alpha, c.theta, window, n, m_scale) for n in sizes[1:]]
    return OnChipNet(params.du, params.dv, params.vth, trace, rule, c.steps, c.learn_start, tables, c.onchip_m_timing)


def integer_weights(w: torch.Tensor, k: float) -> torch.Tensor:
    """The integer weights of float ones at k weight steps per unit: w k rounded to an even integer
    (Lava's LearningDense truncates odd weights on load)."""
    return (torch.round(w * k / 2) * 2).to(torch.int64)


class OnChipFFNet(SpikingFFNet):
    """The spiking FF stack as the chip holds it: integer weights, read out in fixed point."""

    def __init__(self, config: FFConfig, n_inputs: int, generator: torch.Generator) -> None:
        super().__init__(config, n_inputs, generator)
        self.register_buffer("m_scale", torch.tensor(config.onchip_m_scale, dtype=torch.int64))
        self.net = onchip_net(config, self.sizes)
        self.k = config.onchip_vth / config.threshold
        for i, w in enumerate(self.weights):
            self.register_buffer(f"int_weight_{i}", self._quantised(w))
        self.sync_float()

    def _quantised(self, w: torch.Tensor) -> torch.Tensor:
        """Not clipped: a fresh network checks them (``check_initial_weights``), a loaded one its own."""
        return integer_weights(w, self.k)

    def check_initial_weights(self, scaled: bool) -> None:
        """Refuse, on one line, a fresh network whose integer weights the learning synapses cannot
        hold (called once by the family's ``initialise``, after the deeper layers' scaling; never on
        load, where the checkpoint's weights replace these)."""
        for layer, q in enumerate(self.int_weights):
            if not learning_weights_fit(q.numpy()):
                w = self.weights[layer]
                deeper = layer > 0 and scaled
                fix = "lower --onchip-vth, or pass --init-rate-scaling false" if deeper else "lower --onchip-vth or --init-scale"
                raise NeuroffError(
                    f"layer {layer}'s initial weights{' (scaled to its input rate)' if deeper else ''} reach |w| = "
                    f"{float(w.abs().max()):.3g}, {int(q.abs().max())} weight steps at k = --onchip-vth / --threshold = "
                    f"{self.k:.4g}; Loihi's learning synapses hold integers in [{LEARN_WEIGHT_MIN}, {LEARN_WEIGHT_MAX}]; {fix}"
                )

    def scale_to_input_rates(self, spikes: torch.Tensor) -> list[float]:
        """The float stack's scaling of deeper layers (``SpikingFFNet.scale_to_input_rates``), carried
        into the integer weights the emulator trains (else the first ``sync_float`` would undo it)."""
        factors = super().scale_to_input_rates(spikes)
        for i, w in enumerate(self.weights):
            getattr(self, f"int_weight_{i}").copy_(self._quantised(w))
        self.sync_float()
        return factors

    @property
    def int_weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"int_weight_{i}") for i in range(self.n_layers)]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # type: ignore[override]
        out = super().load_state_dict(state_dict, strict, assign)
        self.set_m_scale(int(self.m_scale))
        for w in self.int_weights:
            check_learning_weights(w.numpy())
        return out

    def set_m_scale(self, m_scale: int) -> None:
        """What the host reprograms between epochs: the modulator's scaling of M (its table)."""
        self.m_scale.fill_(m_scale)
        self.net = onchip_net(self.config, self.sizes, m_scale)

    def sync_float(self) -> None:
        """The float weights (integer / k) after the integer ones changed."""
        for i, w in enumerate(self.int_weights):
            getattr(self, f"weight_{i}").copy_(w.to(torch.float64) / self.k)

    @property
    def fixed_layers(self) -> list[FixedLayer]:
        params = CubaParams(du=self.net.du, dv=self.net.dv, vth=self.net.vth)
        return [FixedLayer(w, params, self.k) for w in self.int_weights]

    @torch.no_grad()
    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return layers_score(self.layer_scores(x_all, generator), self.config.score_layers)

    @torch.no_grad()
    def layer_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """[S, C, L] each layer's P(positive) for each candidate, from the chip's fixed-point rasters."""
        b, c, _ = x_all.shape
        spikes = encode_candidates(x_all, varying_features(x_all), self.config.encoder_params, generator)  # the float net's draws
        rasters = run_fixed(self.fixed_layers, spikes)[0]
        return decode_rasters(rasters, self.config).p_window.reshape(b, c, -1)

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        out = decode_rasters(run_fixed(self.fixed_layers, self.encode(x, generator))[0], self.config)
        return {"counts": out.counts, "traces": out.traces}


class OnChipRule(RuleBase):
    """Online on-chip learning: each sample as a positive then a negative presentation through the
    emulated learning network (weights change inside the presentation, integer updates)."""

    name = "loihi-learning-engine"

    def __init__(self, model: OnChipFFNet, rng_seed: int, schedule: LRSchedule = LRSchedule()) -> None:
        self.model = model
        self.streams = RandomStreams(rng_seed)
        self.schedule = schedule

    def on_epoch_start(self, epoch: int) -> None:
        """--lr-decay on chip: the modulator sends round(m_scale decay^epoch) M (at least 1 level);
        the engine's m 2^e stays as programmed."""
        c = self.model.config
        self.model.set_m_scale(max(1, round(c.onchip_m_scale * self.schedule.scale(epoch))))

    def step(self, model: OnChipFFNet, batch: Batch) -> StepStats:
        n = batch.x.shape[0]
        xs = torch.stack([batch.x, batch.x_neg], 1).reshape(2 * n, -1)
        spikes = model.encode(xs, batch.generator).permute(1, 0, 2).to(torch.uint8).contiguous().numpy()
        positive = np.tile(np.array([1, 0], np.uint8), n)
        weights = [w.numpy() for w in model.int_weights]  # shared memory: updated in place
        res = run_emulator(model.net, weights, spikes, positive, self.streams)
        model.sync_float()
        g = res.g[:, -1]
        return StepStats(n, float((g[0::2] > g[1::2]).sum()))

    def state_dict(self) -> dict:
        return {"streams": self.streams.state()}

    def load_state_dict(self, state: dict) -> None:
        if "streams" in state:
            self.streams.set_state(state["streams"])
