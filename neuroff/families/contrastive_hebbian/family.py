"""Contrastive neuron-centric Hebbian learning: a cosine contrast per hidden layer, a
Hebbian-descent head, per-neuron rates meta-learned by AdamW (docs/contrastive_hebbian.md)."""

from __future__ import annotations

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
from neuroff.families.contrastive_hebbian.options import ContrastiveHebbianOptions
from neuroff.layers.options import LayerSpecOptions


def build(config: Any, ctx: BuildContext) -> tuple[Any, Rule]:
    """Hidden --layers (or the layers of --blocks, conv included) and a softmax head over the classes."""
    from neuroff.families.contrastive_hebbian.model import ContrastiveHebbianNet
    from neuroff.families.contrastive_hebbian.rule import ContrastiveHebbianRule
    from neuroff.layers.spec import blocks_from_layers, format_blocks, parse_blocks

    spec = blocks_from_layers(ctx.n_inputs, config.layers) if config.blocks is None else parse_blocks(config.blocks)
    if spec.n_inputs != ctx.n_inputs:
        raise NeuroffError(f"--blocks {format_blocks(spec)} starts with {spec.n_inputs} inputs but the data has {ctx.n_inputs} features")
    model = ContrastiveHebbianNet(
        spec.layers, spec.input_shape, ctx.n_classes, ctx.generator, config.ch_activation, config.ch_eta, config.ch_eta_conv,
        config.ch_weight_norm, config.ch_bias, config.ch_dropout, config.ch_conv_loss,
    )
    rule = ContrastiveHebbianRule(
        model, config.ch_meta_lr, config.ch_meta_weight_decay, config.ch_momentum, config.ch_smoothing, config.batch_size,
        config.ch_eta_decay, schedule=ctx.schedule,
    )
    return model, rule


FAMILY = Family(
    name="contrastive-hebbian",
    summary="contrastive neuron-centric Hebbian: cosine contrast per layer, meta-learned per-neuron rates",
    modes=("analog",),
    consumes=Consumes.LABELLED_SAMPLES,
    readout=Readout.LOGITS,
    groups={"analog": (LayerSpecOptions, ContrastiveHebbianOptions)},
    # default epochs: the fewest within 1 point of the best on a digits validation split
    # (bench/bench_family_defaults.py, bench/results/family_defaults.json)
    defaults={"analog": {**CONSTANT_LR, "embedding": "none", "batch_size": 64, "epochs": 30}},
    build=build,
    embeddings=("none",),
)
