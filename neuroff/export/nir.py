"""NIR export of a trained spiking FF network: ``Input -> (Linear -> LIF) x L -> Output``.

NIR is continuous-time. Its LIF node is ``tau dv/dt = (v_leak - v) + r I``, spike when
v > v_threshold, then v = v_reset. Simulators step it with forward Euler at a time step dt::

    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r I[t]

neuroff's discrete LIF is ``v[t] = beta v[t-1] + W s[t]`` (reset to zero), so every variant writes

    tau = dt / (1 - beta),   v_leak = 0,   v_threshold = theta,   v_reset = 0

and places the input scale tau/dt = 1 / (1 - beta) where its reader applies it (``VARIANTS``):

- ``generic`` (default) and ``snntorch``: r = tau / dt, Linear weight = W. The NIR equation as
  written; snnTorch's ``import_from_nir`` evaluates it (beta = 1 - dt/tau, input scale r dt/tau = 1)
  but hard-codes dt = 1e-4 s whatever the file says, so dt defaults to 1e-4.
- ``norse``: r = 1, Linear weight = W / (1 - beta). Norse's ``from_nir`` ignores r (its box LIF
  integrates ``v + dt/tau (I - v)``) and steps at its ``dt`` argument, default 1e-3 s, so dt
  defaults to 1e-3 and plain ``norse.torch.from_nir(graph)`` runs the file exactly. Under the NIR
  equation the two forms are the same network (r I is unchanged).

dt, the variant, its reader and the equation are recorded in the graph's metadata (and dt and
variant in each LIF node's), with the run's options and label codes so ``neuroff import`` can
restore the checkpoint (``neuroff.export.nir_import``). ``dt_warning`` says when the dt chosen is
not the one the reader steps at. The trace and goodness read-out are off-chip and not in the graph.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
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

DEFAULT_DT = 1e-4  # seconds per step: what snnTorch's importer hard-codes (the generic variant's default)
NORSE_DT = 1e-3  # norse.torch.from_nir's default dt


@dataclass(frozen=True)
class Variant:
    """Where a NIR file puts neuroff's input scale 1/(1 - beta), for the reader it is written for."""

    name: str
    reader: str  # what evaluates the file exactly
    dt: float  # the dt the reader steps at when not told otherwise (the variant's default --dt)
    fold_r: bool  # True: r = 1, the input scale in the Linear weights (for readers that ignore r)
    dt_note: str  # how the reader treats dt (the warning's reason)

    @property
    def equation(self) -> str:
        where = (
            "r = 1 and the Linear weights W / (1 - beta)" if self.fold_r else "r = tau / dt and the Linear weights W"
        )
        return (
            "NIR LIF tau dv/dt = (v_leak - v) + r I, forward Euler at dt: v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r I[t], "
            f"spike when v > v_threshold, then v = v_reset; written with tau = dt / (1 - beta), v_leak = v_reset = 0, {where}, "
            "so v[t] = beta v[t-1] + W s[t] (neuroff's LIF)"
        )


