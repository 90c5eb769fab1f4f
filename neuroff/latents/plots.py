"""Figures of latent comparisons (matplotlib's Agg canvas, no pyplot), as PNG, SVG or PDF. Each
function takes arrays (one panel per model) or the report, a path and a :class:`Caption`, draws,
saves atomically and returns the path; every figure carries a title, a caption line (dataset,
label mode, models, number of samples), labelled axes and a legend or colour bar. The numbers
behind them live in report.json next to the figures."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from neuroff.engine.readout import as_labels, as_matrix
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write
from neuroff.latents.metrics import (
    class_centroid_distances,
    class_mean_activity,
    hoyer_per_sample,
)

FORMATS = ("png", "svg", "pdf")
EMBEDDINGS = ("pca", "tsne", "umap")
AXIS_NAMES = {"pca": "PC", "tsne": "t-SNE", "umap": "UMAP"}
ROLE_STYLE = {"model": {"alpha": 0.95, "hatch": None}, "reference": {"alpha": 0.6, "hatch": ".."}, "control": {"alpha": 0.45, "hatch": "//"}}


class Caption(NamedTuple):
    """What every figure says under its title."""

    dataset: str
    label_mode: str
    models: tuple[str, ...]
    n: int

    def text(self, n: int | None = None) -> str:
        return (f"{self.dataset} · {self.label_mode} label · models: {', '.join(self.models)} · "
                f"N = {self.n if n is None else n} test samples")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NeuroffError(f"unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def check_embeddings(methods) -> tuple[str, ...]:
    """Refuse an unknown method, and UMAP when umap-learn is not installed (``make venv`` installs it)."""
    methods = tuple(methods)
    for m in methods:
        if m not in EMBEDDINGS:
            raise NeuroffError(f"unknown embedding {m!r}; use some of {', '.join(EMBEDDINGS)}")
    if "umap" in methods and "umap" not in embedding_methods():
        raise NeuroffError("UMAP needs the umap-learn package; install it with `make venv` (or pip install -c constraints.txt umap-learn)")
    return methods


def class_colours(n_classes: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return [cmap(c % cmap.N) for c in range(n_classes)]


class Panel(NamedTuple):
    """One model's latents of one layer, with the samples' labels."""

    title: str
    z: Any  # [n, N]
    y: Any  # [n]


def _figure(figsize: tuple[float, float]):
    """A pyplot-free Figure: it renders with the Agg canvas on savefig and never touches the
    global backend, so a notebook's inline plots keep working after a comparison."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _save(fig, path: str | Path, title: str, caption: str) -> Path:
    """Title on top, caption line below, then write in the format the suffix names."""
    fig.suptitle(title, fontsize=11)
    fig.supxlabel(caption, fontsize=8, color="0.3")
    fmt = check_format(Path(path).suffix.lstrip(".") or "png")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110)  # constrained layout already fits title, caption and legends
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


