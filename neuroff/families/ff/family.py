"""Forward-Forward with the neo-Hebbian three-factor rule (spiking, the default substrate) and its
analog twin trained by autograd on the same per-layer loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from neuroff.data.options import LabelEmbeddingOptions, NegativeLabelOptions
from neuroff.families.base import (
    CONSTANT_LR,
    BuildContext,
    Consumes,
    Family,
    Readout,
    Rule,
)
from neuroff.families.ff.onchip_options import OnChipOptions
from neuroff.layers.options import (
    REFERENCE_SPIKING,
    AnalogTrainingOptions,
    GoodnessHeadOptions,
    InputNormalisationOptions,
    LIFNeuronOptions,
    NeoHebbianOptions,
    SpikeEncoderOptions,
)


def build(config: Any, ctx: BuildContext) -> tuple[Any, Rule]:
    if config.mode == "loihi":
        from neuroff.families.ff.onchip import OnChipFFNet, OnChipRule

        model = OnChipFFNet(config, ctx.n_inputs, ctx.generator)
        return model, OnChipRule(model, config.onchip_rng_seed, ctx.schedule)
    if config.mode == "spiking":
        from neuroff.families.ff.spiking_rule import NeoHebbianRule
        from neuroff.layers.lif_stack import SpikingFFNet

        return SpikingFFNet(config, ctx.n_inputs, ctx.generator), NeoHebbianRule(config.batch_size, config.sparse, schedule=ctx.schedule)
    from neuroff.families.ff.analog_rule import FFAutogradRule
    from neuroff.families.ff.model import AnalogFFNet

    model = AnalogFFNet(config, ctx.n_inputs, ctx.generator)
    return model, FFAutogradRule(model, config.optimizer, config.analog_lr, config.batch_size, schedule=ctx.schedule)


def initialise(config: Any, model: Any, x: torch.Tensor, generator: torch.Generator) -> None:
    """Spiking nets deeper than one layer: initial weights scaled to each layer's input rate
    (``SpikingFFNet.scale_to_input_rates``), measured on the positives x with their own stream."""
    scaled = config.mode in ("spiking", "loihi") and config.init_rate_scaling and model.n_layers > 1
    if scaled:
        model.scale_to_input_rates(model.encode(x, generator))
    if config.mode == "loihi":  # a fresh on-chip net: its integer weights must fit the learning synapses
        model.check_initial_weights(scaled)


FAMILY = Family(
    name="ff",
    summary="Forward-Forward: neo-Hebbian three-factor rule on LIF neurons, or its analog twin",
    modes=("spiking", "analog", "loihi"),
    consumes=Consumes.PAIRS,
    readout=Readout.GOODNESS,
    groups={
        "spiking": (LabelEmbeddingOptions, NegativeLabelOptions, SpikeEncoderOptions, LIFNeuronOptions, GoodnessHeadOptions, NeoHebbianOptions),
        "analog": (LabelEmbeddingOptions, NegativeLabelOptions, GoodnessHeadOptions, AnalogTrainingOptions, InputNormalisationOptions),
        # on-chip learning (families/ff/onchip.py): the spiking groups plus the learning engine's
        "loihi": (LabelEmbeddingOptions, NegativeLabelOptions, SpikeEncoderOptions, LIFNeuronOptions, GoodnessHeadOptions, NeoHebbianOptions, OnChipOptions),
    },
    # default epochs: the fewest within 1 point of the best on a digits validation split
    # (bench/bench_family_defaults.py, bench/results/family_defaults.json)
    defaults={
        # chosen on a digits validation split (bench/bench_ff_defaults.py): full-rate code, lr x 0.8 per epoch
        "spiking": {**REFERENCE_SPIKING, "head": "sym", "max_rate": 1.0, "lr_decay": 0.8, "embedding": "code", "batch_size": 1, "epochs": 10},
        # a latency spike precedes the learning window: presynaptic trace, early learning, a leakier
        # threshold and larger initial weights so the layer fires (bench/bench_ff_defaults.py)
        "spiking:latency": {"pre_trace": "leaky", "learn_start": 5, "threshold": 0.2, "beta": 0.95, "init_scale": 3.0,
                            "lr": 0.003, "lr_decay": 1.0, "epochs": 30},
        # analog: Adam 0.001 for 20 epochs, chosen on a digits validation split by bench/bench_analog_defaults.py
        "analog": {**CONSTANT_LR, "head": "sym", "analog_lr": 0.001, "embedding": "code", "batch_size": 64, "epochs": 20},
        # --lr-decay lowers the modulator's m_scale per epoch; the modulator broadcasts one M per
        # layer, the sigma head's (families/ff/onchip.py)
        "loihi": {**REFERENCE_SPIKING, "head": "sigma", "max_rate": 1.0, "lr_decay": 0.8, "embedding": "code", "batch_size": 1, "epochs": 10},
    },
    build=build,
    initialise=initialise,
)
