"""The IntFF rule: block by block, each block descends its own FF loss (``neuroff.families.intff.model``) by
backprop inside the block, one optimiser per block, and passes its detached output on.

Doing the blocks one after another, each with its own backward pass, keeps only one block's
graph in memory; it gives the gradients of backprop through sum_b L_b with ``detach()`` at every
block boundary (``test_intff_gradients_equal_detached_global_backprop``)."""

from __future__ import annotations

import torch

from neuroff.families.intff.model import IntFFNet, intff_loss, mean_goodness
from neuroff.families.base import Batch, LRSchedule, StepStats
from neuroff.families.optimizers import LocalOptimizers


class IntFFRule(LocalOptimizers):
    name = "intff"

    def __init__(
        self, model: IntFFNet, optimizer: str = "adam", lr: float = 0.003, batch_size: int = 64,
        schedule: LRSchedule = LRSchedule(),
    ) -> None:
        self.batch_size = batch_size
        self.init_optimizers(model.blocks, optimizer, lr, schedule)

    def step(self, model: IntFFNet, batch: Batch) -> StepStats:
        x_pos, x_neg = batch.x, batch.x_neg
        n, correct, loss_sum = x_pos.shape[0], 0.0, 0.0
        for lo in range(0, n, self.batch_size):
            xp, xn = x_pos[lo : lo + self.batch_size], x_neg[lo : lo + self.batch_size]
            m = xp.shape[0]
            h = torch.cat([xp, xn])
            s = torch.cat([torch.ones(m), torch.zeros(m)])
            goodness = []
            for b, opt in enumerate(self.optimizers):
                h = model.block_forward(b, model.block_input(h, b))[-1]
                g = mean_goodness(h)
                loss = intff_loss(g, s, model.threshold).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                goodness.append(g.detach())
                loss_sum += float(loss.detach()) * m
            score = model.score(goodness)
            correct += float((score[:m] > score[m:]).sum())
        return StepStats(n, correct, loss_sum / max(n, 1))

