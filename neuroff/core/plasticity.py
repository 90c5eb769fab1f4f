"""The neo-Hebbian three-factor rule and its eligibility trace (pure functions).

    dW = c * (M * g(y)) x^T                    (M: neuroff.core.goodness.modulation, g(y): trace)
    E <- (1 - tau) E + tau dW                  eligibility trace, every learning step
    W <- W + nu E

With c = 2 and g(y) = relu(W x + b) this dW is exactly -dL/dW of the FF loss (the test
``test_rule_equals_autograd`` checks it), so the spiking rule and analog backprop-free FF are
the same learner. A mini-batch averages dW over its samples.
"""

from __future__ import annotations

import torch

from neuroff.core.params import NeoHebbianParams


def neo_hebbian_delta(pre: torch.Tensor, post: torch.Tensor, m: torch.Tensor, lr: float) -> torch.Tensor:
    """dW [N, D] = lr * mean_b (m_b * post_b) outer pre_b, for pre [B, D], post and m [B, N]."""
    return lr * (m * post).transpose(0, 1) @ pre / pre.shape[0]


def eligibility_step(
    w: torch.Tensor, e: torch.Tensor, dw: torch.Tensor, p: NeoHebbianParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """One learning step of the eligibility trace; returns (new W, new E)."""
    e = (1.0 - p.tau) * e + p.tau * dw
    return w + p.nu * e, e