_SNNTORCH_DT = "snnTorch's import_from_nir steps at dt = 1e-4 s whatever the file says"
VARIANTS = {
    "generic": Variant("generic", "a NIR simulator stepping the LIF by forward Euler at the file's dt "
                       "(snntorch.import_nir.import_from_nir at dt 1e-4)", DEFAULT_DT, False, _SNNTORCH_DT),
    "snntorch": Variant("snntorch", "snntorch.import_nir.import_from_nir", DEFAULT_DT, False, _SNNTORCH_DT),
    "norse": Variant("norse", "norse.torch.from_nir", NORSE_DT, True,
                     "Norse's from_nir steps at dt = 1e-3 s unless called as from_nir(graph, dt=...)"),
}


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise NeuroffError(f"unknown NIR variant --for {name!r}; use one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def dt_warning(variant: str, dt: float) -> str | None:
    """One line when ``dt`` is not the dt the variant's reader steps at (its file would then be
    read with another leak and input scale), else None."""
    v = get_variant(variant)
    if math.isclose(dt, v.dt, rel_tol=1e-9):
        return None
    return (f"--for {v.name} with --dt {dt:g}: {v.dt_note}, so it would evaluate this file wrongly; "
            f"the file is exact for a reader stepping at {dt:g} s (omit --dt for {v.dt:g})")


def _check(trained: Trained, dt: float) -> SpikingFFNet:
    model = check_exportable(trained, NIR)
    if not (dt > 0 and math.isfinite(dt)):
        raise NeuroffError(f"--dt {dt} must be a positive number of seconds")
    return model


def graph_metadata(trained: Trained, variant: Variant, dt: float) -> dict[str, Any]:
    """What the graph records besides its nodes: dt, variant, reader and equation, and what
    ``neuroff import`` needs to restore the checkpoint (options and label codes)."""
    c, emb = trained.config, trained.embedding
    meta: dict[str, Any] = {
        "dt": dt, "variant": variant.name, "reader": variant.reader, "equation": variant.equation,
        "neuroff_version": __version__, "beta": c.beta, "threshold": float(c.threshold), "steps": c.steps,
        "neuroff_config": json.dumps(c.to_dict()), "label_embedding": emb.kind, "n_classes": emb.n_classes,
    }
    if emb.codes.numel():
        meta["label_codes"] = emb.codes.numpy().astype(np.float64)
    return meta


def to_nir(trained: Trained, dt: float | None = None, variant: str = "generic") -> Any:
    """The NIRGraph of a spiking checkpoint (see the module docstring for the mapping)."""
    import nir

    v = get_variant(variant)
    dt = v.dt if dt is None else dt
    model = _check(trained, dt)
    c = trained.config
    scale = 1.0 / (1.0 - c.beta)  # tau / dt
    tau = dt * scale
    meta = graph_metadata(trained, v, dt)
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([model.sizes[0]]))}
    edges = []
    prev = "input"
    for i, w in enumerate(model.weights):
        n = w.shape[0]
        weight = w.detach().numpy().astype(np.float64)
        nodes[f"linear{i}"] = nir.Linear(weight=weight * scale if v.fold_r else weight)
        nodes[f"lif{i}"] = nir.LIF(
            tau=np.full(n, tau),
            r=np.full(n, 1.0 if v.fold_r else scale),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, float(c.threshold)),
            v_reset=np.zeros(n),
            metadata={"dt": dt, "variant": v.name},
        )
        edges += [(prev, f"linear{i}"), (f"linear{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([model.sizes[-1]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(
    trained: Trained, out: str | Path, dt: float | None = None, allow_silent: bool = False, variant: str = "generic"
) -> Path:
    """Write the NIR graph (HDF5) atomically; ``dt`` defaults to the variant's reader's."""
    import nir

    check_layers_active(trained, NIR, allow_silent)
    graph = to_nir(trained, dt, variant)
    return atomic_write(out, lambda f: nir.write(f, graph), mode="w+b")


def metadata_number(meta: dict[str, Any], key: str) -> float | None:
    """The number ``meta[key]`` of a graph's or node's metadata, None when absent; a value that is
    not one scalar number is one line (a damaged or foreign file), not a traceback."""
    if key not in meta:
        return None
    try:
        return float(np.asarray(meta[key], dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise NeuroffError(f"the graph's metadata {key!r} is {meta[key]!r}, not a number; the file is damaged or was "
                           f"not written for neuroff (pass --dt for the time step)") from None


def recorded_dt(graph: Any) -> float | None:
    """The time step a NIR graph records (graph metadata, else a node's), or None."""
    for meta in [getattr(graph, "metadata", None) or {}, *[getattr(n, "metadata", None) or {} for n in graph.nodes.values()]]:
        if "dt" in meta:
            return metadata_number(meta, "dt")
    return None


def nir_dt(graph: Any) -> float:
    """The time step a neuroff NIR file was written for (DEFAULT_DT if it does not say)."""
    dt = recorded_dt(graph)
    return DEFAULT_DT if dt is None else dt


def load_norse(graph: Any) -> torch.nn.Module:
    """Import a generic file with Norse, handling its two conventions: dt comes from the file (Norse
    defaults to 1e-3) and r, which Norse ignores, is folded into the Linear weights feeding each
    LIF. A ``--for norse`` file needs none of this: plain ``norse.torch.from_nir(graph)`` runs it."""
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
