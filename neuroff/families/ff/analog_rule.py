"""The analog FF rule: each layer descends its own FF loss by autograd (no gradient between
layers, see ``AnalogFFNet.layer_input``). With SGD this is the same update as the neo-Hebbian
rule with c = 2 * lr (``test_rule_equals_autograd``)."""

from __future__ import annotations

import torch

from neuroff.core.goodness import ff_loss
from neuroff.families.ff.model import AnalogFFNet
from neuroff.families.base import Batch, LRSchedule, StepStats
from neuroff.families.optimizers import LocalOptimizers


class FFAutogradRule(LocalOptimizers):
    name = "ff-autograd"

    def __init__(
        self, model: AnalogFFNet, optimizer: str = "adam", lr: float = 0.003, batch_size: int = 64,
        schedule: LRSchedule = LRSchedule(),
    ) -> None:
        self.batch_size = batch_size
        self.init_optimizers(model.layers, optimizer, lr, schedule)

    def step(self, model: AnalogFFNet, batch: Batch) -> StepStats:
        x_pos, x_neg = batch.x, batch.x_neg
        n, correct, loss_sum = x_pos.shape[0], 0.0, 0.0
        for lo in range(0, n, self.batch_size):
            xp, xn = x_pos[lo : lo + self.batch_size], x_neg[lo : lo + self.batch_size]
            x = torch.cat([xp, xn])
            s = torch.cat([torch.ones(xp.shape[0]), torch.zeros(xn.shape[0])])
            z = x
            for i, (layer, opt) in enumerate(zip(model.layers, self.optimizers)):
                z = torch.relu(layer(model.layer_input(z, i)))
                loss = ff_loss(z, s, model.head).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss_sum += float(loss.detach()) * xp.shape[0]
            with torch.no_grad():
                p = torch.exp(-ff_loss(z, torch.ones_like(s), model.head))
                correct += float((p[: xp.shape[0]] > p[xp.shape[0] :]).sum())
        return StepStats(n, correct, loss_sum / max(n, 1))

