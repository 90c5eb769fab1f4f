"""How the neo-Hebbian rule trains a spiking FF stack on a batch of positive/negative samples.

Online (batch size 1, the default): samples stream one at a time, positive presentation then
negative presentation, and the weights change inside each presentation; run by the fused numba
kernel. Mini-batch (batch size B > 1): B positives are presented together with batch-averaged
updates, then their B negatives; run by the torch reference ``SpikingFFNet.present``.
"""

from __future__ import annotations

import numpy as np
import torch

from neuroff.families.base import Batch, LRSchedule, RuleBase, StepStats
from neuroff.core.encoding import intensities
from neuroff.core.params import NeoHebbianParams
from neuroff.families.ff import online_kernel as online
from neuroff.layers.lif_stack import SpikingFFNet


class NeoHebbianRule(RuleBase):
    name = "neo-hebbian"

    def __init__(
        self, batch_size: int = 1, sparse: bool = True, use_kernel: bool = True, schedule: LRSchedule = LRSchedule()
    ) -> None:
        self.batch_size = batch_size
        self.sparse = sparse
        self.use_kernel = use_kernel
        self.schedule = schedule
        self.lr_scale = 1.0
        self.last_spikes: torch.Tensor | None = None  # filled by online(record=True)
        self.last_layer_inputs: list[np.ndarray] = []  # filled by online(record_layer_inputs=True)
        # running activity a_j per layer of the homeostatic term (neuroff.core.plasticity), float64;
        # built at the first step with homeostasis on (at the target rho: no push before a neuron
        # has been seen); empty, and not checkpointed, with it off
        self.activity: list[torch.Tensor] = []

    def state_dict(self) -> dict:
        return {"activity": [a.clone() for a in self.activity]} if self.activity else {}

    def load_state_dict(self, state) -> None:
        self.activity = [a.to(torch.float64).clone() for a in state.get("activity", [])]

    def scaled_plasticity(self, model: SpikingFFNet) -> NeoHebbianParams:
        """The model's plasticity with both rates (Hebbian and homeostatic) scaled by this epoch's schedule."""
        p = model.plasticity
        return p._replace(lr=p.lr * self.lr_scale, homeostasis_rate=p.homeostasis_rate * self.lr_scale)

    def running_activity(self, model: SpikingFFNet) -> list[torch.Tensor] | None:
        """The homeostatic running activities, made (at the target) on first use; None with homeostasis off."""
        if model.plasticity.homeostasis_rate == 0:
            return None
        if [len(a) for a in self.activity] != model.sizes[1:]:
            target = model.plasticity.homeostasis_target
            self.activity = [torch.full((n,), target, dtype=torch.float64) for n in model.sizes[1:]]
        return self.activity

    def on_epoch_start(self, epoch: int) -> None:
        self.lr_scale = self.schedule.scale(epoch)

    def step(self, model: SpikingFFNet, batch: Batch) -> StepStats:
        x_pos, x_neg, generator = batch.x, batch.x_neg, batch.generator
        n = x_pos.shape[0]
        xs = torch.stack([x_pos, x_neg], 1).reshape(2 * n, -1)  # presentation order pos_0, neg_0, ...
        if self.batch_size == 1 and self.use_kernel:
            p_last = self.online(model, xs, generator)
            return _pair_stats(p_last[0::2], p_last[1::2])
        spikes = model.encode(xs, generator)
        return self.reference(model, spikes)

    def reference(self, model: SpikingFFNet, spikes: torch.Tensor) -> StepStats:
        """The torch path on given spike trains [T, 2n, D] (pos_0, neg_0, ...), in mini-batches."""
        n = spikes.shape[1] // 2
        p_pos, p_neg = [], []
        plasticity = self.scaled_plasticity(model)
        activity = self.running_activity(model)
        for lo in range(0, n, self.batch_size):
            hi = min(lo + self.batch_size, n)
            for first, s, out in ((0, 1.0, p_pos), (1, 0.0, p_neg)):
                flags = torch.full((hi - lo,), s, dtype=torch.float64)
                res = model.present(spikes[:, 2 * lo + first : 2 * hi : 2], flags, plasticity, activity=activity)
                out.append(res.p_last[:, -1])
        return _pair_stats(torch.cat(p_pos), torch.cat(p_neg))

    def online(
        self,
        model: SpikingFFNet,
        xs: torch.Tensor,
        generator: torch.Generator,
        spikes: torch.Tensor | None = None,
        record: bool = False,
        record_layer_inputs: bool = False,
    ) -> torch.Tensor:
        """Train on presentations xs [P, D] (alternating positive/negative) with the numba kernel.

        Rate-coded inputs are drawn inside the kernel (seeded from ``generator``); the direct
        encoder's graded input is xs itself; other encoders, or given ``spikes`` [T, P, D], are passed in. Returns P(positive) of the last layer at the
        last step, [P]; with ``record`` the drawn spike trains [T, P, D] are kept in
        ``self.last_spikes`` (for checking against the torch reference); with ``record_layer_inputs``
        every layer's presynaptic rasters [P, T, D_l] (uint8) are kept in ``self.last_layer_inputs``
        (for the op-count floor, ``online_kernel.active_row_sums``)."""
        c = model.config
        plasticity = self.scaled_plasticity(model)
        running = self.running_activity(model)
        # the kernel updates the tensors' memory in place; with homeostasis off it never reads them
        activity = online.List([a.numpy() for a in running] if running is not None else [np.zeros(0) for _ in model.weights])
        n_pres, d = xs.shape
        empty = np.zeros((0, 0, 0), np.uint8)
        seed = int(torch.randint(1, 2**62, (1,), generator=generator))
        graded, rates, given = np.zeros((0, 0)), np.zeros((0, 0)), empty
        if c.encoder == "direct":
            if spikes is not None:  # a graded raster would not survive the kernel's uint8 spike input
                raise ValueError("the direct encoder's input is xs itself; pass no spikes")
            graded = intensities(xs).to(torch.float64).numpy()
            if record:
                spikes = model.encode(xs, generator)  # deterministic: the raster the kernel presents
        elif spikes is None and c.encoder == "rate":
            rates = (intensities(xs).to(torch.float64) * c.max_rate).numpy()
        else:
            if spikes is None:
                spikes = model.encode(xs, generator)
            given = spikes.permute(1, 0, 2).to(torch.uint8).contiguous().numpy()
        kept = np.zeros((n_pres, c.steps, d), np.uint8) if record and spikes is None else empty
        flags = np.tile(np.array([1, 0], np.uint8), n_pres // 2 + 1)[:n_pres]
        w_hats = online.List([w.T.contiguous().numpy().copy() for w in model.weights])
        e_hats = online.List([e.T.contiguous().numpy().copy() for e in model.eligibilities])
        scalars = online.List([np.array([1.0, 0.0]) for _ in model.weights])
        p_last = np.zeros((n_pres, model.n_layers))
        sizes = [w.shape[1] for w in model.weights]
        layer_inputs = online.List(
            [np.zeros((n_pres, c.steps, n_in) if record_layer_inputs else (0, 0, 0), np.uint8) for n_in in sizes]
        )
        online.train_online(
            given, rates, graded, c.steps, seed, kept, flags, w_hats, e_hats, scalars, c.learn_start, c.beta,
            c.threshold, online.RESET_CODES[c.reset], c.refractory, online.TRACE_CODES[c.trace],
            c.trace_decay, online.HEAD_CODES[c.head], c.alpha, c.theta, c.eps, plasticity.lr, c.eligibility_tau,
            c.eligibility_nu, plasticity.pre_decay, activity, plasticity.homeostasis_rate,
            plasticity.homeostasis_target, plasticity.homeostasis_tau, self.sparse, p_last, layer_inputs,
        )  # fmt: skip
        online.fold_all(w_hats, e_hats, scalars)
        for i in range(model.n_layers):
            model.set_layer(i, torch.from_numpy(w_hats[i]).T, torch.from_numpy(e_hats[i]).T)
        if record_layer_inputs:
            self.last_layer_inputs = list(layer_inputs)
        if record:
            self.last_spikes = spikes if spikes is not None else torch.from_numpy(kept).permute(1, 0, 2).float()
        return torch.from_numpy(p_last[:, -1])


def _pair_stats(p_pos: torch.Tensor, p_neg: torch.Tensor) -> StepStats:
    return StepStats(len(p_pos), float((p_pos > p_neg).sum()))
