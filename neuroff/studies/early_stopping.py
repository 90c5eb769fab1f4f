"""Early stopping on a validation score: remember the best weights, stop after ``patience``
epochs without improvement, and put the best weights back at the end."""

from __future__ import annotations

import copy

from torch import nn

from neuroff.errors import NeuroffError


class EarlyStopping:
    def __init__(self, patience: int | None = None) -> None:
        if patience is not None and patience < 1:
            raise NeuroffError(f"patience={patience} must be >= 1 (or None to train every epoch)")
        self.patience = patience
        self.best_score = float("-inf")
        self.best_epoch = 0
        self.best_state: dict | None = None

    def update(self, score: float, epoch: int, model: nn.Module) -> bool:
        """Record epoch ``epoch``'s validation ``score``; True when training should stop."""
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self.best_state = copy.deepcopy(model.state_dict())
        return self.patience is not None and epoch - self.best_epoch >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Load the best weights seen (no-op before the first update)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
