"""Options of the layer-level components: the layer spec, the LIF neuron, the spike encoder, the
goodness head and the neo-Hebbian plasticity of the spiking stack. Where a component has a
parameter tuple of its own (``LIFParams``, ``HeadParams``, ``NeoHebbianParams``), the default is
read from it, so each default is written once. An option declared with default None takes the
default of the family (and substrate, and encoder) that reads it: ``Family.defaults``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.core.params import (
    ENCODERS,
    HEADS,
    PRE_TRACES,
    RESETS,
    TRACES,
    EncoderParams,
    HeadParams,
    LIFParams,
    NeoHebbianParams,
)
from neuroff.options import OptionGroup, option

INITS = ("uniform", "normal", "positive")
LATENCY_MODES = ("linear", "log")

_LIF = LIFParams._field_defaults
_HEAD = HeadParams._field_defaults
_PLASTIC = NeoHebbianParams._field_defaults

# The reference paper's spiking configuration (the authors' notebook): LIF decay 0.85, threshold 1,
# rate code at 0.25 per step, c = 0.002, learning on steps >= 16, uniform init at 1/sqrt(fan_in),
# no presynaptic trace. Spiking families start their defaults from it.
REFERENCE_SPIKING = {
    "beta": _LIF["beta"], "threshold": _LIF["threshold"], "max_rate": 0.25, "lr": _PLASTIC["lr"],
    "learn_start": _PLASTIC["learn_start"], "init_scale": 1.0, "pre_trace": "none",
}


@dataclass
class LayerSpecOptions(OptionGroup):
    title: ClassVar[str] = "layer spec (IntFF, SCFF, contrastive Hebbian)"
    blocks: str | None = option(
        None, "nested layer spec, e.g. 784,(200,200),(50,50) or 1x28x28,c32k5p2,500 (neuroff.layers.spec); "
        "default: one block per --layers entry")


@dataclass
class LIFNeuronOptions(OptionGroup):
    title: ClassVar[str] = "LIF neuron (spiking)"
    beta: float | None = option(None, "membrane decay per time step, exp(-dt/tau_mem)", unit="per step")
    threshold: float | None = option(None, "firing threshold of the membrane potential", unit="input-current units")
    reset: str = option(_LIF["reset"], "reset after a spike: to zero, or subtract the threshold", choices=RESETS)
    refractory: int = option(_LIF["refractory_steps"], "time steps a neuron stays silent after a spike", unit="steps")
    trace: str = option("leaky", "postsynaptic trace g(y) the rule and goodness read", choices=TRACES)
    trace_decay: float = option(0.85, "decay of the postsynaptic trace per time step", unit="per step")


@dataclass
class SpikeEncoderOptions(OptionGroup):
    title: ClassVar[str] = "spike encoder (spiking)"
    encoder: str = option("rate", "how pixel intensities reach the first layer: rate or latency spikes, or direct (the intensity itself every step, graded)", choices=ENCODERS)
    steps: int = option(23, "time steps per presentation", unit="steps")
    max_rate: float | None = option(None, "rate code: spike probability per step of a pixel of intensity 1", unit="per step")
    latency_mode: str = option("linear", "latency code: spike time linear or logarithmic in the intensity", choices=LATENCY_MODES)
    normalize_latency: bool = option(False, "latency code: stretch each sample's first..last spike over all steps")

    @property
    def encoder_params(self) -> EncoderParams:
        """The encoder these options describe (``max_rate`` resolved by the family's defaults)."""
        return EncoderParams(self.encoder, self.steps, self.max_rate, self.latency_mode, self.normalize_latency)


@dataclass
class GoodnessHeadOptions(OptionGroup):
    title: ClassVar[str] = "goodness head (FF)"
    head: str | None = option(None, "P(positive): sigma = sigmoid(alpha (G - theta)); sym = G+/(G+ + G-) over the layer's halves", choices=HEADS)
    alpha: float = option(_HEAD["alpha"], "sigma head: slope of the sigmoid", unit="1/goodness")
    theta: float = option(_HEAD["theta"], "sigma head: goodness threshold", unit="goodness = sum of squared traces")
    eps: float = option(_HEAD["eps"], "sym head: added to both halves' goodness, a floor each half must outgrow "
                        "before P moves; larger spreads the goodness over more units (1.0 lifts the analog twin on "
                        "Fashion-MNIST, not the spiking net: docs/results.md)", unit="goodness")


@dataclass
class NeoHebbianOptions(OptionGroup):
    title: ClassVar[str] = "neo-Hebbian plasticity (spiking)"
    lr: float | None = option(None, "learning rate c of dW = c M g(y) x^T", unit="per learning step")
    learn_start: int | None = option(None, "learning happens on time steps t >= this (0-based)", unit="steps")
    eligibility_tau: float = option(_PLASTIC["tau"], "eligibility mixing per learning step, E <- (1-tau) E + tau dW", unit="per step")
    eligibility_nu: float = option(_PLASTIC["nu"], "fraction of E added to W per learning step", unit="per step")
    pre_trace: str | None = option(None, "presynaptic factor of the rule: the input spikes (none) or their leaky trace "
                            "x̄ <- decay x̄ + x (leaky; needed by latency codes, whose spikes precede the learning window)",
                            choices=PRE_TRACES)
    pre_trace_decay: float = option(0.9, "leaky presynaptic trace: decay per time step, in (0, 1]", unit="per step")
    homeostasis_rate: float = option(_PLASTIC["homeostasis_rate"], "activity term h of dW_ij += h (rho - a_j) x_i, a_j neuron j's running "
                                     "fraction of presentations with a spike: silent neurons grow their weights until they fire; 0: off",
                                     unit="per learning step")
    homeostasis_target: float = option(_PLASTIC["homeostasis_target"], "homeostasis: target fraction rho of presentations in which each "
                                       "neuron spikes", unit="fraction")
    homeostasis_tau: float = option(_PLASTIC["homeostasis_tau"], "homeostasis: running-average rate of a_j, a_j <- a_j + tau (fired_j - a_j)",
                                    unit="per presentation")
    sparse: bool = option(True, "online kernel: update only the rows of inputs that spiked (same result, faster)")
    init: str = option("uniform", "distribution of the initial weights", choices=INITS)
    init_scale: float | None = option(None, "initial weight scale", unit="1/sqrt(fan_in)")
    init_rate_scaling: bool = option(True, "scale layer l >= 1's initial weights by sqrt(r_0 / r_l), r_l its input spike "
                                     "rate at initialisation on 256 training samples, so deeper layers, whose input is far "
                                     "sparser than the pixels, fire")


OPTIMIZERS = ("adam", "sgd")


@dataclass
class AnalogTrainingOptions(OptionGroup):
    title: ClassVar[str] = "analog optimiser (ff --mode analog, intff, scff)"
    optimizer: str = option("adam", "optimiser of each independently trained layer or block", choices=OPTIMIZERS)
    analog_lr: float | None = option(None, "learning rate of that optimiser", unit="per mini-batch")


@dataclass
class InputNormalisationOptions(OptionGroup):
    title: ClassVar[str] = "layer inputs (ff --mode analog, intff)"
    normalize_inputs: bool = option(True, "length-normalise each layer's (block's) input past the first, so goodness cannot pass through")
