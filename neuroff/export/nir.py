"""NIR export of a trained spiking FF network: ``Input -> (Linear -> LIF) x L -> Output``.

NIR is continuous-time. Its LIF node is ``tau dv/dt = (v_leak - v) + r I``, spike when
v > v_threshold, then v = v_reset. Simulators step it with forward Euler at a time step dt::

    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r I[t]

neuroff's discrete LIF is ``v[t] = beta v[t-1] + I[t]`` (reset to zero), so we write, per layer,

    tau = dt / (1 - beta),   r = tau / dt = 1 / (1 - beta),   v_leak = 0,
    v_threshold = theta,     v_reset = 0,                      Linear weight = W (no bias)

with dt recorded in the graph's and each LIF node's metadata (``dt``, seconds). The default
dt = 1e-4 s is the one snnTorch's importer hard-codes (it maps beta = 1 - dt/tau and needs
r dt / tau = 1, which this choice satisfies). Norse's ``from_nir`` takes dt as an argument
(default 1e-3, so pass ``dt=metadata['dt']``) and ignores ``r`` (its box LIF integrates
``v + dt/tau (I - v)``); ``load_norse`` below does both: it passes dt and folds r into the
Linear weights feeding each LIF. The trace and goodness read-out are off-chip and not in the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroff import __version__
from neuroff.engine.training import Trained
from neuroff.errors import NeuroffError
from neuroff.export.capability import NIR, check_exportable, check_layers_active
from neuroff.io import atomic_write
from neuroff.layers.lif_stack import SpikingFFNet

DEFAULT_DT = 1e-4  # seconds per step


def _check(trained: Trained, dt: float) -> SpikingFFNet:
    model = check_exportable(trained, NIR)
    if not dt > 0:
        raise NeuroffError(f"--dt {dt} must be a positive number of seconds")
    return model


def to_nir(trained: Trained, dt: float = DEFAULT_DT) -> Any:
    """The NIRGraph of a spiking checkpoint (see the module docstring for the mapping)."""
    import nir

    model = _check(trained, dt)
    c = trained.config
    tau = dt / (1.0 - c.beta)
    meta = {"dt": dt, "neuroff_version": __version__, "beta": c.beta, "steps": c.steps}
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([model.sizes[0]]))}
    edges = []
    prev = "input"
    for i, w in enumerate(model.weights):
        n = w.shape[0]
        nodes[f"linear{i}"] = nir.Linear(weight=w.detach().numpy().astype(np.float64))
        nodes[f"lif{i}"] = nir.LIF(
            tau=np.full(n, tau),
            r=np.full(n, tau / dt),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, float(c.threshold)),
            v_reset=np.zeros(n),
            metadata=dict(meta),
        )
        edges += [(prev, f"linear{i}"), (f"linear{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([model.sizes[-1]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(trained: Trained, out: str | Path, dt: float = DEFAULT_DT, allow_silent: bool = False) -> Path:
    """Write the NIR graph (HDF5) atomically."""
    import nir

    check_layers_active(trained, NIR, allow_silent)
    graph = to_nir(trained, dt)
    return atomic_write(out, lambda f: nir.write(f, graph), mode="w+b")


def nir_dt(graph: Any) -> float:
    """The time step a neuroff NIR file was written for (DEFAULT_DT if it does not say)."""
    for node in graph.nodes.values():
        meta = getattr(node, "metadata", None) or {}
        if "dt" in meta:
            return float(np.asarray(meta["dt"]))
    meta = getattr(graph, "metadata", None) or {}
    return float(np.asarray(meta.get("dt", DEFAULT_DT)))


def load_norse(graph: Any) -> torch.nn.Module:
    """Import with Norse, handling its two conventions: dt comes from the file (Norse defaults
    to 1e-3) and r, which Norse ignores, is folded into the Linear weights feeding each LIF."""
    import nir

    try:
        import norse.torch as norse_torch
    except ImportError:
        raise NeuroffError("Norse is not installed; pip install --no-deps norse (see docs/hardware.md)") from None
    scaled = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Linear):
            targets = [b for a, b in graph.edges if a == name]
            r = [graph.nodes[t].r for t in targets if isinstance(graph.nodes[t], nir.LIF)]
            weight = node.weight * (r[0][:, None] if r else 1.0)
            scaled[name] = nir.Linear(weight=weight)
        elif isinstance(node, nir.LIF):
            scaled[name] = nir.LIF(node.tau, np.ones_like(node.r), node.v_leak, node.v_threshold, node.v_reset, metadata=node.metadata)
        else:
            scaled[name] = node
    folded = nir.NIRGraph(nodes=scaled, edges=list(graph.edges), metadata=getattr(graph, "metadata", {}))
    return norse_torch.from_nir(folded, dt=nir_dt(graph))
