"""Self-Contrastive FF (Chen et al.): unsupervised FF whose negatives pair a sample with another;
analog dense/conv nets, a Bi-RNN over image rows, and a spiking dense form (docs/scff.md)."""

from __future__ import annotations

import math
from typing import Any

from neuroff.errors import NeuroffError
from neuroff.families.base import (
    CONSTANT_LR,
    BuildContext,
    Consumes,
    Family,
    Readout,
    Rule,
)
from neuroff.families.scff.options import (
    AnalogSCFFOptions,
    PerLayerSCFFOptions,
    SCFFOptions,
    SpikingSCFFOptions,
)
from neuroff.layers.options import (
    REFERENCE_SPIKING,
    AnalogTrainingOptions,
    LayerSpecOptions,
    LIFNeuronOptions,
    NeoHebbianOptions,
    SpikeEncoderOptions,
)


def build(config: Any, ctx: BuildContext) -> tuple[Any, Rule]:
    """Dense --layers or conv/dense --blocks (one layer per block), a Bi-RNN over image rows
    (--scff-birnn), or the spiking dense net."""
    from neuroff.families.scff.birnn import SCFFBiRNN
    from neuroff.families.scff.model import SCFFNet, SpikingSCFFNet, parse_algorithms
    from neuroff.families.scff.rule import SCFFRule, SpikingSCFFRule
    from neuroff.layers.spec import Dense, format_blocks, parse_blocks

    n_inputs, generator = ctx.n_inputs, ctx.generator
    if config.scff_epochs_per_layer < 1:
        raise NeuroffError(f"--scff-epochs-per-layer {config.scff_epochs_per_layer} must be >= 1")
    if config.batch_size < 2:
        raise NeuroffError("SCFF pairs each sample with another of its mini-batch; pass --batch-size 2 or more, e.g. 32")
    if config.homeostasis_rate > 0:
        raise NeuroffError(
            f"--homeostasis-rate {config.homeostasis_rate}: SCFF trains one layer at a time and its rule has no activity term; use --homeostasis-rate 0"
        )
    spec = parse_blocks(config.blocks) if config.blocks is not None else None
    if spec is not None:
        if spec.n_inputs != n_inputs:
            raise NeuroffError(f"--blocks {format_blocks(spec)} starts with {spec.n_inputs} inputs but the data has {n_inputs} features")
        if any(len(block) != 1 for block in spec.blocks):
            raise NeuroffError(f"--blocks {format_blocks(spec)}: SCFF trains one layer at a time; give one layer per block, e.g. 1x28x28,c64k3p2,c128k3p2")
    if config.scff_birnn:
        if spec is None:
            side = math.isqrt(n_inputs)
            if side * side != n_inputs:
                raise NeuroffError(f"--scff-birnn reads images row by row but {n_inputs} features are not a square image; pass --blocks HxW,N")
            shape, hidden = (side, side), config.layers[0]
        elif len(spec.layers) != 1 or not isinstance(spec.layers[0], Dense) or len(spec.input_shape) < 2:
            raise NeuroffError(f"--scff-birnn takes one recurrent layer over image rows: --blocks HxW,N (e.g. 28x28,500), not {format_blocks(spec)}")
        else:
            shape, hidden = spec.input_shape, spec.layers[0].units
        model: Any = SCFFBiRNN(shape, hidden, generator)
    elif config.mode == "spiking":
        model = SpikingSCFFNet(config, n_inputs, generator, config.score_layers)
        return model, SpikingSCFFRule(config.batch_size, config.scff_epochs_per_layer, schedule=ctx.schedule)
    elif spec is not None:
        algorithms = parse_algorithms(config.scff_algorithm, len(spec.layers))
        model = SCFFNet(spec.layers, spec.input_shape, algorithms, generator, config.score_layers, config.scff_probe_grid, config.scff_augment)
    else:
        algorithms = parse_algorithms(config.scff_algorithm, len(config.layers))
        model = SCFFNet.dense([n_inputs, *config.layers], algorithms, generator, probe_layers=config.score_layers, augment=config.scff_augment)
    per_layer = {name: per_layer_values(config, name, default, model.n_layers) for name, default in (
        ("scff_layer_threshold_pos", config.scff_threshold_pos), ("scff_layer_threshold_neg", config.scff_threshold_neg),
        ("scff_layer_lambda", config.scff_lambda), ("scff_layer_lr", config.analog_lr))}  # fmt: skip
    thresholds = list(zip(per_layer["scff_layer_threshold_pos"], per_layer["scff_layer_threshold_neg"]))
    rule = SCFFRule(model, config.optimizer, per_layer["scff_layer_lr"], config.batch_size, thresholds,
                    per_layer["scff_layer_lambda"], config.scff_epochs_per_layer, schedule=ctx.schedule)  # fmt: skip
    return model, rule


def per_layer_values(config: Any, name: str, default: float, n_layers: int) -> list[float]:
    """The --scff-layer-* list of ``name`` (one value per layer, checked), or ``default`` for every layer."""
    values = getattr(config, name)
    if values is None:
        return [float(default)] * n_layers
    flag = "--" + name.replace("_", "-")
    if len(values) != n_layers:
        raise NeuroffError(f"{flag} has {len(values)} values for {n_layers} layers; give one per layer, e.g. {flag} {','.join(['1'] * n_layers)}")
    if any(not math.isfinite(v) for v in values) or (name in ("scff_layer_lr", "scff_layer_lambda") and any(v < 0 or (v == 0 and name == "scff_layer_lr") for v in values)):
        raise NeuroffError(f"{flag} {','.join(map(str, values))}: every value must be finite{' and > 0' if name == 'scff_layer_lr' else ' and >= 0' if name == 'scff_layer_lambda' else ''}")
    return [float(v) for v in values]


FAMILY = Family(
    name="scff",
    summary="Self-Contrastive FF: unsupervised, negatives pair a sample with another; read out by a linear probe",
    modes=("analog", "spiking"),
    consumes=Consumes.SAMPLES,
    readout=Readout.PROBE,
    groups={
        "analog": (LayerSpecOptions, AnalogTrainingOptions, SCFFOptions, AnalogSCFFOptions, PerLayerSCFFOptions),
        "spiking": (SpikeEncoderOptions, LIFNeuronOptions, NeoHebbianOptions, SCFFOptions, SpikingSCFFOptions),
    },
    # default epochs: the fewest within 1 point of the best on a digits validation split
    # (bench/bench_family_defaults.py, bench/results/family_defaults.json)
    defaults={
        "analog": {**CONSTANT_LR, "analog_lr": 0.003, "embedding": "none", "batch_size": 64, "epochs": 1},
        "spiking": {**REFERENCE_SPIKING, **CONSTANT_LR, "embedding": "none", "batch_size": 32, "epochs": 1},
    },
    build=build,
    embeddings=("none",),
)
