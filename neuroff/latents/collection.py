"""Latent collection: run checkpoints over a dataset split and keep every layer's activity, per
sample, with the labels; saved to / loaded from one ``.npz`` file so notebooks can reuse them
without re-running the networks.

What enters the input besides the image (``label``): ``neutral`` (the default) embeds the
average of all class codes, so no class information enters and separability measures what the
network learned; ``label-conditioned`` embeds each sample's true label as in training's positive
pass, so separability also measures the label code (an untrained analog layer scores ~1.0).

Controls (``collect(..., controls=True, reference=...)``): every model's *untrained twin*
(same configuration and seed, the weights it started training from) and, optionally, a
*reference*: a second seed of one of the models, which says how alike two runs of the same
learner are.

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
# what is embedded in the input while collecting: the neutral average of all class codes (no label
# information in the input; the default), or the sample's true label as in training's positive pass
NEUTRAL, LABEL_CONDITIONED = "neutral", "label-conditioned"
LABEL_MODES = (NEUTRAL, LABEL_CONDITIONED)
DEFAULT_LABEL_MODE = NEUTRAL
LABEL_MODE_TEXT = {
    NEUTRAL: "neutral label (the average class code: no class information in the input)",
    LABEL_CONDITIONED: "LABEL-CONDITIONED (each sample's true label embedded in the input: separability "
    "also measures the label code, an untrained layer already separates it)",
}
ROLES = ("model", "control", "reference")  # a given checkpoint, an untrained twin, a second seed
FILE_FORMAT = "neuroff-latents-v1"


@dataclass(frozen=True)
class ModelLatents:
    """One model's latents: ``kinds[kind][split]`` is a list (one per layer) of [n, N_l] arrays."""

    name: str
    mode: str
    checkpoint: str
    kinds: dict[str, dict[str, list[np.ndarray]]]
    info: dict
    role: str = "model"  # one of ROLES
    of: str | None = None  # the model a control (its untrained twin) or the reference (a second seed) belongs to

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
    label_mode: str = DEFAULT_LABEL_MODE
    notes: tuple[str, ...] = ()  # what collection had to leave out (e.g. a control it could not build)

    def model(self, name: str) -> ModelLatents:
        for m in self.models:
            if m.name == name:
                return m
        raise NeuroffError(f"no model named {name!r} in these latents; have {', '.join(m.name for m in self.models)}")


    def role(self, role: str) -> list[ModelLatents]:
        return [m for m in self.models if m.role == role]

    def control_of(self, name: str) -> ModelLatents | None:
        return next((m for m in self.models if m.role == "control" and m.of == name), None)


def check_label_mode(label: str) -> str:
    if label not in LABEL_MODES:
        hint = " (the true label is now named 'label-conditioned')" if label == "true" else ""
        raise NeuroffError(f"unknown label mode {label!r}{hint}; use one of {', '.join(LABEL_MODES)}")
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
    label: str = DEFAULT_LABEL_MODE,
) -> dict[str, list[np.ndarray]]:
    """Per-layer latents of samples ``x`` with the neutral label code embedded (``label=
    "label-conditioned"``: each sample's true label ``y``), as float32 arrays ``{kind: [[n, N_l]
    per layer]}``. Spike encoding draws from a generator seeded by ``seed``, so the same call gives
    the same latents."""
    check_label_mode(label)
    generator = torch.Generator().manual_seed(int(seed))
    parts: dict[str, list[list[np.ndarray]]] = {}
    bar = tqdm(total=len(x), unit="sample", desc=desc, disable=not progress, leave=False)
    for lo in range(0, len(x), batch):
        xb = x[lo : lo + batch]
        x_emb = trained.embedding.embed(xb, y[lo : lo + batch]) if label == LABEL_CONDITIONED else trained.embedding.embed_neutral(xb)
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


def imported_from(path: Path) -> str | None:
    """The NIR file a checkpoint was made from (``neuroff import`` records it in its run's
    metrics.json), or None for a checkpoint neuroff trained."""
    metrics = (path if path.is_dir() else path.parent) / "metrics.json"
    try:
        return json.loads(metrics.read_text()).get("imported_from")
    except (OSError, ValueError, AttributeError):
        return None


def untrained_twin(trained):
    """The model ``trained`` started from: its configuration and seed, 0 epochs (the same
    initialisation, including a family's data-dependent one, on its own training samples), and
    its label code."""
    from neuroff.engine.options import FFConfig
    from neuroff.engine.training import create, split_dataset

    config = FFConfig.from_dict(trained.config.to_dict())
    ds, _ = split_dataset(config)
    twin = create(config, ds)
    if list(twin.model.sizes) != list(trained.model.sizes):  # e.g. trained on a Dataset object, not the named one
        raise NeuroffError(
            f"its configuration rebuilds a {list(twin.model.sizes)} network on {config.dataset!r}, "
            f"the checkpoint holds {list(trained.model.sizes)}"
        )
    twin.embedding = trained.embedding
    return twin


