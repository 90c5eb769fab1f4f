"""NIR import: a graph ``Input -> (Affine|Linear -> LIF|CubaLIF) x L -> Output`` made by neuroff,
snnTorch, Norse or by hand, as a neuroff checkpoint of the spiking LIF stack.

Stepped by forward Euler at dt, a NIR LIF node (``tau dv/dt = (v_leak - v) + r I``) is

    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r (W s[t] + b),   spike when v > v_threshold, v -> v_reset

and neuroff's ``v[t] = beta v[t-1] + W' s[t]`` (one beta and one threshold theta for the whole
network, reset to zero) is the same neuron when, per neuron n,

    beta = 1 - dt/tau_n   (equal for every neuron of every layer),   v_leak = v_reset = b = 0,
    W'_n = (r_n dt / tau_n) (theta / v_threshold_n) W_n

(with reset to zero, scaling a neuron's input and threshold by one factor changes nothing, so
per-neuron thresholds fold into the weights; a factor within 1e-12 of 1 is taken as 1, so a
neuroff file comes back with identical weights). A CubaLIF node is the same neuron when its
synaptic current does not persist (dt = tau_syn: I[t] = w_in W s[t]); its input scale is
w_in r dt / tau_mem. Anything else (convolution, recurrence, another neuron model, a leak
towards v_leak != 0, a reset to v_reset != 0, a bias, per-neuron leaks) is refused on one line
naming the node. dt is the file's (graph metadata, as neuroff writes it) or ``--dt``.

A graph written by neuroff carries its run's options and label codes in its metadata, so the
checkpoint comes back as it was; any other graph takes its options from the command line: with
a label embedding (``--embedding code|onehot``) it is a spiking FF network scored by goodness,
without one a plain feature network (the spiking SCFF family: read out by a linear probe).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroff.errors import NeuroffError

FORMAT_HINT = "neuroff imports Input -> (Affine|Linear -> LIF|CubaLIF) x L -> Output"
UNITY_TOL = 1e-12  # an input scale this close to 1 is 1 (the rounding of tau = dt / (1 - beta), r = tau / dt)
BETA_TOL = 1e-9  # leaks this close are one beta (per-neuron taus written in float32 differ by ~1e-8 of tau)
FROM_GRAPH = ("layers", "beta", "threshold", "reset", "refractory", "mode")  # options the graph decides
IMPORTABLE_FAMILIES = ("ff", "scff")  # their spiking model is the plain LIF stack


@dataclass(frozen=True)
class ImportedNet:
    """The neuroff form of a NIR graph: dense float64 weights [N_l, D_l], one beta and threshold."""

    n_inputs: int
    weights: list[np.ndarray]
    beta: float
    threshold: float
    dt: float
    metadata: dict[str, Any]


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO" and value.size == 1:
        return _text(value.reshape(()).item())
    return value


def read_graph(path: str | Path) -> Any:
    """The NIRGraph in ``path``, or one line saying why it is not one."""
    import h5py
    import nir

    p = Path(path)
    if not p.is_file():
        raise NeuroffError(f"NIR file {p} not found; write one with `neuroff export --target nir` or nir.write")
    if not h5py.is_hdf5(p):
        raise NeuroffError(f"{p} is not a NIR file (not HDF5); pass a .nir graph written by nir.write")
    try:
        with h5py.File(p, "r") as f:
            if "node" not in f or "version" not in f:
                raise NeuroffError(f"{p} is an HDF5 file but not a NIR graph (no 'node' group or 'version'); pass a .nir graph written by nir.write")
        graph = nir.read(str(p), type_check=False)  # shapes are checked below, naming the node
    except NeuroffError:
        raise
    except Exception as err:  # noqa: BLE001 -- nir raises anything from a malformed file (ValueError, KeyError, TypeError...)
        raise NeuroffError(f"{p}: NIR could not read it ({type(err).__name__}: {str(err)[:120]}); the file is damaged or from another NIR version") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NeuroffError(f"{p} holds a single NIR node, not a graph; {FORMAT_HINT}")
    graph.metadata = {k: _text(v) for k, v in (graph.metadata or {}).items()}
    return graph


def _refusal(name: str, node: Any) -> str | None:
    """Why a node type has no place in neuroff's LIF stack, or None if it may."""
    import nir

    kind = type(node).__name__
    if isinstance(node, (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.LIF, nir.CubaLIF)):
        return None
    if isinstance(node, nir.NIRGraph):
        what = "a nested graph (snnTorch's form of a recurrent layer); neuroff's layers have no recurrence"
    elif kind.startswith("Conv"):
        what = f"a {kind}; neuroff's layers are dense (no convolution)"
    elif isinstance(node, nir.IF):
        what = "an IF neuron (no leak); another neuron model than neuroff's LIF"
    elif kind in ("LI", "CubaLI", "I"):
        what = f"a non-spiking {kind} neuron; another neuron model than neuroff's LIF"
    else:
        what = f"a {kind} node, which neuroff's dense LIF stack has no counterpart for"
    return f"node {name!r} is {what}"


