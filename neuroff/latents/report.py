"""The comparison report: every metric per model, latent kind and layer, the pairwise
similarities of the models, the plots, and a short markdown table. ``compare`` is what
``neuroff compare`` runs."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from neuroff.data import Dataset
from neuroff.engine.readout import linear_probe
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write, write_json
from neuroff.latents import metrics as M
from neuroff.latents import plots
from neuroff.latents.collection import (
    LatentSet,
    ModelLatents,
    check_label_mode,
    collect,
    save_latents,
)
from neuroff.threads import limited_threads

K_NEIGHBOURS = 5
# the seed paper's values for its spiking FF network on MNIST (for the markdown report)
PAPER_REFERENCE = "seed paper, MNIST: Hoyer 0.96-0.999, 5-NN separability 0.955-0.997"


def layer_metrics(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    seed: int = 0,
    silhouette_samples: int = 2000,
) -> dict[str, Any]:
    """Sparsity, separability and class statistics of one layer (test split; the linear
    probe trains on the training split)."""
    return {
        "n_neurons": int(z_test.shape[1]),
        "mean_activity": float(z_test.mean()),
        "hoyer": M.hoyer(z_test),
        "silent_fraction": M.silent_fraction(z_test),
        "active_fraction": M.active_fraction(z_test),
        "population_sparsity": M.population_sparsity(z_test),
        "lifetime_sparsity": M.lifetime_sparsity(z_test),
        "knn_agreement": M.knn_agreement(z_test, y_test, K_NEIGHBOURS),
        "silhouette": M.silhouette(z_test, y_test, silhouette_samples, seed),
        "linear_probe_accuracy": linear_probe(z_train, y_train, z_test, y_test, seed=seed),
        "class_mean_activity": M.class_mean_activity(z_test, y_test, n_classes).mean(1).tolist(),
        "class_centroid_distances": M.class_centroid_distances(z_test, y_test, n_classes).tolist(),
    }


def pair_similarity(a: ModelLatents, b: ModelLatents, split: str = "test") -> dict[str, Any]:
    """CKA between every layer pair of two models (primary latent kinds), and per same-depth
    layer the matched-neuron correlation and distribution distances."""
    la, lb = a.layers(split), b.layers(split)
    out: dict[str, Any] = {
        "a": a.name,
        "b": b.name,
        "kinds": [a.primary, b.primary],
        "cka_matrix": [[M.linear_cka(za, zb) for zb in lb] for za in la],
        "distances_normalized": True,
        "layers": [],
    }
    for i in range(min(len(la), len(lb))):
        d = M.matched_distribution_distances(la[i], lb[i], normalize=True)
        # silent neurons correlate 0 with everything; the mean over pairs of active neurons
        # says how alike the neurons that do respond are
        both = (np.abs(la[i]).max(0)[d["index_a"]] > 0) & (np.abs(lb[i]).max(0)[d["index_b"]] > 0)
        out["layers"].append(
            {
                "layer": i,
                "cka": out["cka_matrix"][i][i],
                "n_pairs": int(len(d["correlation"])),
                "matched_correlation_mean": float(d["correlation"].mean()),
                "n_active_pairs": int(both.sum()),
                "matched_correlation_active_mean": float(d["correlation"][both].mean()) if both.any() else float("nan"),
                "wasserstein_mean": float(d["wasserstein"].mean()),
                "wasserstein_median": float(np.median(d["wasserstein"])),
                "ks_mean": float(d["ks"].mean()),
                "ks_median": float(np.median(d["ks"])),
            }
        )
    return out


def build_report(latents: LatentSet, seed: int = 0, silhouette_samples: int = 2000, progress: bool = False) -> dict[str, Any]:
    """Every metric of every model / latent kind / layer, and the similarity of every pair."""
    y_tr, y_te = latents.labels["train"], latents.labels["test"]
    jobs = [(m, kind, i) for m in latents.models for kind in m.kinds for i in range(len(m.kinds[kind]["test"]))]
    models: dict[str, Any] = {
        m.name: {"mode": m.mode, "checkpoint": m.checkpoint, "primary": m.primary, **m.info, "latents": {}}
        for m in latents.models
    }
    for m, kind, i in tqdm(jobs, desc="metrics", unit="layer", disable=not progress, leave=False):
        z_tr, z_te = m.kinds[kind]["train"][i], m.kinds[kind]["test"][i]
        models[m.name]["latents"].setdefault(kind, []).append(
            {"layer": i, **layer_metrics(z_tr, y_tr, z_te, y_te, latents.n_classes, seed, silhouette_samples)}
        )
    pairs = [
        pair_similarity(a, b)
        for j, a in enumerate(latents.models)
        for b in latents.models[j + 1 :]
    ]
    return {
        "dataset": latents.dataset,
        "n_classes": latents.n_classes,
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)),
        "seed": latents.seed,
        "label_embedded": latents.label_mode,
        "k_neighbours": K_NEIGHBOURS,
        "models": models,
        "pairs": pairs,
    }


def _fmt(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def markdown_report(report: dict[str, Any]) -> str:
    """A short table per layer: Hoyer, silent fraction, 5-NN separability, silhouette,
    linear-probe accuracy and CKA with the first model; then the pairwise similarities."""
    names = list(report["models"])
    ref = names[0]
    cka_with_ref = {p["b"]: p["cka_matrix"] for p in report["pairs"] if p["a"] == ref}
    n_layers = max(len(m["latents"][m["primary"]]) for m in report["models"].values())
    lines = [
        f"# Latent comparison on {report['dataset']}",
        "",
        f"{report['n_test']} test samples (linear probe trained on {report['n_train']} training samples), "
        f"{report['label_embedded']} label embedded, seed {report['seed']}. Separability = fraction of the {report['k_neighbours']} "
        f"nearest neighbours sharing the class. CKA is with {ref}, on the primary latents.",
        f"Reference ({PAPER_REFERENCE}).",
    ]
    for i in range(n_layers):
        lines += [
            "",
            f"## Layer {i}",
            "",
            f"| model | latent | Hoyer | silent | {report['k_neighbours']}-NN separability | silhouette | linear probe | CKA with {ref} |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name in names:
            m = report["models"][name]
            for kind, layers in m["latents"].items():
                if i >= len(layers):
                    continue
                r = layers[i]
                if kind != m["primary"]:
                    cka = None
                elif name == ref:
                    cka = 1.0
                else:
                    mat = cka_with_ref.get(name)
                    cka = mat[i][i] if mat and i < len(mat) and i < len(mat[i]) else None
                lines.append(
                    f"| {name} ({m['mode']}) | {kind} | {_fmt(r['hoyer'])} | {_fmt(r['silent_fraction'])} | "
                    f"{_fmt(r['knn_agreement'])} | {_fmt(r['silhouette'])} | {_fmt(r['linear_probe_accuracy'])} | {_fmt(cka)} |"
                )
        rows = [(p, layer) for p in report["pairs"] for layer in p["layers"] if layer["layer"] == i]
        if rows:
            lines += [
                "",
                "| pair | CKA | matched-neuron correlation (all / active pairs) | Wasserstein (mean) | KS (mean) |",
                "|---|---|---|---|---|",
            ]
            for p, layer in rows:
                lines.append(
                    f"| {p['a']} vs {p['b']} | {_fmt(layer['cka'])} | {_fmt(layer['matched_correlation_mean'])} / "
                    f"{_fmt(layer['matched_correlation_active_mean'])} ({layer['n_active_pairs']} pairs) | "
                    f"{_fmt(layer['wasserstein_mean'])} | {_fmt(layer['ks_mean'])} |"
                )
    if report.get("files"):
        lines += ["", "Figures: " + ", ".join(f"`{f}`" for f in report["files"])]
    return "\n".join(lines) + "\n"


def _json_safe(obj: Any) -> Any:
    """NaN/inf -> null so report.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def write_plots(latents: LatentSet, report: dict[str, Any], out_dir: Path, n_heatmap: int = 500, n_embed: int = 1000, seed: int = 0, progress: bool = False) -> list[str]:
    """All figures of a comparison into ``out_dir``; returns their file names."""
    y = latents.labels["test"]
    n_layers = max(m.n_layers for m in latents.models)
    files: list[Path] = []
    steps = n_layers * 3 + len(report["pairs"])
    bar = tqdm(total=steps, desc="plots", disable=not progress, leave=False)
    for i in range(n_layers):
        panels = [plots.Panel(f"{m.name} L{i} {m.primary}", m.layers()[i], y) for m in latents.models if i < m.n_layers]
        files.append(plots.plot_class_sorted_heatmaps(panels, out_dir / f"heatmap_layer{i}.png", n_heatmap, latents.n_classes))
        bar.update()
        files.append(plots.plot_embeddings(panels, out_dir / f"embedding_layer{i}.png", n_points=n_embed, seed=seed))
        bar.update()
        files.append(plots.plot_sparsity_histograms(panels, out_dir / f"sparsity_layer{i}.png"))
        bar.update()
    for p in report["pairs"]:
        files.append(plots.plot_cka_matrix(p["cka_matrix"], out_dir / f"cka_{_slug(p['a'])}__{_slug(p['b'])}.png", p["a"], p["b"]))
        bar.update()
    bar.close()
    return [f.name for f in files]


