"""Latent collection: run checkpoints over a dataset split with the true label embedded and keep
every layer's activity, per sample, with the labels; saved to / loaded from one ``.npz`` file so
notebooks can reuse them without re-running the networks.

Latent kinds: analog models give ``activations`` (ReLU outputs); spiking models give ``counts``
(spikes over the presentation) and ``traces`` (trace values at the last step). The *primary*
kind of a model (activations / counts) is the one compared across models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from neuroff.data import Dataset, load_dataset
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write

PRIMARY_KIND = {"analog": "activations", "spiking": "counts", "loihi": "counts"}
SPLITS = ("train", "test")
# what is embedded in the input while collecting: the sample's true label (as in training's
# positive pass), or the neutral average of all class codes (no label information in the input)
LABEL_MODES = ("true", "neutral")
FILE_FORMAT = "neuroff-latents-v1"


@dataclass(frozen=True)
class ModelLatents:
    """One model's latents: ``kinds[kind][split]`` is a list (one per layer) of [n, N_l] arrays."""

    name: str
    mode: str
    checkpoint: str
    kinds: dict[str, dict[str, list[np.ndarray]]]
    info: dict

    @property
    def primary(self) -> str:
        return PRIMARY_KIND.get(self.mode, next(iter(self.kinds)))

    @property
    def n_layers(self) -> int:
        return len(self.kinds[self.primary]["test"])

    def layers(self, split: str = "test", kind: str | None = None) -> list[np.ndarray]:
        return self.kinds[kind or self.primary][split]


@dataclass(frozen=True)
class LatentSet:
    """Latents of several models on the same samples of one dataset."""

    dataset: str
    n_classes: int
    seed: int
    labels: dict[str, np.ndarray]  # split -> [n] class indices
    models: list[ModelLatents]
    label_mode: str = "true"

    def model(self, name: str) -> ModelLatents:
        for m in self.models:
            if m.name == name:
                return m
        raise NeuroffError(f"no model named {name!r} in these latents; have {', '.join(m.name for m in self.models)}")


def check_label_mode(label: str) -> str:
    if label not in LABEL_MODES:
        raise NeuroffError(f"unknown label mode {label!r}; use one of {', '.join(LABEL_MODES)}")
    return label


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a training directory holding ``model.pt``."""
    p = Path(path)
    if p.is_dir():
        p = p / "model.pt"
    if not p.is_file():
        raise NeuroffError(f"checkpoint {path} not found; train one with `neuroff train --out DIR` and pass DIR/model.pt")
    return p


def check_compatible(trained, dataset: Dataset, checkpoint: str | Path = "the checkpoint") -> None:
    """Raise a one-line NeuroffError if ``dataset`` cannot be fed to ``trained``."""
    expected = trained.model.sizes[0] - trained.embedding.extra_features
    if dataset.n_features != expected:
        raise NeuroffError(
            f"{checkpoint} expects {expected} input features, dataset {dataset.name!r} has {dataset.n_features}; "
            f"compare on the dataset it was trained on ({trained.config.dataset})"
        )
    if dataset.n_classes != trained.embedding.n_classes:
        raise NeuroffError(
            f"{checkpoint} embeds {trained.embedding.n_classes} labels, dataset {dataset.name!r} has "
            f"{dataset.n_classes} classes; compare on the dataset it was trained on ({trained.config.dataset})"
        )


@torch.no_grad()
def collect_latents(
    trained,
    x: torch.Tensor,
    y: torch.Tensor,
    seed: int = 0,
    batch: int = 500,
    progress: bool = False,
    desc: str = "latents",
    label: str = "true",
) -> dict[str, list[np.ndarray]]:
    """Per-layer latents of samples ``x`` with their true labels ``y`` embedded (``label=
    "neutral"``: the average class code instead), as float32 arrays ``{kind: [[n, N_l] per
    layer]}``. Spike encoding draws from a generator seeded by ``seed``, so the same call gives
    the same latents."""
    check_label_mode(label)
    generator = torch.Generator().manual_seed(int(seed))
    parts: dict[str, list[list[np.ndarray]]] = {}
    bar = tqdm(total=len(x), unit="sample", desc=desc, disable=not progress, leave=False)
    for lo in range(0, len(x), batch):
        xb = x[lo : lo + batch]
        x_emb = trained.embedding.embed(xb, y[lo : lo + batch]) if label == "true" else trained.embedding.embed_neutral(xb)
        out = trained.model.latents(x_emb, generator)
        for kind, layers in out.items():
            store = parts.setdefault(kind, [[] for _ in layers])
            for i, z in enumerate(layers):
                store[i].append(z.detach().to(torch.float32).numpy())
        bar.update(min(batch, len(x) - lo))
    bar.close()
    if not parts:  # no samples: empty layers of the primary kind
        kind = PRIMARY_KIND.get(trained.config.mode, "activations")
        return {kind: [np.zeros((0, n), np.float32) for n in trained.model.sizes[1:]]}
    return {kind: [np.concatenate(chunks) for chunks in layers] for kind, layers in parts.items()}


def unique_names(paths: list[Path], modes: list[str]) -> list[str]:
    """Readable, distinct model names: the checkpoint's directory (or file stem), else the mode."""
    names = [p.parent.name if p.name == "model.pt" and p.parent.name else p.stem for p in paths]
    names = [n or m for n, m in zip(names, modes)]
    if len(set(names)) < len(names):
        names = [f"{m}-{i}" if names.count(n) > 1 else n for i, (n, m) in enumerate(zip(names, modes))]
    return names