def _loop_edge(succ: dict[str, list[str]]) -> tuple[str, str] | None:
    """An edge that closes a directed cycle, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in succ:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                return node, child
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    return None


def chain(graph: Any) -> list[str]:
    """The node names from the Input to the Output, checked to form one chain of supported nodes."""
    import nir

    for name, node in graph.nodes.items():
        problem = _refusal(name, node)
        if problem:
            raise NeuroffError(f"{problem}; {FORMAT_HINT}")
    for a, b in graph.edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise NeuroffError(f"edge ({a!r}, {b!r}) names no node {end!r}; the graph is damaged")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise NeuroffError(f"the graph has {len(inputs)} Input nodes; {FORMAT_HINT} (one input)")
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    pred: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in dict.fromkeys(map(tuple, graph.edges)):  # a repeated edge is one edge
        succ[a].append(b)
        pred[b].append(a)
    loop = _loop_edge(succ)
    if loop:
        raise NeuroffError(f"edge ({loop[0]!r}, {loop[1]!r}) closes a loop: recurrence, which neuroff's layers do not have")
    order, name = [inputs[0]], inputs[0]
    while not isinstance(graph.nodes[name], nir.Output):
        if not succ[name]:
            raise NeuroffError(f"node {name!r} has no outgoing edge (a missing edge): the path from the input ends before an Output node")
        if len(succ[name]) > 1:
            raise NeuroffError(f"node {name!r} feeds {len(succ[name])} nodes ({', '.join(succ[name])}); neuroff's layers form one chain, without branches")
        nxt = succ[name][0]
        if len(pred[nxt]) > 1:
            raise NeuroffError(f"node {nxt!r} sums {len(pred[nxt])} inputs ({', '.join(pred[nxt])}); neuroff's layers form one chain")
        order.append(nxt)
        name = nxt
    stray = [n for n in graph.nodes if n not in order]
    if stray:
        raise NeuroffError(f"node {stray[0]!r} is not on the path from the input to the output (a missing edge); {FORMAT_HINT}")
    return order


def _size(node_type: Any) -> int:
    shape = np.asarray(next(iter(node_type.values())) if isinstance(node_type, dict) else node_type).reshape(-1)
    return int(np.prod(shape)) if shape.size else 0


def _per_neuron(name: str, node: Any, field: str, n: int) -> np.ndarray:
    value = np.asarray(getattr(node, field), dtype=np.float64)
    if value.size not in (1, n):
        raise NeuroffError(f"node {name!r}: {field} has {value.size} values for {n} neurons (mismatched shapes)")
    value = np.broadcast_to(value.reshape(-1), (n,))
    if not np.all(np.isfinite(value)):
        raise NeuroffError(f"node {name!r}: {field} is not finite")
    return value


def _neuron(name: str, node: Any, n: int, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(beta, input scale, threshold) per neuron of a LIF or CubaLIF node at time step dt."""
    import nir

    get = lambda field: _per_neuron(name, node, field, n)
    if np.any(get("v_leak") != 0):
        raise NeuroffError(f"node {name!r} leaks towards v_leak != 0; neuroff's neuron leaks towards 0 (a leak it does not have)")
    if np.any(get("v_reset") != 0):
        raise NeuroffError(f"node {name!r} resets to v_reset != 0; neuroff's neuron resets to 0 (a reset it does not have)")
    threshold = get("v_threshold")
    if np.any(threshold <= 0):
        raise NeuroffError(f"node {name!r} has a threshold <= 0; neuroff's threshold is positive")
    if isinstance(node, nir.CubaLIF):
        tau_syn = get("tau_syn")
        if not np.allclose(dt / tau_syn, 1.0, rtol=0, atol=BETA_TOL):
            raise NeuroffError(
                f"node {name!r} is a CubaLIF whose synaptic current persists (tau_syn = {tau_syn.max():g} s, dt = {dt:g} s); "
                "neuroff's neuron has no synaptic current (only tau_syn = dt imports)"
            )
        tau, scale = get("tau_mem"), get("w_in") * get("r")
    else:
        tau, scale = get("tau"), get("r")
    if np.any(tau < dt):
        raise NeuroffError(f"node {name!r}: tau {tau.min():g} s is shorter than dt = {dt:g} s (beta = 1 - dt/tau < 0); pass the graph's --dt")
    return 1.0 - dt / tau, scale * dt / tau, threshold


