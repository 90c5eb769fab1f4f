"""Goodness, the two probability heads, the FF loss and its closed-form third factor.

For a layer output z (ReLU activity, or a postsynaptic spike trace) and label s in {0, 1}
(1 = positive sample):

    G = ||z||^2
    sigma head:  P = sigmoid(alpha * (G - theta))
    sym head:    z = [z_pos, z_neg] (first half, second half),
                 G+ = ||z_pos||^2, G- = ||z_neg||^2, S = G+ + G- + 2 eps,
                 P = (G+ + eps) / S
    loss:        L = -s log P - (1 - s) log(1 - P)          (binary cross-entropy)

Third factor. ``modulation`` returns M = -dL/dG per neuron, so that, because dG/dz = 2 z,

    -dL/dz = 2 * M * z        and for z = relu(W x + b):   -dL/dW = 2 * (M * z) x^T

which is the neo-Hebbian three-factor rule dW = c * M * g(y) x^T with g(y) = z. In closed form:

    sigma:  M = alpha * (s - P)                        (one scalar per sample)
    sym, positive sample (d log P / dG):
            on z_pos:  (G- + eps) / ((G+ + eps) * S)
            on z_neg:  -1 / S
    sym, negative sample (d log(1 - P) / dG): the mirror image,
            on z_pos:  -1 / S
            on z_neg:  (G+ + eps) / ((G- + eps) * S)

(The issue text writes G- instead of G- + eps in the first numerator; the exact derivative has
the eps, and the test against autograd holds only with it.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuroff.core.params import HEADS, HeadParams
from neuroff.errors import NeuroffError


def check_head(head: HeadParams, n_neurons: int) -> None:
    if head.kind not in HEADS:
        raise NeuroffError(f"unknown head {head.kind!r}; use one of {', '.join(HEADS)}")
    if head.kind == "sym" and n_neurons % 2:
        raise NeuroffError(f"the sym head splits a layer in two halves; layer size {n_neurons} must be even")


def goodness(z: torch.Tensor) -> torch.Tensor:
    """G = ||z||^2 over the last dimension."""
    return (z * z).sum(-1)


def half_goodness(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(G+, G-) of the positive (first) and negative (second) halves."""
    n = z.shape[-1] // 2
    return goodness(z[..., :n]), goodness(z[..., n:])


def log_probabilities(z: torch.Tensor, head: HeadParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(log P, log(1 - P)), computed stably."""
    if head.kind == "sigma":
        a = head.alpha * (goodness(z) - head.theta)
        return F.logsigmoid(a), F.logsigmoid(-a)
    gp, gn = half_goodness(z)
    log_s = torch.log(gp + gn + 2 * head.eps)
    return torch.log(gp + head.eps) - log_s, torch.log(gn + head.eps) - log_s


def probability(z: torch.Tensor, head: HeadParams) -> torch.Tensor:
    """P(positive) per sample."""
    return log_probabilities(z, head)[0].exp()


def layers_score(p: torch.Tensor, score_layers: list[int] | None) -> torch.Tensor:
    """The goodness read-out's score of a candidate label: P(positive) [..., L] of each layer
    summed over the scored layers (all when None)."""
    return p[..., score_layers].sum(-1) if score_layers is not None else p.sum(-1)


def ff_loss(z: torch.Tensor, s: torch.Tensor, head: HeadParams) -> torch.Tensor:
    """Per-sample binary cross-entropy of P against s."""
    log_p, log_q = log_probabilities(z, head)
    return -(s * log_p + (1 - s) * log_q)


def modulation(z: torch.Tensor, s: torch.Tensor, head: HeadParams) -> torch.Tensor:
    """Third factor M = -dL/dG per neuron, same shape as z (see the module docstring)."""
    s = s.to(z.dtype).unsqueeze(-1)
    if head.kind == "sigma":
        p = torch.sigmoid(head.alpha * (goodness(z) - head.theta)).unsqueeze(-1)
        return (head.alpha * (s - p)).expand_as(z)
    gp, gn = half_goodness(z)
    total = (gp + gn + 2 * head.eps).unsqueeze(-1)
    gp, gn = gp.unsqueeze(-1), gn.unsqueeze(-1)
    pos_half = s * (gn + head.eps) / ((gp + head.eps) * total) - (1 - s) / total
    neg_half = (1 - s) * (gp + head.eps) / ((gn + head.eps) * total) - s / total
    n = z.shape[-1] // 2
    return torch.cat([pos_half.expand(*z.shape[:-1], n), neg_half.expand(*z.shape[:-1], n)], dim=-1)