def collect(
    checkpoints: list[str | Path],
    dataset: str | Dataset | None = None,
    n_train: int | None = 2000,
    n_test: int | None = None,
    seed: int = 0,
    progress: bool = True,
    label: str = "true",
) -> LatentSet:
    """Load ``checkpoints`` and collect their latents on the first ``n_train`` training and
    ``n_test`` test samples of ``dataset`` (default: the first checkpoint's training dataset),
    with the true (or the neutral) label embedded."""
    from neuroff.engine.training import load_trained

    check_label_mode(label)
    if not checkpoints:
        raise NeuroffError("no checkpoints given; pass one or more model.pt files")
    paths = [resolve_checkpoint(c) for c in checkpoints]
    models = [load_trained(p) for p in paths]
    if isinstance(dataset, Dataset):
        ds = dataset
    else:
        ds = load_dataset(dataset or models[0].config.dataset, seed=models[0].config.seed)
    ds = ds.subset(None if n_train is None else min(n_train, ds.n_train), None if n_test is None else min(n_test, ds.n_test))
    for p, trained in zip(paths, models):
        check_compatible(trained, ds, p)
    names = unique_names(paths, [t.config.mode for t in models])
    out = []
    for name, p, trained in zip(names, paths, models):
        kinds: dict[str, dict[str, list[np.ndarray]]] = {}
        for split in SPLITS:
            x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
            desc = f"latents {name} {split}"
            for kind, layers in collect_latents(trained, x, y, seed, progress=progress, desc=desc, label=label).items():
                kinds.setdefault(kind, {})[split] = layers
        last = trained.history[-1] if trained.history else {}
        info = {
            "config": trained.config.to_dict(),
            "sizes": list(trained.model.sizes),
            "epoch": trained.epoch,
            "training_test_accuracy": last.get("test_accuracy"),
        }
        out.append(ModelLatents(name, trained.config.mode, str(p), kinds, info))
    labels = {split: getattr(ds, f"y_{split}").numpy().astype(np.int64) for split in SPLITS}
    return LatentSet(ds.name, ds.n_classes, int(seed), labels, out, label)


# ---------------------------------------------------------------- file format


def save_latents(path: str | Path, latents: LatentSet) -> Path:
    """Write ``latents`` to one compressed ``.npz`` (metadata as JSON, arrays by name)."""
    meta = {
        "format": FILE_FORMAT,
        "dataset": latents.dataset,
        "n_classes": latents.n_classes,
        "seed": latents.seed,
        "label_mode": latents.label_mode,
        "models": [
            {
                "name": m.name,
                "mode": m.mode,
                "checkpoint": m.checkpoint,
                "info": m.info,
                "kinds": {kind: len(splits["test"]) for kind, splits in m.kinds.items()},
            }
            for m in latents.models
        ],
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for split, y in latents.labels.items():
        arrays[f"labels__{split}"] = y
    for i, m in enumerate(latents.models):
        for kind, splits in m.kinds.items():
            for split, layers in splits.items():
                for layer, z in enumerate(layers):
                    arrays[f"m{i}__{kind}__{split}__{layer}"] = z

    def write(f) -> None:
        np.savez_compressed(f, **arrays)

    return atomic_write(path, write)


def load_latents(path: str | Path) -> LatentSet:
    """Read a file written by :func:`save_latents`."""
    p = Path(path)
    if not p.is_file():
        raise NeuroffError(f"latents file {p} not found; write one with `neuroff compare ... --out DIR` (DIR/latents.npz)")
    try:
        with np.load(p, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FILE_FORMAT:
                raise NeuroffError(f"{p} is not a neuroff latents file (expected format {FILE_FORMAT})")
            labels = {split: data[f"labels__{split}"] for split in SPLITS}
            models = []
            for i, m in enumerate(meta["models"]):
                kinds = {
                    kind: {split: [data[f"m{i}__{kind}__{split}__{layer}"] for layer in range(n)] for split in SPLITS}
                    for kind, n in m["kinds"].items()
                }
                models.append(ModelLatents(m["name"], m["mode"], m["checkpoint"], kinds, m["info"]))
    except NeuroffError:
        raise
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise NeuroffError(f"latents file {p} is corrupt or incomplete ({type(err).__name__}); rerun `neuroff compare`") from None
    return LatentSet(meta["dataset"], int(meta["n_classes"]), int(meta["seed"]), labels, models, meta.get("label_mode", "true"))
