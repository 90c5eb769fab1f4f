"""The engine: run options, the one training loop, evaluation and read-outs, checkpoints.

``from neuroff import engine`` gives the public API of ``neuroff.engine.training``: ``train``,
``create``, ``evaluate``, ``test_accuracy``, ``load_trained``/``save_trained`` and ``Trained``.
They load on first use (PEP 562), so ``neuroff.engine.options`` (and ``neuroff --help``) do not
import torch."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EVAL_SEED_OFFSET", "Trained", "accuracy_by_eval_repeats", "accuracy_by_score_layers", "build", "candidate_scores", "check_finite", "choose_eval_repeats", "checkpoint_info", "create", "evaluate", "format_info",
    "layer_activity",
    "load_trained", "make_batch", "prepare_dataset", "readout_accuracy", "readout_features", "save_trained", "scores_by_repeats",
    "split_dataset", "test_accuracy", "train",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("neuroff.engine.training"), name)
    raise AttributeError(f"module 'neuroff.engine' has no attribute {name!r}")