def _fold(factor: np.ndarray) -> np.ndarray:
    return np.where(np.abs(factor - 1.0) <= UNITY_TOL, 1.0, factor)


def recorded(meta: dict[str, Any], key: str) -> float | None:
    from neuroff.export.nir import metadata_number

    return metadata_number(meta, key)


def to_neuroff(graph: Any, dt: float | None = None) -> ImportedNet:
    """The weights, beta and threshold of a NIR graph (see the module docstring), or one line naming
    the first node neuroff cannot represent."""
    import nir

    from neuroff.export.nir import recorded_dt

    dt = recorded_dt(graph) if dt is None else dt
    if dt is None:
        raise NeuroffError("the graph does not record its time step; pass --dt (1e-4 for snnTorch's exporter and importer, 1e-3 for Norse's)")
    if not (dt > 0 and math.isfinite(dt)):
        raise NeuroffError(f"--dt {dt} must be a positive number of seconds")
    order = chain(graph)
    meta = dict(graph.metadata or {})
    body = order[1:-1]
    if not body:
        raise NeuroffError(f"the graph has no layers between its Input and Output; {FORMAT_HINT}")
    size = _size(graph.nodes[order[0]].input_type)
    n_inputs = size
    layers: list[tuple[str, np.ndarray, str, np.ndarray, np.ndarray, np.ndarray]] = []
    for k in range(0, len(body), 2):
        wname = body[k]
        wnode = graph.nodes[wname]
        if not isinstance(wnode, (nir.Linear, nir.Affine)):
            raise NeuroffError(f"node {wname!r} ({type(wnode).__name__}) follows {order[k]!r} where a weight layer (Affine or Linear) belongs; {FORMAT_HINT}")
        if k + 1 >= len(body) or not isinstance(graph.nodes[body[k + 1]], (nir.LIF, nir.CubaLIF)):
            after = body[k + 1] if k + 1 < len(body) else order[-1]
            raise NeuroffError(f"node {wname!r} feeds {after!r} ({type(graph.nodes[after]).__name__}) where a LIF or CubaLIF neuron belongs; {FORMAT_HINT}")
        weight = np.asarray(wnode.weight, dtype=np.float64)
        if weight.ndim != 2:
            raise NeuroffError(f"node {wname!r} has a weight of shape {weight.shape}; a dense layer's is [outputs, inputs]")
        if weight.shape[1] != size:
            raise NeuroffError(f"node {wname!r} takes {weight.shape[1]} inputs but {order[k]!r} gives {size} (mismatched shapes)")
        if not np.all(np.isfinite(weight)):
            raise NeuroffError(f"node {wname!r} has non-finite weights")
        if isinstance(wnode, nir.Affine) and wnode.bias is not None and np.any(np.asarray(wnode.bias) != 0):
            raise NeuroffError(f"node {wname!r} has a bias (a constant input current), which neuroff's layers do not have")
        nname = body[k + 1]
        beta, scale, threshold = _neuron(nname, graph.nodes[nname], weight.shape[0], dt)
        layers.append((wname, weight, nname, beta, scale, threshold))
        size = weight.shape[0]
    out_size = _size(graph.nodes[order[-1]].output_type)
    if out_size != size:
        raise NeuroffError(f"the Output node {order[-1]!r} takes {out_size} values but {order[-2]!r} gives {size} (mismatched shapes)")
    betas = np.concatenate([b for *_, b, _, _ in layers])
    if np.ptp(betas) > BETA_TOL:
        where = next(n for _, _, n, b, _, _ in layers if np.ptp(b) > BETA_TOL or abs(b[0] - betas[0]) > BETA_TOL)
        raise NeuroffError(f"node {where!r} has another leak than {layers[0][2]!r} (beta from {betas.min():.6g} to {betas.max():.6g}); "
                           "neuroff's neurons share one beta")
    beta = recorded(meta, "beta")
    beta = beta if beta is not None and abs(beta - betas[0]) <= BETA_TOL else float(betas[0])
    theta = recorded(meta, "threshold")
    theta = theta if theta is not None else float(layers[0][5][0])
    weights = [_fold(scale * theta / threshold)[:, None] * weight for _, weight, _, _, scale, threshold in layers]
    return ImportedNet(n_inputs, weights, beta, theta, dt, meta)


