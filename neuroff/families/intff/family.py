"""Integrated FF (Tang, 2023): blocks of 1-3 layers, each trained by backprop on its own FF loss."""

from __future__ import annotations

from typing import Any

from neuroff.data.options import LabelEmbeddingOptions, NegativeLabelOptions
from neuroff.errors import NeuroffError
from neuroff.families.base import (
    CONSTANT_LR,
    BuildContext,
    Consumes,
    Family,
    Readout,
    Rule,
)
from neuroff.families.intff.options import IntFFOptions
from neuroff.layers.options import (
    AnalogTrainingOptions,
    InputNormalisationOptions,
    LayerSpecOptions,
)


def build(config: Any, ctx: BuildContext) -> tuple[Any, Rule]:
    """--blocks, or one block per --layers entry (plain FF with IntFF's loss)."""
    from neuroff.families.intff.model import IntFFNet
    from neuroff.families.intff.rule import IntFFRule
    from neuroff.layers.spec import blocks_from_layers, format_blocks, parse_blocks

    extra = config.code_bits if config.embedding == "code" else 0
    if config.blocks is None:
        spec = blocks_from_layers(ctx.n_inputs - extra, config.layers)
    else:
        spec = parse_blocks(config.blocks)
        if spec.n_inputs != ctx.n_inputs - extra:
            raise NeuroffError(
                f"--blocks {format_blocks(spec)} starts with {spec.n_inputs} inputs but the data has "
                f"{ctx.n_inputs - extra} features; start the spec with {ctx.n_inputs - extra}"
            )
    model = IntFFNet(spec, ctx.n_inputs, ctx.generator, config.intff_threshold, config.normalize_inputs, config.score_layers,
                     config.intff_normalize_first)  # fmt: skip
    return model, IntFFRule(model, config.optimizer, config.analog_lr, config.batch_size, schedule=ctx.schedule)


FAMILY = Family(
    name="intff",
    summary="Integrated FF: small blocks, each trained by shallow backprop on its own FF loss",
    modes=("analog",),
    consumes=Consumes.PAIRS,
    readout=Readout.GOODNESS,
    groups={"analog": (LabelEmbeddingOptions, NegativeLabelOptions, LayerSpecOptions, AnalogTrainingOptions, InputNormalisationOptions, IntFFOptions)},
    # default epochs: the fewest within 1 point of the best on a digits validation split
    # (bench/bench_family_defaults.py, bench/results/family_defaults.json)
    defaults={"analog": {**CONSTANT_LR, "analog_lr": 0.003, "embedding": "code", "batch_size": 64, "epochs": 30}},
    build=build,
)
