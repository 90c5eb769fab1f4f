"""Recurrent Self-Contrastive FF: a bidirectional RNN layer trained by SCFF at every time step.

A sample is a sequence x_1..x_T of F features (an image read row by row: T = H rows of
F = W pixels, ``rows_as_sequence``). Each direction (forward in time, backward in time) has its
own input weights W [N, F], recurrent weights R [N, N] and bias b [N]. The layer's input at step
t is the row and the previous state, (x_t, h_{t-1}), and SCFF pairs that whole input: a positive
pairs a sample's input with itself, a negative pairs it with the input of another sample of the
batch (x'_t, h'_{t-1}) (``pair_shift``), both halves through the shared weights:

    y_t = W (u_t + u'_t) + R (r_{t-1} + r'_{t-1}) + 2 b
    u_t, u'_t = halves of standardise(concat(x_t, x'_t))      (as in a dense SCFF layer)
    r_{t-1} = standardise(h_{t-1})                             (the state standardised each step)
    h_t = triangle(y_t of the positive (x, x)),   h_0 = 0     (every sample's own trajectory)

so a negative differs from a positive in the current row and in the history, and R is trained
to make the histories of a matching pair add up. The loss of the layer is ``scff_loss`` over the
goodness of every step and direction, G_t = mean_j relu(y_t,j)^2 ([B, 2T]; the penalty is the
norm of a sample's goodness vector). h_{t-1} is detached, so each step's gradient is local in
time: no backpropagation through time. The read-out is the last state of both directions,
concat(h_T forward, h_1 backward). The control of the paper is the same probe on the network
with its random initial (input and recurrent) weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroff.core.init import uniform_fan_in
from neuroff.errors import NeuroffError
from neuroff.families.scff.model import goodness, pair_shift, standardise, triangle

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
    interface of the label-free SCFF nets (``latents``, ``sizes``, ``weights``)."""

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

        def uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
            return nn.Parameter(uniform_fan_in(shape, fan_in, generator))

        h, d = self.hidden, self.n_features
        self.input_weights = nn.ParameterList(uniform((h, d), d) for _ in DIRECTIONS)
        self.recurrent_weights = nn.ParameterList(uniform((h, h), h) for _ in DIRECTIONS)
        self.biases = nn.ParameterList(uniform((h,), d) for _ in DIRECTIONS)

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

    def pre_activation(self, d: int, rows: torch.Tensor, states: torch.Tensor, partner: torch.Tensor | None = None) -> torch.Tensor:
        """y of direction d for the pairs (own input, partner's input), at one or many steps.

        ``rows`` [B, ..., F] the rows x_t, ``states`` [B, ..., N] the previous states h_{t-1};
        ``partner`` None for positives (the partner is the sample itself), else the partner index
        of every sample. Both halves pass through the shared W and R (tied weights)."""
        other = slice(None) if partner is None else partner
        u = standardise(torch.cat([rows, rows[other]], -1).flatten(0, -2)).view(*rows.shape[:-1], -1)
        f, r = self.n_features, standardise(states.detach().flatten(0, -2)).view_as(states)
        return (
            F.linear(u[..., :f] + u[..., f:], self.input_weights[d], 2 * self.biases[d])
            + F.linear(r + r[other], self.recurrent_weights[d])
        )

    def run(self, d: int, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Direction d over sequences [B, T, F], each paired with itself: (goodness of every step
        [B, T], previous state of every step [B, T, N] (h_{t-1}, in time order), last state [B, N])."""
        steps = seq.shape[1]
        order = range(steps) if d == 0 else range(steps - 1, -1, -1)
        h = seq.new_zeros(seq.shape[0], self.hidden)
        g, prev = [None] * steps, [None] * steps
        for t in order:
            prev[t] = h
            y = self.pre_activation(d, seq[:, t], h)
            g[t] = goodness(y)
            h = triangle(y).detach()  # the next step's gradient stops here: no backpropagation through time
        return torch.stack(g, 1), torch.stack(prev, 1), h

    def layer_goodness(
        self, layer: int, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(G of positives, G of negatives), each [B, 2T]: every step of both directions. The
        positives are the samples' own trajectories; a negative at step t pairs (x_t, h_{t-1})
        with the partner's (x'_t, h'_{t-1}) from the partner's own trajectory."""
        seq = rows_as_sequence(x, self.image_shape)
        partner = pair_shift(seq.shape[0], generator)
        g_pos, g_neg = [], []
        for d in range(len(DIRECTIONS)):
            g, prev, _ = self.run(d, seq)
            g_pos.append(g)
            g_neg.append(goodness(self.pre_activation(d, seq, prev, partner).transpose(1, 2)))
        return torch.cat(g_pos, 1), torch.cat(g_neg, 1)

    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NeuroffError("an SCFF net never sees labels and has no goodness prediction; read it with the linear probe")

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        """The last state of both directions for x presented as a positive pair (x, x)."""
        seq = rows_as_sequence(x, self.image_shape)
        return {"activations": [torch.cat([self.run(d, seq)[2] for d in range(len(DIRECTIONS))], 1)]}
