"""The contrastive-Hebbian net's head alone, on frozen features.

The head learns by Hebbian descent (``hebbian_descent``: ΔW = (T − softmax(logits))ᵀ X) with its
weights L2-normalised after every step (``finish_weight``). Training it on features that do not
change (e.g. a conv net frozen at its random initialisation) separates what the head can reach
from what the hidden layers' learning costs (`bench/bench_contrastive_hebbian.py --sections head`). Two classifiers of the same features:

- ``train_head``: the head (a ``ContrastiveHebbianNet`` without hidden layers) trained by plain
  Hebbian descent with every C at 1, or by the rule's own scheme with meta-learned C's
  (``meta_step``), at the Hebbian rate η × decay^epoch; test accuracy after every epoch;
- ``prototype_accuracy``: the nearest unit-norm class mean. While the head's logits stay small
  its softmax is near uniform, every step adds about the same class-weighted sum of inputs, and
  Hebbian descent cannot get past this classifier.
"""

from __future__ import annotations

import torch

from neuroff.errors import NeuroffError
from neuroff.families.contrastive_hebbian.model import (
    ContrastiveHebbianNet,
    finish_weight,
    hebbian_descent,
)
from neuroff.families.contrastive_hebbian.rule import (
    META_LR,
    META_WEIGHT_DECAY,
    meta_step,
)


def prototype_accuracy(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor, n_classes: int) -> float:
    """Test accuracy of the class-prototype classifier: each test sample gets the class whose
    training-feature mean, scaled to unit norm, has the largest dot product with it."""
    means = torch.stack([f_train[y_train == k].mean(0) for k in range(n_classes)])
    if not torch.isfinite(means).all():
        raise NeuroffError("every class needs at least one training sample for its prototype")
    prototypes = means / means.norm(dim=1, keepdim=True)
    return float(((f_test @ prototypes.T).argmax(1) == y_test).float().mean())


@torch.no_grad()
def hebbian_descent_step(head: ContrastiveHebbianNet, x: torch.Tensor, y: torch.Tensor) -> None:
    """One step of plain Hebbian descent on a head without hidden layers, every C at 1 and the
    update applied at once (the rule applies it one step late, scaled by the C's):
    W ← finish(W + η ΔW), b ← b + η Δb."""
    w, b = head.layer_params(0)
    dw, db = hebbian_descent(x, head.logits(x), y)
    w.copy_(finish_weight(head.layer_specs[0], w + head.eta * dw, head.weight_norm))
    b.add_(head.eta * db)


def train_head(
    f_train: torch.Tensor,
    y_train: torch.Tensor,
    f_test: torch.Tensor,
    y_test: torch.Tensor,
    n_classes: int,
    epochs: int,
    eta: float = 1e-3,
    eta_decay: float = 1.0,
    meta_learned: bool = False,
    weight_norm: str = "fan-out",
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """Test accuracy after every epoch of a Hebbian-descent head on the frozen features
    ``f_train`` [N, F] (labels ``y_train``), tested on ``f_test``. The head starts from its seeded
    initialisation (``seed``); the mini-batches of ``batch_size`` are drawn in a fresh random order
    every epoch (seed + 1). In epoch k (0-based) the Hebbian rate is ``eta`` × ``eta_decay``^k,
    the schedule of the rule's --ch-eta-decay. ``meta_learned``: the rule's own scheme
    (``meta_step``, the C's stepped by AdamW at the rule's default rate and weight decay);
    otherwise plain Hebbian descent with C = 1 (``hebbian_descent_step``). ``weight_norm``:
    "fan-out" (unit columns, the default) or "fan-in" (unit rows)."""
    if epochs < 1 or batch_size < 1 or eta <= 0 or not 0.0 < eta_decay <= 1.0:
        raise NeuroffError(
            f"epochs={epochs} and batch_size={batch_size} must be >= 1, eta={eta} > 0 and eta_decay={eta_decay} in (0, 1]"
        )
    if f_train.ndim != 2 or f_test.ndim != 2 or f_train.shape[1] != f_test.shape[1]:
        shapes = f"{list(f_train.shape)} and {list(f_test.shape)}"
        raise NeuroffError(f"features must be [samples, features] with the same features in both splits, got {shapes}")
    head = ContrastiveHebbianNet([], (f_train.shape[1],), n_classes, torch.Generator().manual_seed(seed), eta=eta, weight_norm=weight_norm)
    optimizer = torch.optim.AdamW(head.parameters(), lr=META_LR, weight_decay=META_WEIGHT_DECAY)
    order = torch.Generator().manual_seed(seed + 1)
    accuracy = []
    for epoch in range(epochs):
        head.eta = eta * eta_decay**epoch
        for idx in torch.randperm(len(f_train), generator=order).split(batch_size):
            if meta_learned:
                meta_step(head, optimizer, f_train[idx], y_train[idx])
            else:
                hebbian_descent_step(head, f_train[idx], y_train[idx])
        accuracy.append(float((head.logits(f_test).argmax(1) == y_test).float().mean()))
    return accuracy
