"""Building and running one dense or conv layer of a layer spec (``neuroff.layers.spec``): the
one place every analog family (IntFF, SCFF, backprop baselines) makes and runs its layers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroff.core.init import uniform_fan_in
from neuroff.layers.spec import Dense, Layer, Shape


def build_layer(layer: Layer, in_shape: Shape, generator: torch.Generator) -> nn.Module:
    """The torch module of one layer spec, initialised like ``AnalogFFNet`` (uniform in
    +-1/sqrt(fan_in), weight then bias, drawn from ``generator``)."""
    if isinstance(layer, Dense):
        module: nn.Module = nn.Linear(math.prod(in_shape), layer.units)
    else:
        module = nn.Conv2d(in_shape[0], layer.channels, layer.kernel, stride=layer.stride, padding=layer.kernel // 2)
    fan_in = module.weight[0].numel()
    with torch.no_grad():
        module.weight.copy_(uniform_fan_in(module.weight.shape, fan_in, generator))
        module.bias.copy_(uniform_fan_in(module.bias.shape, fan_in, generator))
    return module


ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


def layer_forward(module: nn.Module, layer: Layer, h: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """act(module(h)) (flattening a feature map before a dense layer), then the conv's max-pool."""
    act = ACTIVATIONS[activation]
    if isinstance(layer, Dense):
        return act(module(h.flatten(1)))
    z = act(module(h))
    return F.max_pool2d(z, layer.pool) if layer.pool > 1 else z
