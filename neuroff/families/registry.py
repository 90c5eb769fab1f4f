"""Which model and rule a configuration trains: the one place a rule family is chosen.

A family builder takes (config, n_inputs, generator) and returns (model, rule). The model must
offer ``sizes``, ``weights``, ``n_layers``, ``candidate_scores(x_all, generator)`` and
``latents(x, generator)`` (see ``neuroff.layers.lif_stack``); the rule must offer
``step(model, x_pos, x_neg, generator) -> {"pairs", "pair_correct", ...}`` and, when it has
state of its own (optimisers), ``state_dict``/``load_state_dict``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from neuroff.layers.spec import blocks_from_layers, format_blocks, parse_blocks
from neuroff.config import FFConfig
from neuroff.errors import NeuroffError
from neuroff.families.intff.model import IntFFNet
from neuroff.families.ff.model import AnalogFFNet
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.families.ff.analog_rule import FFAutogradRule
from neuroff.families.intff.rule import IntFFRule
from neuroff.families.ff.spiking_rule import NeoHebbianRule


def _ff(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    if config.mode == "spiking":
        return SpikingFFNet(config, n_inputs, generator), NeoHebbianRule(config.effective_batch_size, config.sparse)
    model = AnalogFFNet(config, n_inputs, generator)
    return model, FFAutogradRule(model, config.optimizer, config.analog_lr, config.effective_batch_size)


def _intff(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    """IntFF (neuroff.families.intff.model): --blocks, or one block per --layers entry (plain FF with IntFF's loss)."""
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


def _contrastive_hebbian(config: FFConfig, n_inputs: int, generator: torch.Generator, n_classes: int) -> tuple[Any, Any]:
    """Contrastive neuron-centric Hebbian (neuroff.families.contrastive_hebbian.model): hidden --layers (or the
    layers of --blocks, conv included) and a softmax head over the dataset's classes."""
    from neuroff.families.contrastive_hebbian.model import ContrastiveHebbianNet
    from neuroff.families.contrastive_hebbian.rule import ContrastiveHebbianRule

    if config.mode != "analog":
        raise NeuroffError("contrastive-hebbian has no spiking form; pass --mode analog")
    spec = blocks_from_layers(n_inputs, config.layers) if config.blocks is None else parse_blocks(config.blocks)
    if spec.n_inputs != n_inputs:
        raise NeuroffError(f"--blocks {format_blocks(spec)} starts with {spec.n_inputs} inputs but the data has {n_inputs} features")
    model = ContrastiveHebbianNet(
        spec.layers, spec.input_shape, n_classes, generator, config.ch_activation, config.ch_eta, config.ch_eta_conv,
        config.ch_weight_norm,
    )
    rule = ContrastiveHebbianRule(
        model, config.ch_meta_lr, config.ch_meta_weight_decay, config.ch_momentum, config.ch_smoothing, config.effective_batch_size,
        config.ch_eta_decay,
    )
    return model, rule


def _scff(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    """Self-contrastive FF (neuroff.families.scff.model): unsupervised; dense --layers or conv/dense --blocks
    (one layer per block), a Bi-RNN over image rows (--scff-birnn), or the spiking dense net."""
    from neuroff.layers.spec import Dense
    from neuroff.families.scff.rule import SCFFRule, SpikingSCFFRule
    from neuroff.families.scff.model import SCFFNet, SpikingSCFFNet, parse_algorithms
    from neuroff.families.scff.birnn import SCFFBiRNN

    if config.scff_epochs_per_layer < 1:
        raise NeuroffError(f"--scff-epochs-per-layer {config.scff_epochs_per_layer} must be >= 1")
    if config.effective_batch_size < 2:
        raise NeuroffError("SCFF pairs each sample with another of its mini-batch; pass --batch-size 2 or more, e.g. 32")
    spec = parse_blocks(config.blocks) if config.blocks is not None else None
    if spec is not None:
        if spec.n_inputs != n_inputs:
            raise NeuroffError(f"--blocks {format_blocks(spec)} starts with {spec.n_inputs} inputs but the data has {n_inputs} features")
        if any(len(block) != 1 for block in spec.blocks):
            raise NeuroffError(f"--blocks {format_blocks(spec)}: SCFF trains one layer at a time; give one layer per block, e.g. 1x28x28,c64k3p2,c128k3p2")
    if config.mode == "spiking" and (spec is not None or config.scff_birnn):
        raise NeuroffError("spiking SCFF is dense only; pass --layers (without --blocks or --scff-birnn)")
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
        if any(a != 1 for a in parse_algorithms(config.scff_algorithm, len(config.layers))):
            raise NeuroffError("spiking SCFF feeds each layer the previous layer's spikes (Algorithm 1); pass --scff-algorithm 1")
        model = SpikingSCFFNet(config, n_inputs, generator, config.score_layers)
        return model, SpikingSCFFRule(config.effective_batch_size, config.scff_epochs_per_layer)
    elif spec is not None:
        algorithms = parse_algorithms(config.scff_algorithm, len(spec.layers))
        model = SCFFNet(spec.layers, spec.input_shape, algorithms, generator, config.score_layers, config.scff_probe_grid, config.scff_augment)
    else:
        algorithms = parse_algorithms(config.scff_algorithm, len(config.layers))
        model = SCFFNet.dense([n_inputs, *config.layers], algorithms, generator, probe_layers=config.score_layers, augment=config.scff_augment)
    thresholds = (config.scff_threshold_pos, config.scff_threshold_neg)
    rule = SCFFRule(model, config.optimizer, config.analog_lr, config.effective_batch_size, thresholds,
                    config.scff_lambda, config.scff_epochs_per_layer)  # fmt: skip
    return model, rule


BUILDERS = {"ff": _ff, "intff": _intff, "scff": _scff}
# families whose model ends in a classifier head: their builders also take the class count
CLASSIFIER_BUILDERS = {"contrastive-hebbian": _contrastive_hebbian}


def build_model_and_rule(config: FFConfig, n_inputs: int, generator: torch.Generator, n_classes: int = 10) -> tuple[Any, Any]:
    if config.rule in CLASSIFIER_BUILDERS:
        return CLASSIFIER_BUILDERS[config.rule](config, n_inputs, generator, n_classes)
    return BUILDERS[config.rule](config, n_inputs, generator)
