"""The analog twin of the spiking FF stack: Linear + ReLU layers, each trained on its own FF loss
(``neuroff.families.ff.analog_rule``); same model interface as ``SpikingFFNet``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from neuroff.core.goodness import HeadParams, check_head, layers_score, probability
from neuroff.core.init import length_normalise
from neuroff.layers.build import build_layer
from neuroff.layers.spec import Dense

if TYPE_CHECKING:  # typing only: the run's options live in the engine, above this layer
    from neuroff.engine.options import FFConfig


class AnalogFFNet(nn.Module):
    """The analog twin: Linear + ReLU layers, each trained on its own FF loss (inputs detached)."""

    def __init__(self, config: FFConfig, n_inputs: int, generator: torch.Generator) -> None:
        super().__init__()
        self.config = config
        self.sizes = [n_inputs, *[int(n) for n in config.layers]]
        self.head = HeadParams(config.head, config.alpha, config.theta, config.eps)
        for n in self.sizes[1:]:
            check_head(self.head, n)
        self.layers = seeded_linear_layers(self.sizes, generator)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def weights(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.layers]

    def layer_input(self, z: torch.Tensor, i: int) -> torch.Tensor:
        """What layer i sees of the previous output: detached (no gradient crosses layers) and,
        past the first layer, length-normalised so goodness cannot pass through unchanged."""
        z = z.detach()
        return length_normalise(z) if i > 0 and self.config.normalize_inputs else z

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, z = [], x
        for i, layer in enumerate(self.layers):
            z = torch.relu(layer(self.layer_input(z, i)))
            outs.append(z)
        return outs

    @torch.no_grad()
    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return layers_score(self.layer_scores(x_all, generator), self.config.score_layers)

    @torch.no_grad()
    def layer_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """[S, C, L] each layer's P(positive) for each candidate."""
        b, c, d = x_all.shape
        return torch.stack([probability(z, self.head) for z in self.layer_outputs(x_all.reshape(b * c, d))], -1).reshape(b, c, -1)

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        return {"activations": self.layer_outputs(x)}


def seeded_linear_layers(sizes: list[int], generator: torch.Generator) -> nn.ModuleList:
    """Linear layers sizes[i] -> sizes[i+1] with PyTorch's default U(-1/sqrt(fan_in), +) init,
    drawn from ``generator`` so the seed fixes them."""
    return nn.ModuleList(build_layer(Dense(n), (d,), generator) for d, n in zip(sizes[:-1], sizes[1:]))