def plot_class_sorted_heatmaps(panels: list[Panel], path: str | Path, caption: Caption, n_samples: int = 500, n_classes: int | None = None, layer: int = 0) -> Path:
    """Latents of the first ``n_samples`` samples, rows grouped by class (lines between
    classes), neurons sorted by preferred class; one heatmap per model, each on its own colour
    scale (0 .. its 99th percentile)."""
    fig = _figure((4.2 * len(panels), 4.4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        z = as_matrix(panel.z)[:n_samples]
        y = as_labels(panel.y, len(as_matrix(panel.z)))[:n_samples]
        c = n_classes or int(y.max()) + 1
        rows, cols = class_sorted_order(z, y, c)
        nonzero = z[z > 0]
        # the 95th percentile of the non-zero values: in a layer with ~1 % active entries the plain
        # 99th percentile is 0, and the maximum lets a few outliers darken everything else
        top = float(np.percentile(nonzero, 95)) if nonzero.size else 1.0
        im = ax.imshow(z[rows][:, cols], aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=top)
        bounds = np.flatnonzero(np.diff(y[rows])) + 0.5
        for b in bounds:
            ax.axhline(b, color="cyan", lw=0.5)
        centres = [np.mean(np.flatnonzero(y[rows] == k)) for k in np.unique(y)]
        ax.set_yticks(centres, [str(k) for k in np.unique(y)], fontsize=7)
        ax.set_xlabel("neuron (sorted by preferred class)")
        ax.set_ylabel("class of the sample")
        ax.set_title(panel.title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="activity (own scale, to the 95th pct. of non-zeros)", extend="max")
    title = f"Layer {layer}: latents of each test sample, grouped by class"
    return _save(fig, path, title, caption.text(min(n_samples, len(as_matrix(panels[0].z)))))


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

        return umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(z)
    raise ValueError(f"unknown embedding method {method!r}")


def plot_embeddings(panels: list[Panel], path: str | Path, caption: Caption, methods: list[str] | None = None, n_points: int = 1000,
                    seed: int = 0, layer: int = 0, n_classes: int | None = None) -> Path:
    """Scatter of 2-D embeddings (rows: models, columns: methods) of the first ``n_points``
    samples, one colour per class with a categorical legend."""
    methods = list(methods or ("pca", "tsne"))
    fig = _figure((3.6 * len(methods) + 1.2, 3.4 * len(panels)))
    axes = fig.subplots(len(panels), len(methods), squeeze=False)
    n_classes = n_classes or int(max(as_labels(p.y, len(as_matrix(p.z))).max() for p in panels)) + 1
    colours = class_colours(n_classes)
    handles = {}
    for r, panel in enumerate(panels):
        z = as_matrix(panel.z)[:n_points]
        y = as_labels(panel.y, len(as_matrix(panel.z)))[:n_points]
        for c, method in enumerate(methods):
            xy = embed_2d(z, method, seed)
            ax = axes[r, c]
            for k in np.unique(y):
                h = ax.scatter(xy[y == k, 0], xy[y == k, 1], color=colours[k], s=4, label=str(k), rasterized=True)
                handles.setdefault(int(k), h)
            ax.set_title(f"{panel.title}: {'PCA' if method == 'pca' else AXIS_NAMES[method]}", fontsize=9)
            ax.set_xlabel(f"{AXIS_NAMES[method]} 1", fontsize=8)
            ax.set_ylabel(f"{AXIS_NAMES[method]} 2", fontsize=8)
            ax.tick_params(labelsize=6)
    keys = sorted(handles)
    fig.legend([handles[k] for k in keys], [str(k) for k in keys], title="class", loc="outside right center", markerscale=3, fontsize=8)
    title = f"Layer {layer}: 2-D embeddings of the latents ({', '.join(AXIS_NAMES[m] if m != 'pca' else 'PCA' for m in methods)})"
    return _save(fig, path, title, caption.text(min(n_points, len(as_matrix(panels[0].z)))))


def plot_sparsity_histograms(panels: list[Panel], path: str | Path, caption: Caption, layer: int = 0) -> Path:
    """Side by side: per-sample Hoyer index (the axis spans the data), and per neuron the
    fraction of samples on which it is active (> 0; scale-free, so spike counts and ReLU outputs
    share an axis; silent neurons sit at 0; log counts, so the silent bar does not hide the rest)."""
    fig = _figure((10, 3.8))
    ax_h, ax_a = fig.subplots(1, 2)
    hoyers = [hoyer_per_sample(as_matrix(p.z)) for p in panels]
    finite = np.concatenate([h[np.isfinite(h)] for h in hoyers]) if hoyers else np.array([])
    lo = float(np.floor(np.percentile(finite, 0.5) * 50) / 50) if finite.size else 0.0
    bins_h = np.linspace(min(lo, 0.98), 1.0, 41)
    for panel, h in zip(panels, hoyers):
        z = as_matrix(panel.z)
        ax_h.hist(np.clip(h[np.isfinite(h)], bins_h[0], 1), bins=bins_h, alpha=0.5, label=panel.title, density=True, histtype="stepfilled")
        ax_a.hist((z != 0).mean(0), bins=np.linspace(0, 1, 41), alpha=0.5, label=panel.title, histtype="stepfilled", log=True)
    ax_h.set_xlim(bins_h[0], 1.0)
    ax_h.set_xlabel("Hoyer index per sample (1 = one neuron active)")
    ax_h.set_ylabel("density")
    ax_h.set_title(f"population sparseness (values below {bins_h[0]:.2f} in the first bin)", fontsize=9)
    ax_a.set_xlabel("fraction of samples on which a neuron is active (0 = silent)")
    ax_a.set_ylabel("neurons (log scale)")
    ax_a.set_title("neuron activity", fontsize=9)
    for ax in (ax_h, ax_a):
        ax.legend(fontsize=7)
    return _save(fig, path, f"Layer {layer}: sparsity", caption.text())


def plot_class_activity(panels: list[Panel], path: str | Path, caption: Caption, n_classes: int, layer: int = 0) -> Path:
    """Class-conditional activity distributions: per model, box plots per class of each
    sample's mean activity (as a fraction of the layer's largest value, so counts and ReLU
    outputs share an axis) and of its number of active neurons."""
    fig = _figure((3.4 * len(panels) + 0.5, 6.0))
    axes = fig.subplots(2, len(panels), squeeze=False)  # own scales: trained layers are far sparser than untrained ones
    colours = class_colours(n_classes)
    for c, panel in enumerate(panels):
        z = as_matrix(panel.z)
        y = as_labels(panel.y, len(z))
        top = z.max() if z.size and z.max() > 0 else 1.0
        for r, (values, what) in enumerate((((z / top).mean(1), "mean activity / layer max"), ((z != 0).sum(1), "active neurons"))):
            ax = axes[r, c]
            data = [values[y == k] for k in range(n_classes)]
            box = ax.boxplot(data, patch_artist=True, showfliers=False, widths=0.6)
            for patch, colour in zip(box["boxes"], colours):
                patch.set_facecolor(colour)
                patch.set_alpha(0.7)
            ax.set_xticks(range(1, n_classes + 1), [str(k) for k in range(n_classes)], fontsize=7)
            ax.set_xlabel("class")
            ax.set_ylabel(what)
            if r == 0:
                ax.set_title(panel.title, fontsize=9)
    return _save(fig, path, f"Layer {layer}: class-conditional activity per sample (boxes: quartiles, whiskers: 1.5 IQR)", caption.text())


def plot_centroid_distances(panels: list[Panel], path: str | Path, caption: Caption, n_classes: int, layer: int = 0) -> Path:
    """Per model, the Euclidean distances between class centroids (latents divided by the
    layer's largest value), each with its colour bar."""
    fig = _figure((3.6 * len(panels), 3.5))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        z = as_matrix(panel.z)
        top = z.max() if z.size and z.max() > 0 else 1.0
        d = class_centroid_distances(z / top, panel.y, n_classes)
        im = ax.imshow(d, cmap="viridis", vmin=0)
        ax.set_xticks(range(n_classes), [str(k) for k in range(n_classes)], fontsize=7)
        ax.set_yticks(range(n_classes), [str(k) for k in range(n_classes)], fontsize=7)
        ax.set_xlabel("class")
        ax.set_ylabel("class")
        ax.set_title(panel.title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="centroid distance (layer-max units)")
    return _save(fig, path, f"Layer {layer}: distances between class centroids", caption.text())


def plot_tuning_curves(a: Any, b: Any, y: Any, index_a: np.ndarray, index_b: np.ndarray, correlation: np.ndarray, path: str | Path,
                       caption: Caption, names: tuple[str, str], n_classes: int, n_pairs: int = 16, layer: int = 0) -> Path:
    """Matched-neuron tuning curves: for the ``n_pairs`` best-correlated pairs whose neurons
    both fire, the class-mean activity of A's neuron (left) and of its matched B neuron
    (right), each neuron scaled to its own maximum; rows labelled with the match correlation r."""
    a, b = as_matrix(a), as_matrix(b)
    y = as_labels(y, len(a))
    active = (a.max(0)[index_a] > 0) & (b.max(0)[index_b] > 0)
    order = [k for k in np.argsort(-correlation) if active[k]][:n_pairs]
    ma = class_mean_activity(a, y, n_classes)[:, index_a[order]].T
    mb = class_mean_activity(b, y, n_classes)[:, index_b[order]].T

    def unit(m: np.ndarray) -> np.ndarray:
        top = np.nanmax(m, axis=1, keepdims=True) if m.size else m
        return np.divide(m, top, out=np.zeros_like(m), where=top > 0)

    fig = _figure((9.0, 1.2 + 0.32 * max(len(order), 1)))
    axes = fig.subplots(1, 2)
    for ax, m, name, idx in ((axes[0], unit(ma), names[0], index_a[order]), (axes[1], unit(mb), names[1], index_b[order])):
        im = ax.imshow(m, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(n_classes), [str(k) for k in range(n_classes)], fontsize=7)
        ax.set_xlabel("class")
        ax.set_title(name, fontsize=9)
        ax.set_yticks(range(len(order)), [f"#{i}" for i in idx], fontsize=6)
    axes[0].set_ylabel("neuron of the matched pair")
    axes[1].set_yticks(range(len(order)), [f"#{j}  r={correlation[k]:.2f}" for j, k in zip(index_b[order], order)], fontsize=6)
    fig.colorbar(im, ax=axes, fraction=0.03, pad=0.02, label="class-mean activity / the neuron's max")
    title = (f"Layer {layer}: tuning of the {len(order)} best-matched active neuron pairs\n"
             f"{names[0]} vs {names[1]} (Hungarian matching on correlation)")
    return _save(fig, path, title, caption.text())


def _ci_err(value: float | None, ci: Any) -> tuple[float, float]:
    if value is None or ci is None or ci[0] is None or ci[1] is None:
        return 0.0, 0.0
    return max(value - ci[0], 0.0), max(ci[1] - value, 0.0)


def plot_summary(report: dict[str, Any], path: str | Path, caption: Caption, scalars: dict[str, str],
                 paper_ranges: dict[str, tuple[float, float]], per_row: int = 5) -> Path:
    """Every scalar metric for every model, untrained control and reference (bars, primary
    latents, one colour per model: its control hatched, its second seed dotted) with 95 %
    bootstrap intervals and the paper's ranges shaded, and CKA of every compared pair; the
    panels of a layer wrap after ``per_row``."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    names = list(report["models"])
    n_layers = max(len(m["latents"][m["primary"]]) for m in report["models"].values())
    cols = [*scalars, "cka"]
    rows_per_layer = -(-len(cols) // per_row)
    fig = _figure((2.6 * per_row + 1.8, 2.5 * rows_per_layer * n_layers + 0.5))
    axes = fig.subplots(rows_per_layer * n_layers, per_row, squeeze=False)
    palette = colormaps["tab10"]
    colour: dict[str, Any] = {}
    for name in names:  # a control and a reference share the colour of the model they belong to
        m = report["models"][name]
        owner = name if m["role"] == "model" or m.get("of") not in colour else m["of"]
        colour[name] = colour.get(owner) or palette(len(set(map(str, colour.values()))) % 10)
    pair_text = {"models": "A vs B", "control": "A vs B untrained", "reference": "two seeds"}
    for i in range(n_layers):
        for c, key in enumerate(cols):
            ax = axes[i * rows_per_layer + c // per_row, c % per_row]
            if key == "cka":
                rows = [(f"{pair_text.get(p.get('role'), '')}\n{p['a']}\nvs {p['b']}", layer)
                        for p in report["pairs"] for layer in p["layers"] if layer["layer"] == i]
                vals = [np.nan if layer["cka"] is None else layer["cka"] for _, layer in rows]
                errs = np.array([_ci_err(layer["cka"], layer.get("ci", {}).get("cka")) for _, layer in rows]).T.reshape(2, -1)
                ax.bar(range(len(rows)), vals, yerr=errs, color="0.6", edgecolor="k", linewidth=0.4, capsize=3)
                ax.set_xticks(range(len(rows)), [r[0] for r in rows], fontsize=5.5)
                ax.set_ylim(0, 1.05)
                ax.set_title(f"layer {i}: linear CKA of the pairs", fontsize=9)
            else:
                for x, name in enumerate(names):
                    m = report["models"][name]
                    layers = m["latents"][m["primary"]]
                    if i >= len(layers):
                        continue
                    v = layers[i].get(key)
                    err = np.array(_ci_err(v, layers[i].get("ci", {}).get(key))).reshape(2, 1)
                    style = ROLE_STYLE.get(m["role"], ROLE_STYLE["model"])
                    ax.bar(x, np.nan if v is None else v, yerr=err, color=colour[name], alpha=style["alpha"], hatch=style["hatch"],
                           edgecolor="k", linewidth=0.4, capsize=3)
                ax.set_xticks([])
                if key in paper_ranges:
                    lo, hi = paper_ranges[key]
                    ax.axhspan(lo, hi, color="gold", alpha=0.4, zorder=0)
                ax.set_ylim(-1.05 if key == "silhouette" else 0, 1.05)
                ax.set_title(f"layer {i}: {scalars[key]}", fontsize=9)
            ax.tick_params(axis="y", labelsize=7)
        for c in range(len(cols), rows_per_layer * per_row):
            axes[i * rows_per_layer + c // per_row, c % per_row].set_visible(False)
    handles = [Patch(facecolor=colour[n], alpha=ROLE_STYLE[report["models"][n]["role"]]["alpha"],
                     hatch=ROLE_STYLE[report["models"][n]["role"]]["hatch"], edgecolor="k", label=n) for n in names]
    handles.append(Patch(facecolor="gold", alpha=0.4, label="paper's range (label-conditioned, MNIST)"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8, title="bars (x: in this order)")
    title = "Every metric: models, their untrained twins (hatched) and the seed reference (dotted); error bars: 95 % bootstrap CI"
    return _save(fig, path, title, caption.text())


def plot_cka_matrix(matrix: Any, path: str | Path, name_a: str, name_b: str, caption: Caption) -> Path:
    """Linear CKA between every layer of model A (rows) and every layer of model B (columns)."""
    m = np.asarray(matrix, dtype=float)
    fig = _figure((2.4 + 1.1 * m.shape[1], 2.0 + 1.0 * m.shape[0]))
    ax = fig.subplots()
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w" if m[i, j] < 0.6 else "k", fontsize=9)
    ax.set_xticks(range(m.shape[1]), [f"L{j}" for j in range(m.shape[1])])
    ax.set_yticks(range(m.shape[0]), [f"L{i}" for i in range(m.shape[0])])
    ax.set_xlabel(f"layer of {name_b}")
    ax.set_ylabel(f"layer of {name_a}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="linear CKA")
    return _save(fig, path, f"Linear CKA between the layers of {name_a} and {name_b}", caption.text())
