"""Layer-local optimisers shared by the autograd-based rules (analog FF, IntFF, SCFF).

Each independently trained unit (a layer, or an IntFF block) owns one optimiser, so no
gradient or optimiser state ever couples two units. The mixin gives those rules the engine's
lr scaling (``lr_decay``) and checkpointable optimiser state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from neuroff.families.base import LRSchedule, RuleBase


class LocalOptimizers(RuleBase):
    """Base of the autograd rules: ``self.optimizers``, one per unit, built by ``init_optimizers``;
    ``on_epoch_start`` applies the run's learning-rate schedule to all of them."""

    lr: float
    optimizers: list[torch.optim.Optimizer]
    schedule: LRSchedule

    def init_optimizers(self, units: Iterable[nn.Module], optimizer: str, lr: float, schedule: LRSchedule) -> None:
        make = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        self.lr, self.schedule = lr, schedule
        self.optimizers = [make(unit.parameters(), lr=lr) for unit in units]

    def on_epoch_start(self, epoch: int) -> None:
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = self.lr * self.schedule.scale(epoch)

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for opt, s in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(s)
