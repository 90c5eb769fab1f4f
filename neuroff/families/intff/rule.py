"""The IntFF rule: block by block, each block descends its own FF loss (``neuroff.families.intff.model``) by
backprop inside the block, one optimiser per block, and passes its detached output on.

Doing the blocks one after another, each with its own backward pass, keeps only one block's
graph in memory; it gives the gradients of backprop through sum_b L_b with ``detach()`` at every
block boundary (``test_intff_gradients_equal_detached_global_backprop``)."""

from __future__ import annotations

import torch

from neuroff.families.base import Batch, LRSchedule, StepStats
from neuroff.families.intff.model import IntFFNet, intff_loss, mean_goodness
from neuroff.families.optimizers import LocalOptimizers


class IntFFRule(LocalOptimizers):
    name = "intff"

    def __init__(
        self, model: IntFFNet, optimizer: str = "adam", lr: float = 0.003, batch_size: int = 64,
        schedule: LRSchedule = LRSchedule(),
    ) -> None:
        super().__init__(model.blocks, optimizer, lr, batch_size, schedule)

    def update(self, model: IntFFNet, part: Batch) -> StepStats:
        m = len(part)
        h = torch.cat([part.x, part.x_neg])
        s = torch.cat([torch.ones(m), torch.zeros(m)])
        goodness, loss_sum = [], 0.0
        for b in range(len(self.optimizers)):
            h = model.block_forward(b, model.block_input(h, b))[-1]
            g = mean_goodness(h)
            loss_sum += self.descend(b, intff_loss(g, s, model.threshold).mean())
            goodness.append(g.detach())
        score = model.score(goodness)
        return StepStats(m, float((score[:m] > score[m:]).sum()), loss_sum)

