"""Integrated Forward-Forward (Tang, 2023): blocks of 1-3 layers, each trained by backprop on its
own FF loss, chained FF-style with no gradient between blocks.

Goodness and loss of a block whose output z has N units (a dense layer's units, or a conv
layer's C * H * W outputs), for a sample with label s in {0, 1} (1 = positive):

    G(z)    = (1 / N) * sum_j z_j^2                          (mean goodness)
    L(z, s) = softplus(-(2 s - 1) * (G - theta))
            = s * softplus(theta - G) + (1 - s) * softplus(G - theta)
    P       = sigmoid(G - theta),   so L = -log P (s = 1) or -log(1 - P) (s = 0)

with threshold theta (1.5 by default). This is the core's sigma head (``neuroff.core.goodness``)
with G_sum = N * G, alpha = 1 / N and theta_sum = N * theta, so plain FF is the special case of
one-layer blocks (``tests/test_intff.py`` checks both facts).

Block b sees h_b = normalise(detach(z_{b-1})) with normalise(v) = v / (||v|| + 1e-8) over all of
a sample's features; block 0 sees the embedded input x unchanged (as the first layer of the
core's ``AnalogFFNet``), or normalised too with ``normalize_first`` (the paper's form). The length normalisation removes the goodness of the previous block, so
a block cannot be good just by passing it on. Because of the detach, the gradient of the global
objective sum_b L_b with respect to block b's weights is the gradient of L_b alone: each block
runs backprop inside itself only.

Prediction: score(x, c) = sum over the score blocks of G_b(x with label c embedded); the
predicted class is the argmax over c.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroff.core.init import length_normalise
from neuroff.errors import NeuroffError
from neuroff.families.intff.options import IntFFOptions
from neuroff.layers.build import build_layer, layer_forward
from neuroff.layers.spec import BlockSpec, Shape, format_blocks, layer_shapes

DEFAULT_THRESHOLD = IntFFOptions.intff_threshold  # written once, in the options


def mean_goodness(z: torch.Tensor) -> torch.Tensor:
    """G = mean of z^2 over all but the batch dimension."""
    return (z * z).flatten(1).mean(1)


def intff_loss(g: torch.Tensor, s: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> torch.Tensor:
    """Per-sample L = softplus(-(2 s - 1) (G - theta)) (see the module docstring)."""
    sign = 2.0 * s.to(g.dtype) - 1.0
    return F.softplus(-sign * (g - threshold))


class IntFFNet(nn.Module):
    """Blocks of dense/conv ReLU layers with the shared analog model interface (``sizes``,
    ``weights``, ``n_layers``, ``candidate_scores``, ``latents``)."""

    def __init__(
        self,
        spec: BlockSpec,
        n_inputs: int,
        generator: torch.Generator,
        threshold: float = DEFAULT_THRESHOLD,
        normalize_inputs: bool = True,
        score_blocks: list[int] | None = None,
        normalize_first: bool = False,
    ) -> None:
        super().__init__()
        # dense nets take the flat input (data plus any appended label code); conv nets the image
        in_shape = spec.input_shape if spec.has_conv else (n_inputs,)
        if math.prod(in_shape) != n_inputs:
            raise NeuroffError(
                f"--blocks {format_blocks(spec)}: input {'x'.join(map(str, in_shape))} has {math.prod(in_shape)} "
                f"features but the model input has {n_inputs}; conv blocks need --embedding onehot"
            )
        self.spec = BlockSpec(in_shape, spec.blocks)
        shapes = layer_shapes(self.spec, format_blocks(spec))
        self.sizes = [n_inputs, *(math.prod(s) for s in shapes)]
        self.threshold = float(threshold)
        self.normalize_inputs, self.normalize_first = normalize_inputs, normalize_first
        self.score_blocks = list(range(len(spec.blocks))) if score_blocks is None else list(score_blocks)
        bad = [b for b in self.score_blocks if not 0 <= b < len(spec.blocks)]
        if bad:
            raise NeuroffError(f"score blocks {bad} out of range for {len(spec.blocks)} blocks; use --score-layers 0,1,...")
        self.block_in_shapes: list[Shape] = []
        self.blocks = nn.ModuleList()
        shape, out_shapes = in_shape, iter(shapes)
        for block in spec.blocks:
            self.block_in_shapes.append(shape)
            modules = nn.ModuleList()
            for layer in block:
                modules.append(build_layer(layer, shape, generator))
                shape = next(out_shapes)
            self.blocks.append(modules)

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def weights(self) -> list[torch.Tensor]:
        return [m.weight for modules in self.blocks for m in modules]

    def block_input(self, h: torch.Tensor, b: int) -> torch.Tensor:
        """What block b sees of the previous block's output (or of the input, b = 0): detached,
        length-normalised past block 0 (and at block 0 with ``normalize_first``), in the block's input shape."""
        h = h.detach().reshape(-1, *self.block_in_shapes[b])
        return length_normalise(h) if (self.normalize_inputs if b > 0 else self.normalize_first) else h

    def block_forward(self, b: int, h: torch.Tensor) -> list[torch.Tensor]:
        """Every layer output of block b for its input h (gradients flow inside the block)."""
        outs = []
        for module, layer in zip(self.blocks[b], self.spec.blocks[b]):
            h = layer_forward(module, layer, h)
            outs.append(h)
        return outs

    def forward_blocks(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Layer outputs of every block for a flat input batch [B, D]."""
        outs, h = [], x
        for b in range(self.n_blocks):
            outs.append(self.block_forward(b, self.block_input(h, b)))
            h = outs[-1][-1]
        return outs

    def score(self, block_goodness: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([block_goodness[b] for b in self.score_blocks], -1).sum(-1)

    @torch.no_grad()
    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, c, d = x_all.shape
        outs = self.forward_blocks(x_all.reshape(b * c, d))
        return self.score([mean_goodness(block[-1]) for block in outs]).reshape(b, c)

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        return {"activations": [z.flatten(1) for block in self.forward_blocks(x) for z in block]}
