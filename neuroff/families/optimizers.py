"""Layer-local optimisers shared by the autograd-based rules (analog FF, IntFF, SCFF).

Each independently trained unit (a layer, or an IntFF block) owns one optimiser, so no
gradient or optimiser state ever couples two units. The base class gives those rules the
mini-batch loop, the engine's learning-rate schedule and checkpointable optimiser state; a rule
writes only ``update`` (one mini-batch) with ``descend`` (one unit's optimiser step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from neuroff.families.base import Batch, LRSchedule, RuleBase, StepStats, minibatches


class LocalOptimizers(RuleBase):
    """Base of the autograd rules: one optimiser per unit, ``batch_size`` samples per update."""

    def __init__(self, units: Iterable[nn.Module], optimizer: str, lr: float, batch_size: int, schedule: LRSchedule) -> None:
        make = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        self.lr, self.batch_size, self.schedule = lr, batch_size, schedule
        self.optimizers = [make(unit.parameters(), lr=lr) for unit in units]

    def update(self, model: Any, part: Batch) -> StepStats:
        """Train on one mini-batch."""
        raise NotImplementedError

    def step(self, model: Any, batch: Batch) -> StepStats:
        return StepStats.total(self.update(model, part) for part in minibatches(batch, self.batch_size))

    def descend(self, unit: int, loss: torch.Tensor) -> float:
        """One optimiser step of ``unit`` on its own loss; returns the loss value."""
        opt = self.optimizers[unit]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    def on_epoch_start(self, epoch: int) -> None:
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = self.lr * self.schedule.scale(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for opt, s in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(s)