def compare(
    checkpoints: list[str | Path],
    out_dir: str | Path,
    dataset: str | Dataset | None = None,
    n_train: int | None = 2000,
    n_test: int | None = None,
    n_embed: int = 1000,
    n_heatmap: int = 500,
    seed: int = 0,
    progress: bool = True,
    with_plots: bool = True,
    threads: int | None = 1,
    label: str = "true",
) -> dict[str, Any]:
    """Collect the latents of ``checkpoints`` on ``dataset`` and write ``latents.npz``,
    ``report.json``, ``report.md`` and the PNGs into ``out_dir``; returns the report.

    ``n_train``: training samples for the linear probe; ``n_test``: test samples every metric
    is computed on (None: the whole split); ``n_embed``: samples in the t-SNE/PCA/UMAP plots;
    ``n_heatmap``: samples in the heatmaps; ``with_plots=False`` writes the numbers only.
    ``label``: "true" embeds each sample's label (as in training's positive pass), "neutral"
    the average class code, so that no label information enters through the input.
    ``threads``: torch/BLAS/OpenMP threads while it runs (None: leave the libraries' defaults).
    One is the default because on a shared, loaded machine spin-waiting OpenMP threads make
    t-SNE and the neighbour searches several times slower (t-SNE of 360 digits: 5 s with one
    thread, 38 s with two on the loaded 2-core machine)."""
    for name, v in (("n_embed", n_embed), ("n_heatmap", n_heatmap)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            raise NeuroffError(f"{name} must be an integer >= 2, got {v!r}")
    check_label_mode(label)
    with limited_threads(threads):
        return _compare(checkpoints, out_dir, dataset, n_train, n_test, n_embed, n_heatmap, seed, progress, with_plots, label)


def _compare(checkpoints, out_dir, dataset, n_train, n_test, n_embed, n_heatmap, seed, progress, with_plots, label) -> dict[str, Any]:
    out = Path(out_dir)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    latents = collect(checkpoints, dataset, n_train=n_train, n_test=n_test, seed=seed, progress=progress, label=label)
    save_latents(out / "latents.npz", latents)
    timing["collect_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = build_report(latents, seed=seed, progress=progress)
    timing["metrics_seconds"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    figures = write_plots(latents, report, out, n_heatmap, n_embed, seed, progress) if with_plots else []
    report["files"] = ["latents.npz", *figures]
    timing["plots_seconds"] = time.perf_counter() - t2
    report["timing"] = {k: round(v, 2) for k, v in timing.items()}
    report["timing"]["total_seconds"] = round(time.perf_counter() - t0, 2)
    report = _json_safe(report)
    write_json(out / "report.json", report)
    atomic_write(out / "report.md", lambda f: f.write(markdown_report(report)), mode="w")
    return report