def reference_partner(ref, ref_path: Path, models: list, names: list[str]) -> int:
    """Index of the model ``ref`` is a second seed of: the first with its dataset, mode and layer
    sizes. One-line errors for a reference of another dataset, of no model's architecture, or of
    the same seed."""
    datasets = {t.config.dataset for t in models}
    if ref.config.dataset not in datasets:
        raise NeuroffError(
            f"reference {ref_path} was trained on {ref.config.dataset!r}, the models on {', '.join(sorted(datasets))}; "
            f"train the reference on the same dataset with another --seed"
        )
    for k, t in enumerate(models):
        if t.config.mode == ref.config.mode and list(t.model.sizes) == list(ref.model.sizes) and t.config.dataset == ref.config.dataset:
            if t.config.seed == ref.config.seed:
                raise NeuroffError(
                    f"reference {ref_path} has the same seed ({ref.config.seed}) as {names[k]}; "
                    f"a reference is a second seed of the same model: train it with another --seed"
                )
            return k
    shapes = "; ".join(f"{n}: {t.config.mode} {list(t.model.sizes)}" for n, t in zip(names, models))
    raise NeuroffError(
        f"reference {ref_path} ({ref.config.mode} {list(ref.model.sizes)}) has the architecture of none of the models "
        f"({shapes}); pass a second seed of one of them"
    )


def collect(
    checkpoints: list[str | Path],
    dataset: str | Dataset | None = None,
    n_train: int | None = 2000,
    n_test: int | None = None,
    seed: int = 0,
    progress: bool = True,
    label: str = DEFAULT_LABEL_MODE,
    reference: str | Path | None = None,
    controls: bool = False,
) -> LatentSet:
    """Load ``checkpoints`` and collect their latents on the first ``n_train`` training and
    ``n_test`` test samples of ``dataset`` (default: the first checkpoint's training dataset),
    with the neutral label code (or, ``label="label-conditioned"``, the true label) embedded.
    ``controls``: also every model's untrained twin (role "control"); ``reference``: a second
    seed of one of the models (role "reference")."""
    from neuroff.engine.training import load_trained

    check_label_mode(label)
    if not checkpoints:
        raise NeuroffError("no checkpoints given; pass one or more model.pt files")
    paths = [resolve_checkpoint(c) for c in checkpoints]
    models = [load_trained(p) for p in paths]
    names = unique_names(paths, [t.config.mode for t in models])
    entries = [(name, p, t, "model", None) for name, p, t in zip(names, paths, models)]
    if reference is not None:
        ref_path = resolve_checkpoint(reference)
        ref = load_trained(ref_path)
        partner = reference_partner(ref, ref_path, models, names)
        ref_name = unique_names([*paths, ref_path], [*(t.config.mode for t in models), ref.config.mode])[-1]
        if ref_name in names:
            ref_name = f"{ref_name}-reference"
        entries.append((ref_name, ref_path, ref, "reference", names[partner]))
    if isinstance(dataset, Dataset):
        ds = dataset
    else:
        ds = load_dataset(dataset or models[0].config.dataset, seed=models[0].config.seed)
    ds = ds.subset(None if n_train is None else min(n_train, ds.n_train), None if n_test is None else min(n_test, ds.n_test))
    for _, p, trained, _, _ in entries:
        check_compatible(trained, ds, p)
    if len(ds.y_test) < max(ds.n_classes, 2):
        raise NeuroffError(
            f"{len(ds.y_test)} test samples are fewer than the {ds.n_classes} classes of {ds.name}; "
            f"use --n-test {10 * ds.n_classes} or more"
        )
    notes: list[str] = []
    if controls:  # after every check: the twins load the training data again
        for name, p, t, _, _ in entries[: len(models)]:
            source = imported_from(Path(p))
            if source is not None:  # its configuration is neuroff's defaults, not what the graph's maker started from
                notes.append(f"no untrained twin of {name}: imported from {source}; the initialisation it started from is unknown")
                continue
            try:
                entries.append((f"{name} untrained", p, untrained_twin(t), "control", name))
            except NeuroffError as err:  # e.g. an imported checkpoint whose configuration cannot be trained here
                notes.append(f"no untrained twin of {name}: {err}")
    out = []
    for name, p, trained, role, of in entries:
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
        out.append(ModelLatents(name, trained.config.mode, str(p), kinds, info, role, of))
    labels = {split: getattr(ds, f"y_{split}").numpy().astype(np.int64) for split in SPLITS}
    return LatentSet(ds.name, ds.n_classes, int(seed), labels, out, label, tuple(notes))


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
                "role": m.role,
                "of": m.of,
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
                models.append(ModelLatents(m["name"], m["mode"], m["checkpoint"], kinds, m["info"], m.get("role", "model"), m.get("of")))
    except NeuroffError:
        raise
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise NeuroffError(f"latents file {p} is corrupt or incomplete ({type(err).__name__}); rerun `neuroff compare`") from None
    # files written before the modes were renamed call the label-conditioned mode "true"
    mode = {"true": LABEL_CONDITIONED}.get(meta.get("label_mode", "true"), meta.get("label_mode", "true"))
    return LatentSet(meta["dataset"], int(meta["n_classes"]), int(meta["seed"]), labels, models, mode)
