"""Checkpoints: weights, config, label codes, training state (for exact resume), metrics and
the neuroff version, in one torch file written atomically and read with ``weights_only=True``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from neuroff import __version__
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write

FORMAT = "neuroff-checkpoint-v2"
# v1 (before the family registry): the same payload; its config may hold values of options its
# family never read, its run options may be unresolved (batch_size None), and its metrics name
# the training metric "train_pair_accuracy". ``convert_v1`` turns it into v2.
FORMAT_V1 = "neuroff-checkpoint-v1"
READABLE = (FORMAT, FORMAT_V1)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    data = {"format": FORMAT, "neuroff_version": __version__, **payload}
    buf = io.BytesIO()
    torch.save(data, buf)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


RUN_CHECKPOINT = "model.pt"  # a run directory's checkpoint (engine.train writes it)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run directory's ``model.pt``."""
    p = Path(path)
    if p.is_dir():
        if not (p / RUN_CHECKPOINT).is_file():
            raise NeuroffError(f"{p} is a directory without {RUN_CHECKPOINT}; pass a run directory (`neuroff train --out DIR`) or a checkpoint file")
        return p / RUN_CHECKPOINT
    return p


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's payload (from a file, or a run directory's ``model.pt``)."""
    p = resolve_checkpoint(path)
    if not p.is_file():
        raise NeuroffError(f"checkpoint {p} not found; train one with `neuroff train --out DIR`")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001
        # a damaged file can fail anywhere inside the unpickler (struct.error, IndexError,
        # KeyError, ... besides the usual RuntimeError/UnpicklingError); all mean "unreadable"
        raise NeuroffError(
            f"checkpoint {p} is corrupt or not a neuroff checkpoint (torch.load could not read it); retrain or restore it"
        ) from None
    if not isinstance(data, dict) or data.get("format") not in READABLE:
        raise NeuroffError(f"{p} is not a neuroff checkpoint (expected format {FORMAT})")
    return data
