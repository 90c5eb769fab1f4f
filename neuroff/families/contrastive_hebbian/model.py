"""Contrastive neuron-centric Hebbian learning (Lunelli): the equations and the network.

Hidden layer with outputs Y = act(Z) on a mini-batch of B samples with labels y:

    Ŷ_i   = Y_i / (||Y_i|| + 1e-8)                     (row-normalised outputs)
    S     = Ŷ Ŷᵀ − I
    M_pos = [y_i = y_j, i ≠ j],   M_neg = [y_i ≠ y_j]
    L     = mean(M_neg ∘ |S|) + mean(M_pos ∘ (1 − S))   (means over all B² entries)

same-class outputs are pulled together, different classes pushed to orthogonal (not opposite).
Label smoothing (α > 0) replaces each mask by (1 − α) M + α / (B − 1) off the diagonal. The
layer's local update is ΔW_local = −∂L/∂W with the layer input held fixed (closed form in
``contrastive_local_grad``; ``tests/test_contrastive_hebbian.py`` checks it against autograd).

Output layer (Hebbian descent): ΔW = (T − softmax(X Wᵀ + b))ᵀ X, Δb = Σ_batch (T − P).

Neuron-centric learning rates: the update applied is η · (C_post ⊗ C_pre) ∘ ΔW_local with one
C per output and per input neuron of every layer, initialised to 1 (``update_scale``). The C's
are the network's only ``nn.Parameter``s; weights, biases and pending updates are buffers, so
``sum(p.numel() for p in net.parameters())`` is the number of meta-parameters. How the C's are
learned (the "single forward pass" scheme) is in ``neuroff.families.contrastive_hebbian.rule``.

After every update each linear layer's weights are L2-normalised per input neuron (the columns
of W: each presynaptic neuron's outgoing weights, as the thesis code's ``normalize_weights(dim=0)``;
``--ch-weight-norm fan-out``, the default) or per output neuron (the rows, ``fan-in``); conv
kernels are clipped to [−10, 10] (``finish_weight``). Options that follow the thesis rather than
neuroff's earlier measurements: no biases (``bias=False``), dropout on the hidden outputs while
training (``dropout``), and a conv layer's loss on the convolution's output before its max-pool
(``conv_loss="conv"``; default "pooled": on what the layer passes on). The choice matters for the head: with unit
rows its logits are bounded by ||x||, so on small tanh features (||x|| ≈ 6.6 for the conv net at
initialisation) the softmax stays near uniform and Hebbian descent stays close to a class-prototype
classifier (the single-seed head measurements: `bench/bench_contrastive_hebbian.py --sections head`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroff.core.init import uniform_fan_in
from neuroff.errors import NeuroffError
from neuroff.families.contrastive_hebbian.options import ACTIVATIONS, WEIGHT_NORMS
from neuroff.layers.spec import Conv, Dense, Layer, Shape, conv_output_shape

NORM_EPS = 1e-8
CONV_CLIP = 10.0


# ---------------------------------------------------------------- the local contrastive loss


def pair_masks(labels: torch.Tensor, smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(M_pos, M_neg) [B, B] float; with smoothing α, M' = (1 − α) M + α / (B − 1) off the diagonal."""
    same = labels[:, None] == labels[None, :]
    off = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    m_pos, m_neg = (same & off).float(), (~same).float()
    if smoothing > 0.0 and len(labels) > 1:
        extra = smoothing / (len(labels) - 1) * off.float()
        m_pos, m_neg = (1 - smoothing) * m_pos + extra, (1 - smoothing) * m_neg + extra
    return m_pos, m_neg


def normalise_rows(y: torch.Tensor) -> torch.Tensor:
    """Ŷ = Y / (||Y|| + ε), one row per sample (a feature map is flattened first)."""
    y = y.flatten(1)
    return y / (y.norm(dim=1, keepdim=True) + NORM_EPS)


def similarity(y: torch.Tensor) -> torch.Tensor:
    """S = Ŷ Ŷᵀ − I."""
    yh = normalise_rows(y)
    return yh @ yh.T - torch.eye(len(yh), dtype=yh.dtype, device=yh.device)


def contrastive_loss(y: torch.Tensor, m_pos: torch.Tensor, m_neg: torch.Tensor) -> torch.Tensor:
    """L = mean(M_neg ∘ |S|) + mean(M_pos ∘ (1 − S)) of the outputs y [B, ...]."""
    s = similarity(y)
    return (m_neg * s.abs()).mean() + (m_pos * (1 - s)).mean()


