"""The engine: run options, the one training loop, evaluation and read-outs, checkpoints.

``from neuroff import engine`` gives the public API: ``train``, ``create``, ``evaluate``,
``test_accuracy``, ``load_trained``/``save_trained`` and ``Trained``."""

from neuroff.engine.training import (
    EVAL_SEED_OFFSET,
    Trained,
    candidate_scores,
    check_finite,
    checkpoint_info,
    create,
    evaluate,
    load_trained,
    prepare_dataset,
    readout_accuracy,
    readout_features,
    save_trained,
    test_accuracy,
    train,
)

__all__ = [
    "EVAL_SEED_OFFSET", "Trained", "candidate_scores", "check_finite", "checkpoint_info", "create", "evaluate",
    "load_trained", "prepare_dataset", "readout_accuracy", "readout_features", "save_trained", "test_accuracy", "train",
]