def _options(net: ImportedNet, request: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """The checkpoint's options: the graph's recorded run options (a neuroff file), overridden by
    the ones given, with what the graph decides (FROM_GRAPH) taken from the graph."""
    from neuroff.options import flag

    stored = net.metadata.get("neuroff_config")
    try:
        options = json.loads(stored) if stored else {}
    except (TypeError, json.JSONDecodeError):
        raise NeuroffError("the graph's neuroff_config metadata is not JSON; the file is damaged") from None
    decided = {"layers": [int(w.shape[0]) for w in net.weights], "beta": net.beta, "threshold": net.threshold,
               "reset": "zero", "refractory": 0, "mode": "spiking"}
    for name in sorted(given & set(FROM_GRAPH)):
        value = request[name]
        same = math.isclose(value, decided[name], rel_tol=1e-9) if isinstance(value, float) else value == decided[name]
        if not same:
            raise NeuroffError(f"{flag(name)} {value} differs from the graph's {decided[name]}; the graph decides it, drop the option")
    options |= {name: request[name] for name in given}
    options |= decided
    if "embedding" not in given and "embedding" not in options:
        options["embedding"] = str(net.metadata.get("label_embedding", "none"))
    if "rule" not in given and "rule" not in options:
        options["rule"] = "scff" if options["embedding"] == "none" else "ff"
    if options["rule"] not in IMPORTABLE_FAMILIES:
        raise NeuroffError(f"--rule {options['rule']}: an imported LIF stack is a spiking {' or '.join(IMPORTABLE_FAMILIES)} network")
    if options.get("scff_centre"):
        raise NeuroffError("--scff-centre has no NIR form (the graph has no centring); drop it")
    return options


def import_nir(
    path: str | Path, out_dir: str | Path, request: dict[str, Any] | None = None, given: set[str] | None = None,
    dt: float | None = None,
) -> Any:
    """Read the NIR graph in ``path`` and write ``out_dir/model.pt`` (and metrics.json): a spiking
    checkpoint at epoch 0 that evaluate, compare, export and ``train --resume`` accept. ``request``
    holds option values by name (``given`` their names); returns the Trained written."""
    from neuroff.data import load_dataset
    from neuroff.data.pairing import LabelEmbedding, make_label_embedding
    from neuroff.engine.options import FFConfig
    from neuroff.engine.training import Trained, build, save_trained
    from neuroff.io import out_dir_problem, run_lock, write_json

    problem = out_dir_problem(out_dir, "-o")
    if problem:
        raise NeuroffError(problem)
    given = set(given or ())
    net = to_neuroff(read_graph(path), dt)
    # reset_unread: a file records every option of its run, with the declared defaults of the
    # version that wrote it for those its family never read (e.g. --analog-lr 0.003 before stop 26)
    config = FFConfig.from_dict(_options(net, dict(request or {}), given)).reset_unread()
    config.validate(given - set(FROM_GRAPH))
    ds = load_dataset(config.dataset, seed=config.seed)
    kind, meta = config.embedding, net.metadata
    codes = meta.get("label_codes")
    if codes is not None and meta.get("label_embedding") == kind and not given & {"code_bits", "code_p", "seed"}:
        embedding = LabelEmbedding(kind, int(np.asarray(codes).shape[0]), torch.as_tensor(np.asarray(codes), dtype=torch.float32))
    else:
        embedding = make_label_embedding(kind, ds.n_classes, config.code_bits, config.code_p, config.seed)
    if embedding.n_classes != ds.n_classes:
        raise NeuroffError(f"the graph's label codes are for {embedding.n_classes} classes but --dataset {config.dataset} has {ds.n_classes}")
    expected = ds.n_features + embedding.extra_features
    if net.n_inputs != expected:
        extra = f" + {embedding.extra_features} label-code bits" if embedding.extra_features else ""
        raise NeuroffError(
            f"the graph takes {net.n_inputs} inputs but --dataset {config.dataset} gives {ds.n_features} features{extra}; "
            "pass the dataset it was trained on (--dataset) and its label embedding (--embedding, --code-bits)"
        )
    generator = torch.Generator().manual_seed(config.seed)
    model, rule = build(config, net.n_inputs, ds.n_classes, generator)
    for i, w in enumerate(net.weights):
        model.set_layer(i, torch.from_numpy(np.ascontiguousarray(w)), torch.zeros(w.shape, dtype=torch.float64))
    trained = Trained(config, model, embedding, rule, generator)
    with run_lock(out_dir):
        save_trained(trained, Path(out_dir) / "model.pt")
        write_json(Path(out_dir) / "metrics.json", {"config": config.to_dict(), "epochs": [],
                                                    "imported_from": str(Path(path).resolve()), "dt": net.dt})
    return trained
