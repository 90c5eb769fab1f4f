"""Figures of latent comparisons, as PNG files (matplotlib's Agg canvas, no pyplot). Each
function takes arrays (one panel per model) and a path, draws, saves atomically and returns the
path; the numbers behind them live in report.json next to the PNGs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from neuroff.engine.readout import as_labels, as_matrix
from neuroff.io import atomic_write
from neuroff.latents.metrics import class_mean_activity, hoyer_per_sample


class Panel(NamedTuple):
    """One model's latents of one layer, with the samples' labels."""

    title: str
    z: Any  # [n, N]
    y: Any  # [n]


def _figure(figsize: tuple[float, float]):
    """A pyplot-free Figure: it renders with the Agg canvas on savefig and never touches the
    global backend, so a notebook's inline plots keep working after a comparison."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def class_sorted_order(z: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample order (by class, stable) and neuron order (by preferred class, then by how much
    they prefer it) that make class structure visible as blocks in a heatmap."""
    rows = np.argsort(y, kind="stable")
    means = np.nan_to_num(class_mean_activity(z, y, n_classes))
    preferred = np.where(means.max(0) > 0, means.argmax(0), n_classes)  # silent neurons last
    strength = means.max(0) - means.mean(0)
    cols = np.lexsort((-strength, preferred))
    return rows, cols


def plot_class_sorted_heatmaps(panels: list[Panel], path: str | Path, n_samples: int = 500, n_classes: int | None = None) -> Path:
    """Latents of the first ``n_samples`` samples, rows grouped by class (lines between
    classes), neurons sorted by preferred class; one heatmap per model, each on its own colour
    scale (0 .. its 99th percentile)."""
    fig = _figure((4.8 * len(panels), 4.6))
    axes = fig.subplots(1, len(panels), squeeze=False)
    fig.subplots_adjust(wspace=0.35)
    for ax, panel in zip(axes[0], panels):
        z = as_matrix(panel.z)[:n_samples]
        y = as_labels(panel.y, len(as_matrix(panel.z)))[:n_samples]
        c = n_classes or int(y.max()) + 1
        rows, cols = class_sorted_order(z, y, c)
        top = float(np.percentile(z, 99)) if z.size else 0.0
        if top <= 0:  # very sparse layers: the 99th percentile is 0, fall back to the maximum
            top = float(z.max()) if z.size and z.max() > 0 else 1.0
        im = ax.imshow(z[rows][:, cols], aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=top)
        bounds = np.flatnonzero(np.diff(y[rows])) + 0.5
        for b in bounds:
            ax.axhline(b, color="cyan", lw=0.5)
        centres = [np.mean(np.flatnonzero(y[rows] == k)) for k in np.unique(y)]
        ax.set_yticks(centres, [str(k) for k in np.unique(y)], fontsize=7)
        ax.set_xlabel("neuron (sorted by preferred class)")
        ax.set_ylabel("class")
        ax.set_title(panel.title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    return _save(fig, path)


def embedding_methods() -> list[str]:
    """PCA and t-SNE always; UMAP when the umap-learn package is installed."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return ["pca", "tsne"]
    return ["pca", "tsne", "umap"]


def embed_2d(z: Any, method: str, seed: int = 0) -> np.ndarray:
    """2-D coordinates of the rows of ``z`` by PCA, t-SNE or UMAP (seeded)."""
    z = as_matrix(z)
    if z.std(0).max(initial=0) == 0:
        return np.zeros((len(z), 2))  # a constant layer has no structure to project
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(z)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(z) - 1) // 3)))
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(z)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(z)
    raise ValueError(f"unknown embedding method {method!r}")


def plot_embeddings(panels: list[Panel], path: str | Path, methods: list[str] | None = None, n_points: int = 1000, seed: int = 0) -> Path:
    """Scatter of 2-D embeddings (rows: models, columns: methods) of the first ``n_points``
    samples, coloured by class."""
    methods = methods or embedding_methods()
    fig = _figure((3.8 * len(methods), 3.6 * len(panels)))
    axes = fig.subplots(len(panels), len(methods), squeeze=False)
    for r, panel in enumerate(panels):
        z = as_matrix(panel.z)[:n_points]
        y = as_labels(panel.y, len(as_matrix(panel.z)))[:n_points]
        for c, method in enumerate(methods):
            xy = embed_2d(z, method, seed)
            ax = axes[r, c]
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=y, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
            ax.set_title(f"{panel.title} - {method.upper()}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(sc, ax=axes, ticks=range(10), fraction=0.02, pad=0.01, label="class")
    return _save(fig, path)


def plot_sparsity_histograms(panels: list[Panel], path: str | Path) -> Path:
    """Side by side: per-sample Hoyer index, and per neuron the fraction of samples on which it
    is active (> 0; scale-free, so spike counts and ReLU outputs share an axis; silent neurons
    sit at 0)."""
    fig = _figure((10, 3.6))
    ax_h, ax_a = fig.subplots(1, 2)
    bins_h = np.linspace(0, 1, 41)
    for panel in panels:
        z = as_matrix(panel.z)
        h = hoyer_per_sample(z)
        ax_h.hist(h[np.isfinite(h)], bins=bins_h, alpha=0.55, label=panel.title, density=True, histtype="stepfilled")
        ax_a.hist((z != 0).mean(0), bins=np.linspace(0, 1, 41), alpha=0.55, label=panel.title, histtype="stepfilled")
    ax_h.set_xlabel("Hoyer index per sample (1 = one neuron active)")
    ax_h.set_ylabel("density")
    ax_a.set_xlabel("fraction of samples on which a neuron is active")
    ax_a.set_ylabel("neurons")
    for ax in (ax_h, ax_a):
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_cka_matrix(matrix: Any, path: str | Path, name_a: str, name_b: str) -> Path:
    """Linear CKA between every layer of model A (rows) and every layer of model B (columns)."""
    m = np.asarray(matrix, dtype=float)
    fig = _figure((1.6 + 1.1 * m.shape[1], 1.2 + 1.0 * m.shape[0]))
    ax = fig.subplots()
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w" if m[i, j] < 0.6 else "k", fontsize=9)
    ax.set_xticks(range(m.shape[1]), [f"L{j}" for j in range(m.shape[1])])
    ax.set_yticks(range(m.shape[0]), [f"L{i}" for i in range(m.shape[0])])
    ax.set_xlabel(name_b)
    ax.set_ylabel(name_a)
    ax.set_title("linear CKA", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)
