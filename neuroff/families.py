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

from neuroff.config import FFConfig
from neuroff.models import AnalogFFNet, SpikingFFNet
from neuroff.rules.ff_autograd import FFAutogradRule
from neuroff.rules.spiking import NeoHebbianRule


def _ff(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    if config.mode == "spiking":
        return SpikingFFNet(config, n_inputs, generator), NeoHebbianRule(config.batch_size, config.sparse)
    model = AnalogFFNet(config, n_inputs, generator)
    return model, FFAutogradRule(model, config.optimizer, config.analog_lr, config.batch_size)


BUILDERS = {"ff": _ff}


def build_model_and_rule(config: FFConfig, n_inputs: int, generator: torch.Generator) -> tuple[Any, Any]:
    return BUILDERS[config.rule](config, n_inputs, generator)
