"""Loihi export: quantise a trained spiking FF network, write it as a lava-dl netx HDF5 file with
a JSON sidecar, and estimate its Loihi 2 footprint.

Quantisation (per layer l, float weights W, threshold theta, membrane decay beta)::

    r      = quantile(|W|, clip_percentile / 100)         (the largest |w| for 100)
    k      = 254 / r                                      (integer units per float unit)
    m      = clamp(round(k W / 2), -128, 127)             (8-bit signed mantissa)
    W_int  = 2 m                                          (even integers in [-256, 254])
    vth    = round(k theta)                               (threshold mantissa, compared as vth << 6)
    dv     = round(4096 (1 - beta)),  du = 4095 (iDecay = 4096: the current does not persist)

so the fixed-point membrane is k * 64 times the float one. Weights with |w| > r are clipped;
the report gives their fraction. netx re-derives its own weight exponent from the integers it
reads (``optimize_weight_bits``), which is lossless for even weights in [-256, 254].

netx file layout (what ``lava.lib.dl.netx.hdf5.Network`` reads)::

    layer/0: type='input', shape=[D]                 (no neuron: spikes go straight to layer/1)
    layer/l: type='dense', shape=[N_l], weight=int [N_l, D_l],
             neuron/{type='CUBA', iDecay, vDecay, vThMant, refDelay=1, gradedSpike=0}

netx maps du = iDecay - 1, dv = vDecay, vth = vThMant, bias_exp = 6.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from tqdm import tqdm

from neuroff import __version__
from neuroff.core.encoding import CandidateSpikes, varying_features
from neuroff.core.goodness import layers_score
from neuroff.core.loihi_neurons import (
    DECAY_UNITY,
    DENDRITE_BITS,
    VTH_BITS,
    WEIGHT_BITS,
    WEIGHT_MAX,
    WEIGHT_STEP,
    CubaParams,
    check_cuba_params,
    check_weights,
)
from neuroff.engine.options import FFConfig
from neuroff.engine.training import EVAL_SEED_OFFSET, Trained
from neuroff.errors import NeuroffError
from neuroff.export.capability import LOIHI, check_exportable, check_layers_active
from neuroff.io import atomic_write
from neuroff.layers.fixed_point import (
    FixedLayer,
    FixedPointSpikingNet,
    decode_rasters,
    run_fixed,
    run_float,
)

SIDECAR_FORMAT = "neuroff-loihi-v1"

# Loihi 2 limits used by the resource estimate. "public": stated by Intel (Loihi 2 technology
# brief, 2021: 128 neuromorphic cores, up to 1M neurons and 120M synapses per chip).
# "estimate": our assumption, see docs/hardware.md.
LOIHI2 = {
    "cores_per_chip": (128, "public"),
    "max_neurons_per_core": (8192, "public, derived: 1M neurons per chip / 128 cores"),
    "max_neurons_per_chip": (1_048_576, "public"),
    "max_synapses_per_chip": (120_000_000, "public"),
    "synaptic_memory_bytes_per_core": (128 * 1024, "estimate"),
}


@dataclass
class QuantisedNet:
    """A quantised network: what goes on-chip, plus how it was made."""

    n_inputs: int
    layers: list[FixedLayer]
    clipped_fraction: list[float] = field(default_factory=list)


def quantise_layer(weight: torch.Tensor, threshold: float, beta: float, clip_percentile: float = 100.0) -> tuple[FixedLayer, float]:
    """One float layer [N, D] -> (FixedLayer, fraction of weights clipped); see the module docstring."""
    if not 0.0 < clip_percentile <= 100.0:
        raise NeuroffError(f"clip percentile {clip_percentile} must lie in (0, 100]")
    w = weight.to(torch.float64)
    if not torch.isfinite(w).all():
        raise NeuroffError("weights are not finite; retrain the network before exporting")
    mags = w.abs().flatten()
    r = float(mags.max()) if clip_percentile >= 100.0 else float(torch.quantile(mags, clip_percentile / 100.0))
    if r <= 0.0:
        raise NeuroffError("a layer's weights are all zero (or the clip percentile is too low); nothing to quantise")
    k = WEIGHT_MAX / r
    half = 1 << (WEIGHT_BITS - 1)
    m = torch.round(w * k / WEIGHT_STEP)
    clipped = float(((m > half - 1) | (m < -half)).double().mean())
    w_int = (m.clamp(-half, half - 1) * WEIGHT_STEP).to(torch.int64)
    vth = round(threshold * k)
    if vth >= 1 << VTH_BITS:
        raise NeuroffError(
            f"threshold {threshold} is {vth} weight steps, over Loihi's {VTH_BITS}-bit limit; the weights are tiny "
            f"next to the threshold (largest |w| {r:.3g}); retrain with a lower --threshold or a larger --init-scale"
        )
    if vth < 1:
        raise NeuroffError(f"threshold {threshold} rounds to 0 weight steps; lower the weight scale (largest |w| {r:.3g})")
    params = CubaParams(du=DECAY_UNITY - 1, dv=round(DECAY_UNITY * (1.0 - beta)), vth=vth)
    check_cuba_params(params)
    check_weights(w_int)
    return FixedLayer(w_int, params, k), clipped


def quantise(trained: Trained, clip_percentile: float = 100.0) -> QuantisedNet:
    model = check_exportable(trained, LOIHI)
    c = trained.config
    layers, clipped = [], []
    for w in model.weights:
        layer, frac = quantise_layer(w, c.threshold, c.beta, clip_percentile)
        layers.append(layer)
        clipped.append(frac)
    return QuantisedNet(model.sizes[0], layers, clipped)


def fixed_point_model(trained: Trained, qnet: QuantisedNet) -> FixedPointSpikingNet:
    return FixedPointSpikingNet(trained.config, qnet.n_inputs, qnet.layers)


@torch.no_grad()
def compare(
    trained: Trained, qnet: QuantisedNet, x: torch.Tensor, y: torch.Tensor, batch: int = 250, progress: bool = False
) -> dict[str, Any]:
    """Float vs fixed point on the same encoded spikes: accuracies and spike agreement.

    ``spike_agreement`` is the fraction of (step, neuron) raster entries that agree;
    ``count_agreement`` is 1 - sum|count_float - count_fixed| / sum count_float, per layer.
    The spikes are drawn exactly as ``engine.evaluate`` draws them (same seed, batch and common
    random numbers); the float network runs in float64 here (``neuroff evaluate`` uses float32),
    so the float accuracy can differ from the one it prints by a rare threshold tie.
    """
    model = check_exportable(trained, LOIHI)
    fixed = fixed_point_model(trained, qnet)
    emb, c = trained.embedding, trained.config
    g = torch.Generator().manual_seed(c.seed + EVAL_SEED_OFFSET)
    correct_f = correct_q = agree_pred = 0
    same = [0] * len(qnet.layers)
    total = [0] * len(qnet.layers)
    count_diff = [0.0] * len(qnet.layers)
    count_float = [0.0] * len(qnet.layers)
    max_a = [0] * len(qnet.layers)
    bar = tqdm(total=len(x), unit="sample", desc="float vs fixed point", disable=not progress, leave=False, file=sys.stderr)
    for lo in range(0, len(x), batch):
        xb, yb = x[lo : lo + batch], y[lo : lo + batch]
        bar.update(len(xb))
        x_all = emb.embed_all(xb)
        b, n_c, d = x_all.shape
        # drawn as SpikingFFNet.candidate_scores draws them: one uniform per (step, sample,
        # input), shared by the C candidates (common random numbers)
        spikes_sc = model.encode(x_all, g, noise_shape=(b, 1, d))  # [T, b, C, d]
        spikes = spikes_sc.reshape(-1, b * n_c, d)
        r_float = run_float(model, spikes)
        r_fixed, ma = run_fixed(qnet.layers, CandidateSpikes.from_raster(spikes_sc, varying_features(x_all)))
        s_f = decode_rasters(r_float, c).p_window
        s_q = decode_rasters(r_fixed, c).p_window
        pred_f = layers_score(s_f, c.score_layers).reshape(b, n_c).argmax(1)
        pred_q = layers_score(s_q, c.score_layers).reshape(b, n_c).argmax(1)
        correct_f += int((pred_f == yb).sum())
        correct_q += int((pred_q == yb).sum())
        agree_pred += int((pred_f == pred_q).sum())
        for i, (rf, rq) in enumerate(zip(r_float, r_fixed)):
            same[i] += int((rf.to(torch.int64) == rq).sum())
            total[i] += rq.numel()
            cf, cq = rf.sum(0), rq.sum(0).to(torch.float64)
            count_diff[i] += float((cf - cq).abs().sum())
            count_float[i] += float(cf.sum())
            max_a[i] = max(max_a[i], ma[i])
    bar.close()
    n = max(len(x), 1)
    readout = c.head is not None  # a label-free family (SCFF) has no goodness read-out: only spikes compare
    return {
        "n_samples": len(x),
        "float_accuracy": correct_f / n if readout else None,
        "fixed_accuracy": correct_q / n if readout else None,
        "prediction_agreement": agree_pred / n if readout else None,
        "spike_agreement": [s / max(t, 1) for s, t in zip(same, total)],
        "count_agreement": [1.0 - d / max(f, 1.0) for d, f in zip(count_diff, count_float)],
        "clipped_fraction": list(qnet.clipped_fraction),
        "max_abs_dendritic_sum": max_a,
        "dendritic_sum_fits_16_bits": [a < 1 << (DENDRITE_BITS - 1) for a in max_a],
    }


def resource_estimate(qnet: QuantisedNet) -> dict[str, Any]:
    """Per-layer Loihi 2 footprint: neurons, fan-in, synapses, weight bits and cores, where cores
    = max(ceil(neurons / 8192), ceil(dense synaptic bytes / 128 KiB)). See LOIHI2 for sources."""
    max_n = LOIHI2["max_neurons_per_core"][0]
    mem = LOIHI2["synaptic_memory_bytes_per_core"][0]
    rows = []
    for i, layer in enumerate(qnet.layers):
        n, d = int(layer.weight.shape[0]), int(layer.weight.shape[1])
        syn = n * d
        syn_bytes = syn * WEIGHT_BITS // 8
        cores = max(math.ceil(n / max_n), math.ceil(syn_bytes / mem))
        rows.append(
            {
                "layer": i + 1,
                "neurons": n,
                "fan_in": d,
                "synapses": syn,
                "nonzero_synapses": int((layer.weight != 0).sum()),
                "weight_bits": WEIGHT_BITS,
                "synaptic_bytes": syn_bytes,
                "cores": cores,
            }
        )
    total_cores = sum(r["cores"] for r in rows)
    return {
        "layers": rows,
        "input_axons": qnet.n_inputs,
        "total_neurons": sum(r["neurons"] for r in rows),
        "total_synapses": sum(r["synapses"] for r in rows),
        "total_cores": total_cores,
        "chips": math.ceil(total_cores / LOIHI2["cores_per_chip"][0]),
        "limits": {k: {"value": v, "source": s} for k, (v, s) in LOIHI2.items()},
    }


def format_resources(est: dict[str, Any]) -> str:
    lines = [f"{'layer':>5} {'neurons':>8} {'fan-in':>7} {'synapses':>9} {'w bits':>6} {'syn KiB':>8} {'cores':>5}"]
    for r in est["layers"]:
        lines.append(
            f"{r['layer']:>5} {r['neurons']:>8} {r['fan_in']:>7} {r['synapses']:>9} {r['weight_bits']:>6} "
            f"{r['synaptic_bytes'] / 1024:>8.1f} {r['cores']:>5}"
        )
    lines.append(
        f"total: {est['total_neurons']} neurons, {est['total_synapses']} synapses, {est['total_cores']} of 128 cores "
        f"({est['chips']} Loihi 2 chip); cores estimated from 8,192 neurons/core (public per-chip figures / 128) and 128 KiB synaptic memory/core (estimate)"
    )
    return "\n".join(lines)


def _write_netx(f: Any, qnet: QuantisedNet) -> None:
    with h5py.File(f, "w") as h5:
        h5.attrs["generator"] = f"neuroff {__version__}"
        layers = h5.create_group("layer")
        g = layers.create_group("0")
        g.create_dataset("type", (1,), "S10", [b"input"])
        g.create_dataset("shape", data=np.array([qnet.n_inputs], dtype=np.int64))
        for i, layer in enumerate(qnet.layers, start=1):
            g = layers.create_group(str(i))
            g.create_dataset("type", (1,), "S10", [b"dense"])
            g.create_dataset("shape", data=np.array([layer.weight.shape[0]], dtype=np.int64))
            g.create_dataset("weight", data=layer.weight.numpy().astype(np.int64))
            n = g.create_group("neuron")
            n.create_dataset("type", (1,), "S10", [b"CUBA"])
            n.create_dataset("iDecay", data=np.int64(layer.params.du + 1))
            n.create_dataset("vDecay", data=np.int64(layer.params.dv))
            n.create_dataset("vThMant", data=np.int64(layer.params.vth))
            n.create_dataset("refDelay", data=np.int64(1))
            n.create_dataset("gradedSpike", data=np.bool_(False))


def write_netx(path: str | Path, qnet: QuantisedNet) -> Path:
    """Write the netx HDF5 file atomically."""
    return atomic_write(path, lambda f: _write_netx(f, qnet), mode="w+b")


def _str(ds: h5py.Dataset) -> str:
    v = ds[()]
    v = v[0] if getattr(v, "shape", ()) else v
    return v.decode("ascii") if isinstance(v, bytes) else str(v)


def read_netx(path: str | Path, scales: list[float] | None = None) -> QuantisedNet:
    """Read a netx file written by ``write_netx`` back into a QuantisedNet (for the fixed-point
    reference of exactly what Lava loads)."""
    p = Path(path)
    if not p.is_file():
        raise NeuroffError(f"netx file {p} not found; write one with `neuroff export --target loihi CKPT -o {p}`")
    try:
        with h5py.File(p, "r") as h5:
            group = h5["layer"]
            keys = sorted(group.keys(), key=int)
            if not keys or _str(group[keys[0]]["type"]) != "input":
                raise NeuroffError(f"{p}: layer/0 must be the input layer")
            n_inputs = int(np.prod(group[keys[0]]["shape"][()]))
            layers = []
            for j, key in enumerate(keys[1:]):
                g = group[key]
                if _str(g["type"]) != "dense" or "neuron" not in g or _str(g["neuron"]["type"]) != "CUBA":
                    raise NeuroffError(f"{p}: layer/{key} is not a dense CUBA layer; only those are supported")
                n = g["neuron"]
                params = CubaParams(du=int(n["iDecay"][()]) - 1, dv=int(n["vDecay"][()]), vth=int(n["vThMant"][()]))
                weight = torch.from_numpy(np.asarray(g["weight"][()]).astype(np.int64))
                layers.append(FixedLayer(weight, params, scales[j] if scales else 1.0))
    except (OSError, KeyError, ValueError) as err:
        raise NeuroffError(f"{p} is not a readable netx file ({type(err).__name__}: {err})") from None
    return QuantisedNet(n_inputs, layers)


def sidecar(
    trained: Trained, qnet: QuantisedNet, report: dict[str, Any], resources: dict[str, Any], netx_name: str, source: str | None = None
) -> dict[str, Any]:
    """Everything off-chip: input layout and encoder, label codes, timing and the decode rule."""
    c: FFConfig = trained.config
    emb = trained.embedding
    n_pixels = qnet.n_inputs - emb.extra_features
    return {
        "format": SIDECAR_FORMAT,
        "neuroff_version": __version__,
        "netx_file": netx_name,
        "source_checkpoint": source,
        "dataset": c.dataset,
        "seed": c.seed,
        "n_inputs": qnet.n_inputs,
        "n_classes": emb.n_classes,
        "input_layout": {
            "pixels": n_pixels,
            "label_bits": emb.extra_features,
            "embedding": emb.kind,
            "order": "pixels in [0, 1], then the candidate label's code bits (code) or the one-hot overlay on the first C pixels (onehot)",
        },
        "label_codes": emb.codes.to(torch.int64).tolist(),
        "encoder": {
            "kind": c.encoder,
            "steps": c.steps,
            "max_rate": c.max_rate,
            "latency_mode": c.latency_mode,
            "normalize_latency": c.normalize_latency,
            "rule": (
                "rate: each step each input spikes with probability max_rate * x (Bernoulli); one uniform draw per "
                "(step, sample, input) is shared by all candidate labels (common random numbers)"
            ),
        },
        "timing": {
            "steps": c.steps,
            "reset_interval": c.steps,
            "layer_delay": "each dense layer adds one step: layer l (1-based) fires for presentation step tau at step tau + l",
        },
        "layers": [
            {
                "neurons": int(layer.weight.shape[0]),
                "fan_in": int(layer.weight.shape[1]),
                "weight_scale": layer.scale,
                "iDecay": layer.params.du + 1,
                "vDecay": layer.params.dv,
                "vThMant": layer.params.vth,
                "float_threshold": c.threshold,
                "float_beta": c.beta,
            }
            for layer in qnet.layers
        ],
        "decode": {
            "trace": c.trace,
            "trace_decay": c.trace_decay,
            "head": {"kind": c.head, "alpha": c.alpha, "theta": c.theta, "eps": c.eps} if c.head is not None else None,
            "learn_start": c.learn_start,
            "score_layers": c.score_layers,
            "rule": (
                "per layer: z[t] = trace(z[t-1], s[t]); P = P_head(z); p = mean of P over steps t >= learn_start; "
                "score(label) = sum of p over the score layers (all layers when null); prediction = argmax over labels"
                if c.head is not None else
                "no goodness read-out (head null: a label-free family); the output is the spike rasters, whose counts "
                "and traces z[t] = trace(z[t-1], s[t]) are the latents a linear probe reads"
            ),
        },
        "quantisation": report,
        "resources": resources,
    }


def export_loihi(
    trained: Trained,
    out: str | Path,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    clip_percentile: float = 100.0,
    source: str | Path | None = None,
    allow_silent: bool = False,
    progress: bool = False,
) -> tuple[Path, Path, dict[str, Any]]:
    """Quantise, compare on (x_test, y_test) if given, and write ``out`` (netx) and its ``.json``
    sidecar. Every check runs before anything is written; each file is written atomically."""
    check_layers_active(trained, LOIHI, allow_silent)
    out = Path(out)
    if not str(out).strip() or out.is_dir():
        raise NeuroffError(f"-o {str(out)!r} must name the netx file to write, e.g. -o model.net")
    if out.suffix == ".json":
        raise NeuroffError(f"{out}: the netx file needs its own name (the sidecar is written next to it as .json); use e.g. model.net")
    side_path = out.with_suffix(".json")
    qnet = quantise(trained, clip_percentile)
    report = compare(trained, qnet, x_test, y_test, progress=progress) if x_test is not None else {"clipped_fraction": qnet.clipped_fraction}
    report["clip_percentile"] = clip_percentile
    resources = resource_estimate(qnet)
    meta = sidecar(trained, qnet, report, resources, out.name, str(Path(source).resolve()) if source else None)
    payload = json.dumps(meta, indent=2) + "\n"
    write_netx(out, qnet)
    atomic_write(side_path, lambda f: f.write(payload), mode="w")
    return out, side_path, meta


def load_sidecar(netx_path: str | Path) -> dict[str, Any]:
    p = Path(netx_path).with_suffix(".json")
    if not p.is_file():
        raise NeuroffError(f"sidecar {p} not found; export with `neuroff export --target loihi CKPT -o {Path(netx_path)}`")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NeuroffError(f"sidecar {p} is not valid JSON ({str(err)[:80]}); export the model again") from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise NeuroffError(f"{p} is not a neuroff Loihi sidecar (expected format {SIDECAR_FORMAT}); export the model again")
    return data
