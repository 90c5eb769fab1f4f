"""Self-Contrastive Forward-Forward (Chen, Liu, Laydevant, Grollier): unsupervised FF whose
negatives are made from the data itself. Analog feedforward net ``SCFFNet`` (dense and conv
layers) and its spiking dense form ``SpikingSCFFNet``; the recurrent form is
``neuroff.families.scff.birnn``; the rule that trains them is ``neuroff.families.scff.rule``. See docs/scff.md.

Pairing (``pair_shift``/``make_pairs``). In a mini-batch x_1..x_B, positive i = concat(x_i, x_i),
negative i = concat(x_i, x_{(i+k) mod B}) with one shift k drawn uniformly from 1..B-1 per batch,
so a negative never pairs a sample with itself. Vectors are concatenated along their features,
images along their channels (dimension 1 in both cases).

Paired layer (one shared weight W, bias b), input a pair concat(a, c):

    u = standardise(concat(a, c))        per sample over all its features: zero mean, unit variance
    y = W u_a + W u_c + 2 b              dense: [W W] applied to the concatenation (tied weights);
                                         conv: conv(u_a, W) + conv(u_c, W) = conv(concat, [W W])

Unpaired layer (Algorithm 1 past layer 0), input v:  y = W standardise(v) + b.

Dataset-wide normalisation x -> (x - mu) / sigma with scalar mu, sigma (the paper's
``Normalize``) is an affine map of every feature alike, which ``standardise`` removes exactly;
it is therefore not a separate step here (``test_dataset_normalisation_is_absorbed``).

Goodness and loss of a layer (plasticity uses ReLU; "mean over the channels" is over the units of
a dense layer, over the channels at each position of a conv layer):

    G      = mean over channels of relu(y)^2             ([B] dense, [B, H, W] conv)
    L      = mean_pos softplus(theta_pos - G) + mean_neg softplus(G - theta_neg)
             + lambda * mean_pos ||G||_F

||G||_F is the Frobenius norm of a sample's goodness vector (a single value for a dense layer,
so there it is G itself); it keeps positive activity from growing without bound.

What a layer passes on (and what the linear probe reads) is the "triangle" activation
t = relu(y - mean over channels of y), max-pooled for conv layers with a pool. The probe reads
conv outputs average-pooled to a small grid (``probe_pool``). The next layer's input:

    Algorithm 1: the previous layer's outputs t(y_pos), t(y_neg), unpaired;
    Algorithm 2: the positives' outputs t(y_pos) re-paired by ``make_pairs`` (a fresh shift).

Spiking form: the presynaptic vector of layer 0 is the sum of the two halves' spike trains
(s_a + s_c, values 0..2), which is exactly what the shared W sees: W s_a + W s_c = W (s_a + s_c).
Later layers take the previous layer's spikes (Algorithm 1). With G = mean_j z_j^2 of the
spike traces z, the third factor M = -dL/dG_sum (G_sum = ||z||^2 = N G, the core's convention,
see ``neuroff.core.goodness``) is, per sample with s = 1 for positives,

    M = (1 / N) * ( s * (sigmoid(theta_pos - G) - lambda) - (1 - s) * sigmoid(G - theta_neg) )

and the neo-Hebbian update dW = c (M z) x^T is -dL/dW with c = 2 (``test_modulation_equals_autograd``).
Per-sample standardisation and the triangle do not apply to spikes; the spiking net keeps its
LIF dynamics unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from neuroff.data.augment import random_shift
from neuroff.errors import NeuroffError
from neuroff.layers.build import build_layer
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.layers.spec import BlockSpec, Conv, Dense, Layer, Shape, layer_shapes

if TYPE_CHECKING:  # typing only: the run's options live in the engine, above this layer
    from neuroff.engine.options import FFConfig

STD_EPS = 1e-8
ALGORITHMS = (1, 2)
CHANNELS = 1  # the channel (unit) dimension of [B, N] activity and [B, C, H, W] feature maps


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Per-sample standardisation over all features of a sample: zero mean, unit (population) variance."""
    flat = x.flatten(1)
    flat = flat - flat.mean(1, keepdim=True)
    return (flat / (flat.std(1, unbiased=False, keepdim=True) + STD_EPS)).view_as(x)


