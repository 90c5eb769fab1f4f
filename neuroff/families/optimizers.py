"""Layer-local optimisers shared by the autograd-based rules (analog FF, IntFF, SCFF).

Each independently trained unit (a layer, or an IntFF block) owns one optimiser, so no
gradient or optimiser state ever couples two units. The mixin gives those rules the engine's
lr scaling (``lr_decay``) and checkpointable optimiser state.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class LocalOptimizers:
    """Mixin: ``self.optimizers``, one per unit, built by ``init_optimizers``."""

    lr: float
    optimizers: list[torch.optim.Optimizer]

    def init_optimizers(self, units: Iterable[nn.Module], optimizer: str, lr: float) -> None:
        make = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        self.lr = lr
        self.optimizers = [make(unit.parameters(), lr=lr) for unit in units]

    def set_lr_scale(self, scale: float) -> None:
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = self.lr * scale

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        for opt, s in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(s)
