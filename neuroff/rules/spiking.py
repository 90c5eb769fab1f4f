"""How the neo-Hebbian rule trains a spiking FF stack on a batch of positive/negative samples.

Online (batch size 1, the default): samples stream one at a time, positive presentation then
negative presentation, and the weights change inside each presentation; run by the fused numba
kernel. Mini-batch (batch size B > 1): B positives are presented together with batch-averaged
updates, then their B negatives; run by the torch reference ``SpikingFFNet.present``.
"""

from __future__ import annotations

import numpy as np
import torch

from neuroff.kernels import online
from neuroff.models import SpikingFFNet


class NeoHebbianRule:
    name = "neo-hebbian"

    def __init__(self, batch_size: int = 1, sparse: bool = True, use_kernel: bool = True) -> None:
        self.batch_size = batch_size
        self.sparse = sparse
        self.use_kernel = use_kernel

    def step(
        self, model: SpikingFFNet, x_pos: torch.Tensor, x_neg: torch.Tensor, generator: torch.Generator
    ) -> dict[str, float]:
        n = x_pos.shape[0]
        # one draw of spike trains for the chunk, in presentation order pos_0, neg_0, pos_1, ...
        spikes = model.encode(torch.stack([x_pos, x_neg], 1).reshape(2 * n, -1), generator)
        if self.batch_size == 1 and self.use_kernel:
            p_pos, p_neg = self._online(model, spikes)
        else:
            p_pos, p_neg = [], []
            plasticity = model.plasticity
            for lo in range(0, n, self.batch_size):
                hi = min(lo + self.batch_size, n)
                for first, s, out in ((0, 1.0, p_pos), (1, 0.0, p_neg)):
                    flags = torch.full((hi - lo,), s, dtype=torch.float64)
                    res = model.present(spikes[:, 2 * lo + first : 2 * hi : 2], flags, plasticity)
                    out.append(res.p_last[:, -1])
            p_pos, p_neg = torch.cat(p_pos), torch.cat(p_neg)
        return {"pairs": float(n), "pair_correct": float((p_pos > p_neg).sum())}

    def _online(self, model: SpikingFFNet, spikes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = spikes.shape[1] // 2
        flags = np.tile(np.array([1, 0], np.uint8), n)
        spikes = spikes.permute(1, 0, 2).to(torch.uint8).contiguous().numpy()
        c = model.config
        w_hats = online.List([w.T.contiguous().numpy().copy() for w in model.weights])
        e_hats = online.List([e.T.contiguous().numpy().copy() for e in model.eligibilities])
        scalars = online.List([np.array([1.0, 0.0]) for _ in model.weights])
        p_last = np.zeros((2 * n, model.n_layers))
        online.train_online(
            spikes, flags, w_hats, e_hats, scalars, c.learn_start, c.beta, c.threshold,
            online.RESET_CODES[c.reset], c.refractory, online.TRACE_CODES[c.trace], c.trace_decay,
            online.HEAD_CODES[c.head], c.alpha, c.theta, c.eps, c.lr, c.eligibility_tau,
            c.eligibility_nu, self.sparse, p_last,
        )  # fmt: skip
        online.fold_all(w_hats, e_hats, scalars)
        for i in range(model.n_layers):
            model.set_layer(i, torch.from_numpy(w_hats[i]).T, torch.from_numpy(e_hats[i]).T)
        p = torch.from_numpy(p_last[:, -1])
        return p[0::2], p[1::2]