def contrastive_output_grad(y: torch.Tensor, m_pos: torch.Tensor, m_neg: torch.Tensor) -> torch.Tensor:
    """∂L/∂Y in closed form (shape of y).

    With u = ||Y_i|| + ε and G = ∂L/∂S = (M_neg ∘ sign S − M_pos) / B²:
    ∂L/∂Ŷ = (G + Gᵀ) Ŷ, and through the normalisation ∂L/∂Y_i = g_i / u − Y_i (Y_i·g_i) / (||Y_i|| u²).
    """
    flat = y.flatten(1)
    norm = flat.norm(dim=1, keepdim=True)
    u = norm + NORM_EPS
    yh = flat / u
    s = yh @ yh.T - torch.eye(len(yh), dtype=yh.dtype, device=yh.device)
    g_s = (m_neg * s.sign() - m_pos) / s.numel()
    g = (g_s + g_s.T) @ yh
    # a zero row (all-dead ReLU) has no direction: its radial term is 0, not 0/0
    dot = (flat * g).sum(1, keepdim=True)
    radial = torch.where(norm > 0, dot / (norm * u * u), torch.zeros_like(dot))
    return (g / u - flat * radial).reshape(y.shape)


# ---------------------------------------------------------------- layers


def activation_grad(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """act'(z) given y = act(z)."""
    return 1 - y * y if name == "tanh" else (z > 0).to(z.dtype)


def activate(name: str, z: torch.Tensor) -> torch.Tensor:
    return torch.tanh(z) if name == "tanh" else torch.relu(z)


def layer_pre(layer: Layer, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Z = x Wᵀ + b (dense; a feature map is flattened) or the convolution with padding K // 2."""
    if isinstance(layer, Dense):
        return F.linear(x.flatten(1), w, b)
    return F.conv2d(x, w, b, stride=layer.stride, padding=layer.kernel // 2)


def layer_post(layer: Layer, act: str, z: torch.Tensor) -> torch.Tensor:
    """act(Z), then the conv layer's max-pool."""
    y = activate(act, z)
    return F.max_pool2d(y, layer.pool) if isinstance(layer, Conv) and layer.pool > 1 else y


def dropout_mask(shape: torch.Size, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout: each entry 0 with probability p, else 1 / (1 − p), drawn from ``generator``."""
    keep = torch.rand(shape, generator=generator) >= p
    return keep.to(torch.get_default_dtype()) / (1.0 - p)


def contrastive_local_grad(
    layer: Layer,
    act: str,
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    m_pos: torch.Tensor,
    m_neg: torch.Tensor,
    conv_loss: str = "pooled",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂L/∂W, ∂L/∂b) of the layer's contrastive loss with its input x held fixed.

    Dense (and a conv layer with ``conv_loss="conv"``, whose loss is on act(Z) before the pool):
    closed form, ∂L/∂Z = ∂L/∂Y ∘ act'(Z), ∂L/∂W = (∂L/∂Z)ᵀ x (conv: ``conv2d_weight``). Conv with
    the loss on the pooled output (default): ∂L/∂Y in closed form, back through the max-pool and
    activation by autograd on this layer's output only, then the convolution's weight gradient
    (``torch.nn.grad.conv2d_weight``)."""
    x, w, b = x.detach(), w.detach(), b.detach()
    with torch.no_grad():
        z = layer_pre(layer, x, w, b)
    if isinstance(layer, Conv) and conv_loss == "conv":
        y = activate(act, z)
        gz = contrastive_output_grad(y, m_pos, m_neg) * activation_grad(act, z, y)
        gw = torch.nn.grad.conv2d_weight(x, w.shape, gz, stride=layer.stride, padding=layer.kernel // 2)
        return gw, gz.sum((0, 2, 3))
    if isinstance(layer, Dense):
        y = activate(act, z)
        gz = contrastive_output_grad(y, m_pos, m_neg) * activation_grad(act, z, y)
        return gz.T @ x.flatten(1), gz.sum(0)
    z.requires_grad_(True)
    with torch.enable_grad():
        y = layer_post(layer, act, z)
        (gz,) = torch.autograd.grad(y, z, contrastive_output_grad(y.detach(), m_pos, m_neg))
    gw = torch.nn.grad.conv2d_weight(x, w.shape, gz, stride=layer.stride, padding=layer.kernel // 2)
    return gw, gz.sum((0, 2, 3))


def hebbian_descent(x: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Output layer: ΔW = (T − softmax(logits))ᵀ X, Δb = Σ (T − P) (an update, not a gradient)."""
    err = F.one_hot(labels, logits.shape[1]).to(logits.dtype) - torch.softmax(logits.detach(), dim=1)
    return err.T @ x.detach().flatten(1), err.sum(0)


def update_scale(layer: Layer, c: list[torch.Tensor]) -> torch.Tensor:
    """C_post ⊗ C_pre [O, I] (dense) or C_post ⊗ C_pre ⊗ C_h ⊗ C_w [O, I, Kh, Kw] (conv); c = [post, pre(, h, w)]."""
    if isinstance(layer, Dense):
        return c[0][:, None] * c[1][None, :]
    return c[0][:, None, None, None] * c[1][None, :, None, None] * c[2][None, None, :, None] * c[3][None, None, None, :]


def finish_weight(layer: Layer, w: torch.Tensor, norm: str = "fan-out") -> torch.Tensor:
    """After an update: a dense layer's weights L2-normalised per input neuron (``fan-out``: the
    columns of W [O, I], each input's outgoing weights) or per output neuron (``fan-in``: the
    rows); conv kernels clipped to [−10, 10]."""
    if isinstance(layer, Dense):
        return w / (w.norm(dim=0 if norm == "fan-out" else 1, keepdim=True) + NORM_EPS)
    return w.clamp(-CONV_CLIP, CONV_CLIP)


def _dots(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    """a_v · b_v for every row (dim 1) or column (dim 0), keepdim. Rows: einsum, no temporary;
    columns: one elementwise product summed over rows, several times faster than a strided
    reduction along dim 0 (``norm(dim=0)``, einsum "ij,ij->j") on one thread."""
    if dim == 1:
        return torch.einsum("ij,ij->i", a, b)[:, None]
    return (a * b).sum(0, keepdim=True)


class DenseStep(torch.autograd.Function):
    """finish(W + η (C_post ⊗ C_pre) ∘ ΔW) for a dense layer, fused: the same value and the same
    C-gradient as ``finish_weight(layer, w + eta * update_scale(layer, c) * dw, norm)`` (the test
    checks both), without materialising C_post ⊗ C_pre or keeping five weight-sized intermediates
    for the backward pass: one temporary in each direction (the weight-sized elementwise ops were
    about half of a 4×2000 step). W and ΔW are constants (never differentiated); only the C's are.
    ``dim`` is the axis normalised over: 1 for rows (fan-in), 0 for columns (fan-out).

    With W' = W + η (C_post ⊗ C_pre) ∘ ΔW, the normalised vectors v of W' (rows or columns),
    u = ||v|| + ε, W'' = W' / u and G = ∂L/∂W'': ∂L/∂v = (G_v − W''_v (W''_v·G_v) u / ||v||) / u,
    H = ∂L/∂W' ∘ ΔW, ∂L/∂C_post = η H C_pre, ∂L/∂C_pre = η Hᵀ C_post."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, dw: torch.Tensor, c_post: torch.Tensor, c_pre: torch.Tensor, eta: float, dim: int) -> torch.Tensor:
        out = dw * c_post[:, None]
        out.mul_(c_pre[None, :]).mul_(eta).add_(w)
        norm = _dots(out, out, dim).sqrt_()
        u = norm + NORM_EPS
        out.div_(u)
        ctx.save_for_backward(out, norm, dw, c_post, c_pre)
        ctx.eta, ctx.dim = eta, dim
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        out, norm, dw, c_post, c_pre = ctx.saved_tensors
        u = norm + NORM_EPS
        radial = _dots(grad, out, ctx.dim)  # W''_v · G_v
        # a zero vector has no direction: its radial term is 0 (autograd's subgradient of the norm)
        radial = torch.where(norm > 0, radial * u / norm, torch.zeros_like(radial))
        h = torch.addcmul(grad, out, radial, value=-1.0).div_(u).mul_(dw)
        return None, None, ctx.eta * (h @ c_pre), ctx.eta * (c_post @ h), None, None


def stepped_weight(
    layer: Layer, w: torch.Tensor, dw: torch.Tensor, c: list[torch.Tensor], eta: float, norm: str = "fan-out"
) -> torch.Tensor:
    """finish(W + η (C ⊗ ...) ∘ ΔW): fused for dense layers (``DenseStep``), plain autograd for conv."""
    if isinstance(layer, Dense):
        return DenseStep.apply(w, dw, c[0], c[1], eta, 0 if norm == "fan-out" else 1)
    return finish_weight(layer, w + eta * update_scale(layer, c) * dw, norm)


# ---------------------------------------------------------------- the network


class ContrastiveHebbianNet(nn.Module):
    """Hidden dense/conv layers (tanh or ReLU, no batch norm) and a dense softmax head.

    Buffers ``weight_i``, ``bias_i`` (the weights), ``delta_w_i``, ``delta_b_i`` (the local
    update of the previous step, with momentum if any, still to be applied); parameters
    ``c_i_post``, ``c_i_pre`` (+ ``c_i_h``, ``c_i_w`` for conv): the neuron-centric learning
    rates. Layer i = n_hidden is the head."""

    def __init__(
        self,
        layers: list[Layer],
        in_shape: Shape,
        n_classes: int,
        generator: torch.Generator,
        activation: str = "tanh",
        eta: float = 1e-3,
        eta_conv: float = 1e-4,
        weight_norm: str = "fan-out",
        bias: bool = True,
        dropout: float = 0.0,
        conv_loss: str = "pooled",
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise NeuroffError(f"dropout={dropout} must lie in [0, 1)")
        self.use_bias, self.dropout, self.conv_loss = bias, float(dropout), conv_loss
        if activation not in ACTIVATIONS:
            raise NeuroffError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")
        if weight_norm not in WEIGHT_NORMS:
            raise NeuroffError(f"unknown weight norm {weight_norm!r}; use one of {', '.join(WEIGHT_NORMS)}")
        self.activation = activation
        self.weight_norm = weight_norm
        self.layer_specs: list[Layer] = [*layers, Dense(n_classes)]
        self.in_shape = in_shape
        self.eta, self.eta_conv = float(eta), float(eta_conv)
        shape, sizes = in_shape, [math.prod(in_shape)]
        self.c = nn.ParameterList()
        for i, layer in enumerate(self.layer_specs):
            if isinstance(layer, Conv):
                if len(shape) != 3:
                    raise NeuroffError("a conv layer cannot follow a dense one; put the conv layers first")
                w_shape: tuple[int, ...] = (layer.channels, shape[0], layer.kernel, layer.kernel)
                out_shape = conv_output_shape(layer, shape)
            else:
                w_shape, out_shape = (layer.units, math.prod(shape)), (layer.units,)
            fan_in = math.prod(w_shape[1:])
            w = uniform_fan_in(w_shape, fan_in, generator)
            b = uniform_fan_in((w_shape[0],), fan_in, generator)
            if not bias:  # drawn anyway, so the weights are the same draws with and without biases
                b = torch.zeros_like(b)
            self.register_buffer(f"weight_{i}", finish_weight(layer, w, weight_norm))
            self.register_buffer(f"bias_{i}", b)
            self.register_buffer(f"delta_w_{i}", torch.zeros(w_shape))
            self.register_buffer(f"delta_b_{i}", torch.zeros(w_shape[0]))
            self.c.append(nn.ParameterList(nn.Parameter(torch.ones(n)) for n in (w_shape[0], w_shape[1], *w_shape[2:])))
            shape = out_shape
            sizes.append(math.prod(out_shape))
        self.sizes = sizes

    @property
    def n_layers(self) -> int:
        return len(self.layer_specs)

    @property
    def weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"weight_{i}") for i in range(self.n_layers)]

    def layer_params(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"weight_{i}"), getattr(self, f"bias_{i}")

    def n_meta_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def n_weights(self) -> int:
        return sum(w.numel() + getattr(self, f"bias_{i}").numel() for i, w in enumerate(self.weights))

    def stepped_params(self, i: int, eta_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer i's weights after its pending update, as functions of the C's (and only of them):
        W' = finish(W + η (C ⊗ ...) ∘ ΔW), b' = b + η C_post ∘ Δb, with η the layer's Hebbian rate
        times ``eta_scale`` (the rule's schedule). The stored weights and updates enter detached, so
        a backward pass through W' reaches the C's and never a weight."""
        layer, c = self.layer_specs[i], list(self.c[i])
        eta = (self.eta_conv if isinstance(layer, Conv) else self.eta) * eta_scale
        w, b = (t.detach() for t in self.layer_params(i))
        dw, db = getattr(self, f"delta_w_{i}").detach(), getattr(self, f"delta_b_{i}").detach()
        return stepped_weight(layer, w, dw, c, eta, self.weight_norm), (b + eta * c[0] * db if self.use_bias else b)

    def forward_with(
        self, x: torch.Tensor, params: list[tuple[torch.Tensor, torch.Tensor]], generator: torch.Generator | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(hidden outputs, logits) of a flat input batch [B, D] under the given per-layer (W, b).
        With a ``generator`` (training) and ``dropout`` > 0 every hidden output is dropped out
        with masks drawn from it: the next layer (and the head) sees, and learns from, the
        dropped-out output."""
        h = x.reshape(-1, *self.in_shape)
        hidden = []
        for layer, (w, b) in zip(self.layer_specs[:-1], params[:-1]):
            h = layer_post(layer, self.activation, layer_pre(layer, h, w, b))
            if generator is not None and self.dropout > 0.0:
                h = h * dropout_mask(h.shape, self.dropout, generator)
            hidden.append(h)
        w, b = params[-1]
        return hidden, F.linear(h.flatten(1), w, b)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with(x, [self.layer_params(i) for i in range(self.n_layers)])[1]

    @torch.no_grad()
    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """softmax probabilities [B, C]; x_all carries no label (embedding "none"), so the
        candidates are identical and the first one is read."""
        return torch.softmax(self.logits(x_all[:, 0]), dim=1)

    @torch.no_grad()
    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        hidden, _ = self.forward_with(x, [self.layer_params(i) for i in range(self.n_layers)])
        return {"activations": [h.flatten(1) for h in hidden]}
