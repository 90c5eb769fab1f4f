"""Which model and rule a configuration trains: the one place a rule family is chosen.

A family builder takes (config, n_inputs, generator) and returns (model, rule). The model must
offer ``sizes``, ``weights``, ``n_layers``, ``candidate_scores(x_all, generator)`` and
``latents(x, generator)`` (see ``neuroff.models``); the rule must offer
``step(model, x_pos, x_neg, generator) -> {"pairs", "pair_correct", ...}`` and, when it has
state of its own (optimisers), ``state_dict``/``load_state_dict``.
"""

from __future__ import annotations

from typing import Any

import torch

from neuroff.blockspec import blocks_from_layers, format_blocks, parse_blocks
from neuroff.config import FFConfig
from neuroff.errors import NeuroffError
from neuroff.intff import IntFFNet
from neuroff.models import AnalogFFNet, SpikingFFNet
from neuroff.rules.ff_autograd import FFAutogradRule
from neuroff.rules.intff import IntFFRule
from neuroff.rules.spiking import NeoHebbianRule


def _ff(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    if config.mode == "spiking":
        return SpikingFFNet(config, n_inputs, generator), NeoHebbianRule(config.effective_batch_size, config.sparse)
    model = AnalogFFNet(config, n_inputs, generator)
    return model, FFAutogradRule(model, config.optimizer, config.analog_lr, config.effective_batch_size)


def _intff(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    """IntFF (neuroff.intff): --blocks, or one block per --layers entry (plain FF with IntFF's loss)."""
    if config.mode != "analog":
        raise NeuroffError("IntFF trains its blocks by backprop and has no spiking form; pass --mode analog")
    extra = config.code_bits if config.embedding == "code" else 0
    if config.blocks is None:
        spec = blocks_from_layers(n_inputs - extra, config.layers)
    else:
        spec = parse_blocks(config.blocks)
        if spec.n_inputs != n_inputs - extra:
            raise NeuroffError(
                f"--blocks {format_blocks(spec)} starts with {spec.n_inputs} inputs but the data has "
                f"{n_inputs - extra} features; start the spec with {n_inputs - extra}"
            )
    model = IntFFNet(spec, n_inputs, generator, config.intff_threshold, config.normalize_inputs, config.score_layers)
    return model, IntFFRule(model, config.optimizer, config.analog_lr, config.effective_batch_size)


BUILDERS = {"ff": _ff, "intff": _intff}


def build_model_and_rule(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    return BUILDERS[config.rule](config, n_inputs, generator)
