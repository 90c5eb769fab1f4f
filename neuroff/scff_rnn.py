"""Recurrent Self-Contrastive FF: a bidirectional RNN layer trained by SCFF at every time step.

A sample is a sequence x_1..x_T of F features (an image read row by row: T = H rows of
F = W pixels, ``rows_as_sequence``). Each direction d (forward in time, backward in time) has
its own input weights W_d [N, F], recurrent weights R_d [N, N] and bias b_d [N]. For a pair
(positive: (x, x); negative: (x, x') with x' another sample of the batch, ``make_pairs``) the
step of one direction is

    u_t = standardise(concat(a_t, c_t))              the pair's two halves at step t
    y_t = W (u_a,t + u_c,t) + R standardise(h_{t-1}) + 2 b      (tied weights on the halves)
    h_t = triangle(y_t)                               h_0 = 0

and the loss of the layer is ``scff_loss`` over the goodness of every step, G_t = mean_j
relu(y_t,j)^2 ([B, T]; the penalty is the norm of a sample's goodness vector over steps).
h_{t-1} is detached, so each step's gradient is local in time: no backpropagation through time.
The read-out is the last state of both directions, concat(h_T forward, h_1 backward), for the
sequence presented as a positive pair (x, x). The control of the paper is the same probe on the
network with its random initial (recurrent) weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroff.errors import NeuroffError
from neuroff.scff import goodness, make_pairs, standardise, triangle

DIRECTIONS = ("forward", "backward")


def rows_as_sequence(x: torch.Tensor, image_shape: tuple[int, ...]) -> torch.Tensor:
    """Flat images [B, H*W] (or [B, C*H*W]) as sequences of their rows [B, T = H, F = C*W]."""
    if len(image_shape) not in (2, 3) or math.prod(image_shape) != x.shape[1]:
        raise NeuroffError(
            f"a sequence needs images: samples of {x.shape[1]} features do not match the image shape {list(image_shape)}; "
            "use an image dataset (digits, mnist5k, fashion-mnist, idx:<dir>)"
        )
    h = image_shape[-2]
    img = x.view(x.shape[0], *image_shape)
    if img.dim() == 4:  # [B, C, H, W] -> rows carry every channel
        img = img.permute(0, 2, 1, 3)
    return img.reshape(x.shape[0], h, -1)


class SCFFBiRNN(nn.Module):
    """One bidirectional recurrent SCFF layer of ``hidden`` units per direction; the shared model
    interface of the label-free SCFF nets (``label_free``, ``latents``, ``sizes``, ``weights``)."""

    label_free = True

    def __init__(self, image_shape: tuple[int, ...], hidden: int, generator: torch.Generator) -> None:
        super().__init__()
        self.image_shape = tuple(int(n) for n in image_shape)
        if len(self.image_shape) not in (2, 3):
            raise NeuroffError(f"the recurrent SCFF net reads images row by row; image shape {list(image_shape)} is not an image")
        self.steps = self.image_shape[-2]
        self.n_features = math.prod(self.image_shape) // self.steps
        self.hidden = int(hidden)
        self.sizes = [math.prod(self.image_shape), self.hidden]
        self.probe_layers = [0]
        bound_in, bound_rec = 1.0 / self.n_features**0.5, 1.0 / self.hidden**0.5

        def uniform(shape: tuple[int, ...], bound: float) -> nn.Parameter:
            return nn.Parameter(torch.rand(shape, generator=generator) * 2 * bound - bound)

        self.input_weights = nn.ParameterList(uniform((self.hidden, self.n_features), bound_in) for _ in DIRECTIONS)
        self.recurrent_weights = nn.ParameterList(uniform((self.hidden, self.hidden), bound_rec) for _ in DIRECTIONS)
        self.biases = nn.ParameterList(uniform((self.hidden,), bound_in) for _ in DIRECTIONS)

    @property
    def n_layers(self) -> int:
        return 1

    @property
    def weights(self) -> list[torch.Tensor]:
        return [torch.cat([*self.input_weights, *self.recurrent_weights], 1)]

    @property
    def units(self) -> list[nn.Module]:
        """What is trained as one (one optimiser): both directions, whose losses are independent."""
        return [self]

    def step(self, d: int, pair_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """y_t of direction d for the pair's step input [B, 2F] and the previous state h [B, N]."""
        u = standardise(pair_t)
        f = self.n_features
        return F.linear(u[:, :f] + u[:, f:], self.input_weights[d], 2 * self.biases[d]) + F.linear(
            standardise(h.detach()), self.recurrent_weights[d]
        )

    def run(self, d: int, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(goodness of every step [B, T], last state [B, N]) of direction d over pair sequences [B, T, 2F]."""
        order = range(self.steps) if d == 0 else range(self.steps - 1, -1, -1)
        h = pairs.new_zeros(pairs.shape[0], self.hidden)
        g = []
        for t in order:
            y = self.step(d, pairs[:, t], h)
            g.append(goodness(y))
            h = triangle(y)
        return torch.stack(g, 1), h

    def layer_goodness(
        self, layer: int, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(G of positives, G of negatives), each [B, 2T]: every step of both directions."""
        seq = rows_as_sequence(x, self.image_shape)
        pos, neg = make_pairs(seq.transpose(1, 2), generator)  # pair the features (channels) of every step
        pos, neg = pos.transpose(1, 2), neg.transpose(1, 2)
        g_pos = torch.cat([self.run(d, pos)[0] for d in range(len(DIRECTIONS))], 1)
        g_neg = torch.cat([self.run(d, neg)[0] for d in range(len(DIRECTIONS))], 1)
        return g_pos, g_neg

    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NeuroffError("an SCFF net never sees labels and has no goodness prediction; read it with the linear probe")

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        """The last state of both directions for x presented as a positive pair (x, x)."""
        seq = rows_as_sequence(x, self.image_shape)
        pos = torch.cat([seq, seq], -1)
        return {"activations": [torch.cat([self.run(d, pos)[1] for d in range(len(DIRECTIONS))], 1)]}