def triangle(y: torch.Tensor) -> torch.Tensor:
    """relu(y - mean over the channels): what a layer passes on."""
    return torch.relu(y - y.mean(CHANNELS, keepdim=True))


def pair_shift(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Partner index of every sample for its negative: (i + k) mod B, k uniform in 1..B-1."""
    if batch < 2:
        raise NeuroffError("SCFF pairs a sample with another sample of its mini-batch; use --batch-size >= 2")
    k = int(torch.randint(1, batch, (1,), generator=generator))
    return (torch.arange(batch) + k) % batch


def make_pairs(
    x: torch.Tensor, generator: torch.Generator | None = None, second: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(positives concat(x_i, x_i), negatives concat(x_i, x_partner(i))), concatenated along the
    channels: [B, 2D] for vectors, [B, 2C, H, W] for images. ``second``, if given, is a second
    view of the same samples (another augmentation) used for every right half:
    positives concat(x_i, x2_i), negatives concat(x_i, x2_partner(i))."""
    partner = pair_shift(x.shape[0], generator)
    x2 = x if second is None else second
    return torch.cat([x, x2], CHANNELS), torch.cat([x, x2[partner]], CHANNELS)


def goodness(y: torch.Tensor) -> torch.Tensor:
    """G = mean over the channels of relu(y)^2: one value per sample [B] for a dense layer, one
    per position [B, H, W] for a conv layer."""
    return torch.relu(y).pow(2).mean(CHANNELS)


def scff_loss(
    g_pos: torch.Tensor, g_neg: torch.Tensor, theta_pos: float, theta_neg: float, lam: float
) -> torch.Tensor:
    """L of one layer (module docstring); g_pos [B, ...], g_neg [B', ...] goodness values."""
    penalty = g_pos.reshape(g_pos.shape[0], -1).norm(dim=1).mean()
    return F.softplus(theta_pos - g_pos).mean() + F.softplus(g_neg - theta_neg).mean() + lam * penalty


def modulation(z: torch.Tensor, s: torch.Tensor, theta_pos: float, theta_neg: float, lam: float) -> torch.Tensor:
    """Third factor M = -dL/dG_sum per neuron for traces z [B, N] and labels s [B] (1 = positive),
    for the per-sample loss whose batch mean is ``scff_loss`` (dense layer: ||G||_F = G >= 0)."""
    n = z.shape[-1]
    g = (z * z).mean(-1)
    s = s.to(z.dtype)
    m = s * (torch.sigmoid(theta_pos - g) - lam) - (1 - s) * torch.sigmoid(g - theta_neg)
    return (m / n).unsqueeze(-1).expand_as(z)


def parse_algorithms(text: str, n_layers: int) -> list[int]:
    """'1', '2' or a comma list with one entry per layer 1..L-1 -> [algorithm of layer 1, ...]."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v not in ALGORITHMS for v in values):
        raise NeuroffError(f"--scff-algorithm {text!r} must be 1, 2 or a comma list of them, e.g. 1,2")
    if len(values) == 1:
        return values * (n_layers - 1)
    if len(values) != n_layers - 1:
        raise NeuroffError(
            f"--scff-algorithm {text!r} has {len(values)} entries; give one value or one per layer after the first "
            f"({n_layers - 1} for {n_layers} layers)"
        )
    return values


def trainable_layer(epoch: int, epochs_per_layer: int, n_layers: int) -> int:
    """Layer trained in (0-based) epoch ``epoch``: layers in turn, ``epochs_per_layer`` each;
    epochs past the last layer's turn keep training the last layer."""
    return min(epoch // epochs_per_layer, n_layers - 1)


def probe_pool(t: torch.Tensor, grid: int) -> torch.Tensor:
    """A layer's passed-on output as probe features: feature maps average-pooled to at most
    grid x grid positions per channel (the paper's extra pooling), then flattened."""
    if t.dim() == 4 and grid > 0 and (t.shape[2] > grid or t.shape[3] > grid):
        t = F.adaptive_avg_pool2d(t, (min(grid, t.shape[2]), min(grid, t.shape[3])))
    return t.flatten(1)


class SCFFNet(nn.Module):
    """Feedforward analog SCFF net (dense and conv layers, ``neuroff.layers.spec`` layers, one per
    block) with the shared model interface; no label ever
    reaches it, so it has no goodness prediction and is judged by a linear probe (``Readout.PROBE``)."""

    def __init__(
        self,
        layers: list[Layer],
        input_shape: Shape,
        algorithms: list[int],
        generator: torch.Generator,
        probe_layers: list[int] | None = None,
        probe_grid: int = 2,
        augment: int = 0,
    ) -> None:
        super().__init__()
        self.specs = list(layers)
        self.input_shape = tuple(int(n) for n in input_shape)
        shapes = layer_shapes(BlockSpec(self.input_shape, tuple((layer,) for layer in self.specs)))
        self.in_shapes = [self.input_shape, *shapes[:-1]]
        # sizes[0] is the flat input (what checkpoints record), then each layer's flat output
        self.sizes = [math.prod(self.input_shape), *(math.prod(s) for s in shapes)]
        if len(algorithms) != self.n_layers - 1:
            raise NeuroffError(f"need one algorithm per layer after the first, got {algorithms}")
        # layer 0 always takes a pair; later layers a pair only under Algorithm 2
        self.paired = [True, *[a == 2 for a in algorithms]]
        self.probe_layers = list(range(self.n_layers)) if probe_layers is None else list(probe_layers)
        self.probe_grid = probe_grid
        self.augment = int(augment)
        self.image_shape = self.input_shape
        if self.augment > 0 and len(self.input_shape) == 1:  # a dense net on flat square images
            side = math.isqrt(self.input_shape[0])
            if side * side != self.input_shape[0]:
                raise NeuroffError(f"--scff-augment shifts images, but {self.input_shape[0]} input features are not a square image; pass --scff-augment 0")
            self.image_shape = (1, side, side)
        self.layers = nn.ModuleList(build_layer(spec, shape, generator) for spec, shape in zip(self.specs, self.in_shapes))

    @classmethod
    def dense(cls, sizes: list[int], algorithms: list[int], generator: torch.Generator, **kw) -> "SCFFNet":
        """A dense net of ``sizes`` = [inputs, hidden_1, ...]."""
        return cls([Dense(int(n)) for n in sizes[1:]], (int(sizes[0]),), algorithms, generator, **kw)

    @property
    def n_layers(self) -> int:
        return len(self.specs)

    @property
    def weights(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.layers]

    @property
    def units(self) -> list[nn.Module]:
        """What is trained as one (one optimiser each): every layer."""
        return list(self.layers)

    def as_input(self, x: torch.Tensor) -> torch.Tensor:
        """Flat samples [B, D] in the first layer's input shape ([B, C, H, W] for a conv net)."""
        return x.view(x.shape[0], *self.input_shape)

    def pre_activation(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """y of layer i for its input h: a pair (halves concatenated along the channels) or,
        unpaired, one input. The shared weight acts on the sum of the standardised halves."""
        module, spec, u = self.layers[i], self.specs[i], standardise(h.detach())
        if self.paired[i]:
            c = u.shape[CHANNELS] // 2
            u, bias = u[:, :c] + u[:, c:], 2 * module.bias
        else:
            bias = module.bias
        if isinstance(spec, Dense):
            return F.linear(u.flatten(1), module.weight, bias)
        return F.conv2d(u, module.weight, bias, stride=module.stride, padding=module.padding)

    def pass_on(self, i: int, y: torch.Tensor) -> torch.Tensor:
        """The triangle of y, max-pooled for conv layers with a pool: layer i's output."""
        t = triangle(y)
        spec = self.specs[i]
        return F.max_pool2d(t, spec.pool) if isinstance(spec, Conv) and spec.pool > 1 else t

    def next_inputs(
        self, i: int, t_pos: torch.Tensor, t_neg: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs of layer i + 1 from layer i's passed-on outputs (Algorithm 1 or 2)."""
        if self.paired[i + 1]:
            return make_pairs(t_pos, generator)
        return t_pos, t_neg

    def training_pairs(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive and negative pairs of a mini-batch x [B, D]; with ``augment`` > 0 (images only)
        the two halves are two independently shifted views of the samples."""
        if self.augment <= 0:
            return make_pairs(self.as_input(x), generator)
        img = x.view(x.shape[0], *self.image_shape)
        a, c = random_shift(img, self.augment, generator), random_shift(img, self.augment, generator)
        a, c = (v.reshape(x.shape[0], *self.input_shape) for v in (a, c))
        return make_pairs(a, generator, second=c)

    def layer_goodness(
        self, layer: int, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(G of the positives, G of the negatives) of ``layer`` for a mini-batch x [B, D]; the
        layers below it are frozen and only compute its input."""
        h_pos, h_neg = self.training_pairs(x, generator)
        with torch.no_grad():
            for i in range(layer):
                t_pos = self.pass_on(i, self.pre_activation(i, h_pos))
                t_neg = self.pass_on(i, self.pre_activation(i, h_neg))
                h_pos, h_neg = self.next_inputs(i, t_pos, t_neg, generator)
        return goodness(self.pre_activation(layer, h_pos)), goodness(self.pre_activation(layer, h_neg))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Passed-on output of every layer for samples x [B, D] presented as positives (x, x)."""
        out, h = [], torch.cat([self.as_input(x)] * 2, CHANNELS)
        for i in range(self.n_layers):
            t = self.pass_on(i, self.pre_activation(i, h))
            out.append(t)
            h = torch.cat([t, t], CHANNELS) if i + 1 < self.n_layers and self.paired[i + 1] else t
        return out

    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NeuroffError("an SCFF net never sees labels and has no goodness prediction; read it with the linear probe")

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        """Probe features of the probe layers (--score-layers; default all): their outputs,
        feature maps pooled to ``probe_grid`` x ``probe_grid``."""
        feats = self.features(x)
        return {"activations": [probe_pool(feats[i], self.probe_grid) for i in self.probe_layers]}


class SpikingSCFFNet(SpikingFFNet):
    """The spiking LIF stack of the core with SCFF's third factor; only ``plastic_layer``
    learns (the others get M = 0). Layer 0 sees the summed spike trains of a pair."""

    def __init__(
        self, config: FFConfig, n_inputs: int, generator: torch.Generator, probe_layers: list[int] | None = None
    ) -> None:
        super().__init__(config, n_inputs, generator)
        self.probe_layers = list(range(self.n_layers)) if probe_layers is None else list(probe_layers)
        self.plastic_layer = 0
        self.scff = (config.scff_threshold_pos, config.scff_threshold_neg, config.scff_lambda)

    def third_factor(self, i: int, z: torch.Tensor, is_positive: torch.Tensor) -> torch.Tensor:
        if i != self.plastic_layer:
            return torch.zeros_like(z)
        return modulation(z, is_positive, *self.scff)

    def presynaptic(self, i: int, spikes: torch.Tensor) -> torch.Tensor:
        """With ``scff_centre``, the spikes minus their mean over the layer's inputs, per sample
        and step: the spiking form of the per-sample standardisation before every layer. The
        Hebbian term is then centred too, so ΔW never has a component along the all-ones input
        (no common-mode growth); the subtracted current is feedforward inhibition ∝ input activity."""
        return spikes - spikes.mean(1, keepdim=True) if self.config.scff_centre else spikes

    def pair_spikes(self, xa: torch.Tensor, xc: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Presynaptic input [T, B, D] of a pair: the two halves encoded independently, summed."""
        return self.encode(xa, generator) + self.encode(xc, generator)

    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NeuroffError("an SCFF net never sees labels and has no goodness prediction; read it with the linear probe")

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        """Spike counts of the probe layers for x presented as a positive pair (x, x)."""
        out = self.present(self.pair_spikes(x, x, generator))
        return {"counts": [out.counts[i] for i in self.probe_layers]}
