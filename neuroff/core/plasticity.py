"""The neo-Hebbian three-factor rule and its eligibility trace (pure functions).

    dW = c * (M * g(y)) x̄^T                   (M: neuroff.core.goodness.modulation, g(y): trace)
    x̄ <- lambda_pre * x̄ + x                   presynaptic trace, every step (lambda_pre = 0: x̄ = x)
    E <- (1 - tau) E + tau dW                  eligibility trace, every learning step
    W <- W + nu E

The presynaptic trace is Loihi 2's x1 trace (impulse 1, decay lambda_pre per step). Without it
(the default) the Hebbian term sees only the inputs that spike on the learning step itself; a
latency code fires each input once, mostly before the learning window, so x ~ 0 when learning
happens and the rule cannot learn. With it, an input that fired k steps earlier still
contributes lambda_pre^k. In the analog correspondence below, x̄ replaces x: the spiking update
then follows -dL/dW of a layer whose input is the recency-weighted spike count
sum_k lambda_pre^k x[t-k] (for a rate code, x̄ -> rate / (1 - lambda_pre): the same direction
as without the trace, scaled by 1 / (1 - lambda_pre)).

Homeostasis (optional; ``homeostasis_rate`` h > 0) keeps every neuron of a layer in use by an
activity term on the same synapses, the sparsity target of sparse RBMs (Lee et al. 2008):

    a_j <- a_j + tau_a (fired_j - a_j)          once per presentation; fired_j = 1 if neuron j spiked
    dW_ij += h (rho - a_j) x̄_i                  every learning step

A neuron that spikes in fewer than a fraction rho of the presentations grows its weights along
the inputs it sees until it fires; one that spikes more often shrinks them. It is local (the
neuron's own running activity and its presynaptic trace), changes only the weights (so exports and
the chip see an ordinary network) and vanishes once every a_j = rho. It is -dR/dW of R = h / 2 * sum_j (rho - a_j)^2
with the surrogate da_j/dW_ij = x̄_i (a_j itself, a count of threshold crossings, has no gradient).

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


def homeostatic_delta(pre: torch.Tensor, activity: torch.Tensor, p: NeoHebbianParams) -> torch.Tensor:
    """dW [N, D] = h (rho - a) outer mean_b pre_b, the activity term for the running activities a [N]
    (h = ``p.homeostasis_rate``, which the rule scales with the run's learning-rate schedule)."""
    return p.homeostasis_rate * torch.outer(p.homeostasis_target - activity, pre.mean(0))


def activity_step(activity: torch.Tensor, fired: torch.Tensor, tau: float) -> torch.Tensor:
    """a <- a + tau (mean_b fired_b - a) after a presentation; ``fired`` [B, N] is 1 where a neuron spiked."""
    return activity + tau * (fired.to(activity.dtype).mean(0) - activity)


def pre_trace_step(x_bar: torch.Tensor, x: torch.Tensor, decay: float) -> torch.Tensor:
    """One step of the presynaptic trace, x̄ <- decay * x̄ + x (decay 0: x̄ = x)."""
    return x if decay == 0.0 else decay * x_bar + x


def eligibility_step(
    w: torch.Tensor, e: torch.Tensor, dw: torch.Tensor, p: NeoHebbianParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """One learning step of the eligibility trace; returns (new W, new E)."""
    e = (1.0 - p.tau) * e + p.tau * dw
    return w + p.nu * e, e
