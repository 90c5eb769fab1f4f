"""The contrastive neuron-centric Hebbian rule: local weight updates, backprop only for the C's.

One mini-batch (x, y) at step t, the "single forward pass" scheme:

1. every layer's weights are stepped by the update computed at step t − 1,
   W(t) = finish(W(t−1) + η (C ⊗ ...) ∘ ΔW(t−1)) — a function of the C's, with W(t−1) and
   ΔW(t−1) detached (``ContrastiveHebbianNet.stepped_params``);
2. one forward pass with W(t) gives the logits and every layer's input and output;
3. each hidden layer's local update ΔW(t) = −∂L_contrastive/∂W at W(t) (its input fixed), the
   head's ΔW(t) = Hebbian descent — no gradient crosses a layer;
4. the cross-entropy of the logits is backpropagated; the only leaves it reaches are the C's
   (through W(t)'s dependence on them), and AdamW (lr 0.03, weight decay 0.003) steps them;
5. W(t) is stored (detached); ΔW(t), with optional momentum ΔW ← μ ΔW(t−1) + ΔW(t), waits for
   step t + 1.

So the C's learn how large each neuron's Hebbian step should have been, judged by the loss the
stepped network has on the next batch. The family consumes labelled samples
(``Consumes.LABELLED_SAMPLES``): ``batch.labels`` are the true labels and the input carries no
embedded label (``--embedding none``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuroff.errors import NeuroffError
from neuroff.families.base import Batch, LRSchedule, RuleBase, StepStats
from neuroff.families.contrastive_hebbian.model import (
    ContrastiveHebbianNet,
    contrastive_local_grad,
    hebbian_descent,
    pair_masks,
)
from neuroff.families.contrastive_hebbian.options import ContrastiveHebbianOptions

# the defaults live in the options; named here for callers that build the rule directly
META_LR = ContrastiveHebbianOptions.ch_meta_lr
META_WEIGHT_DECAY = ContrastiveHebbianOptions.ch_meta_weight_decay


def local_updates(
    model: ContrastiveHebbianNet,
    inputs: list[torch.Tensor],
    params: list[tuple[torch.Tensor, torch.Tensor]],
    logits: torch.Tensor,
    labels: torch.Tensor,
    smoothing: float = 0.0,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(ΔW, Δb) of every layer: −∂L/∂W of the contrastive loss for hidden layers (layer i sees
    inputs[i]), Hebbian descent for the head (which sees inputs[-1])."""
    m_pos, m_neg = pair_masks(labels, smoothing)
    out = []
    for i, layer in enumerate(model.layer_specs[:-1]):
        gw, gb = contrastive_local_grad(layer, model.activation, inputs[i], *params[i], m_pos, m_neg, model.conv_loss)
        out.append((gw.neg_(), gb.neg_()))  # in place: the gradient is a fresh tensor
    out.append(hebbian_descent(inputs[-1], logits, labels))
    return out


def meta_step(
    model: ContrastiveHebbianNet,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    labels: torch.Tensor,
    momentum: float = 0.0,
    smoothing: float = 0.0,
    eta_scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, int]:
    """One mini-batch (steps 1-5 of the module docstring); returns (cross-entropy, correct).
    ``eta_scale`` multiplies the model's Hebbian rates (the rule's --ch-eta-decay schedule);
    ``generator`` draws the dropout masks (if the model has dropout)."""
    params = [model.stepped_params(i, eta_scale) for i in range(model.n_layers)]
    hidden, logits = model.forward_with(x, params, generator)
    inputs = [x.reshape(-1, *model.in_shape), *hidden]
    updates = local_updates(model, inputs, params, logits, labels, smoothing)
    loss = F.cross_entropy(logits, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for i, ((w, b), (dw, db)) in enumerate(zip(params, updates)):
            getattr(model, f"weight_{i}").copy_(w)
            getattr(model, f"bias_{i}").copy_(b)
            for pending, new in ((getattr(model, f"delta_w_{i}"), dw), (getattr(model, f"delta_b_{i}"), db)):
                if momentum:
                    pending.mul_(momentum).add_(new)
                else:  # one pass instead of two
                    pending.copy_(new)
    return float(loss.detach()), int((logits.detach().argmax(1) == labels).sum())


class ContrastiveHebbianRule(RuleBase):
    """Consumes labelled samples (``Consumes.LABELLED_SAMPLES``): ``batch.labels`` are the true labels."""

    name = "contrastive-hebbian"

    def __init__(
        self,
        model: ContrastiveHebbianNet,
        meta_lr: float = META_LR,
        meta_weight_decay: float = META_WEIGHT_DECAY,
        momentum: float = 0.0,
        smoothing: float = 0.0,
        batch_size: int = 64,
        eta_decay: float = 1.0,
        schedule: LRSchedule = LRSchedule(),
    ) -> None:
        if not 0.0 <= momentum < 1.0 or not 0.0 <= smoothing < 1.0:
            raise NeuroffError(f"momentum={momentum} and smoothing={smoothing} must lie in [0, 1)")
        if not 0.0 < eta_decay <= 1.0:
            raise NeuroffError(f"eta_decay={eta_decay} must lie in (0, 1]; 1 keeps the Hebbian rates constant")
        self.meta_lr, self.momentum, self.smoothing, self.batch_size = meta_lr, momentum, smoothing, batch_size
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=meta_lr, weight_decay=meta_weight_decay)
        self.eta_decay, self.schedule = eta_decay, schedule
        self.eta_scale = 1.0

    def on_epoch_start(self, epoch: int) -> None:
        """--ch-eta-decay: the Hebbian rates of epoch k (0-based) are η · decay^k; --lr-decay
        scales the meta learning rate of the C's. Both are set from the base values each epoch,
        so a resumed run continues the same schedule."""
        self.eta_scale = self.eta_decay**epoch
        for group in self.optimizer.param_groups:
            group["lr"] = self.meta_lr * self.schedule.scale(epoch)

    def step(self, model: ContrastiveHebbianNet, batch: Batch) -> StepStats:
        """Train on the chunk ``batch.x`` (no label embedded) with ``batch.labels``; ``correct``
        counts correctly classified training samples (before their update)."""
        if batch.labels is None:
            raise NeuroffError("the contrastive-hebbian rule is supervised: pass Batch(x, generator, labels=y)")
        x_all, labels = batch.x, batch.labels
        n, correct, loss_sum = x_all.shape[0], 0, 0.0
        for lo in range(0, n, self.batch_size):
            x, y = x_all[lo : lo + self.batch_size], labels[lo : lo + self.batch_size]
            loss, ok = meta_step(model, self.optimizer, x, y, self.momentum, self.smoothing, self.eta_scale, batch.generator)
            correct += ok
            loss_sum += loss * len(y)
        return StepStats(n, correct, loss_sum / max(n, 1))

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
