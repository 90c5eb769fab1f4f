"""Linear read-out of a representation: how much label information a layer's latents carry in a
linearly decodable form. One implementation, shared by the latent comparison and by any rule
family that is judged by a probe (e.g. the self-contrastive family, whose layers never see labels).

The probe is a linear classifier trained by cross-entropy on features standardised with the
training set's mean and standard deviation, so neurons on very different scales (spike counts vs
ReLU activations) are weighed alike and the optimiser converges. Two solvers of the same model:

- ``logreg`` (default): multinomial logistic regression, L2, lbfgs (scikit-learn); exact, for
  up to a few thousand features;
- ``adam``: the self-contrastive FF paper's read-out, mini-batches with dropout on the features
  and Adam (torch); linear in the data size, for wide concatenated layers on 60k samples.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from neuroff.errors import NeuroffError

PROBES = ("logreg", "adam")


def as_matrix(z: Any, what: str = "latents") -> np.ndarray:
    """``z`` (numpy array or torch tensor) as a float64 ``[n_samples, n_features]`` matrix."""
    if hasattr(z, "detach"):
        z = z.detach().cpu().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise NeuroffError(f"{what} must be a 2-D [samples, features] array, got shape {list(z.shape)}; flatten each sample")
    if not np.isfinite(z).all():
        raise NeuroffError(f"{what} contain NaN or infinite values; check the model that produced them")
    return z


def as_labels(y: Any, n: int, what: str = "labels") -> np.ndarray:
    """``y`` as an int64 vector of length ``n``."""
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise NeuroffError(f"{what} must be a vector of {n} class indices (one per sample), got shape {list(y.shape)}")
    return y.astype(np.int64)


def linear_probe(
    train_latents: Any,
    y_train: Any,
    test_latents: Any,
    y_test: Any,
    seed: int = 0,
    max_iter: int = 1000,
    solver: str = "logreg",
    dropout: float = 0.2,
    epochs: int = 20,
) -> float:
    """Test accuracy of a linear read-out trained on ``train_latents``.

    ``*_latents``: ``[n, features]`` (numpy or torch; the same features in both splits);
    ``y_*``: ``[n]`` class indices. Features are standardised with the training split's
    statistics (constant features are left at zero). ``solver`` "logreg" (``max_iter`` lbfgs
    iterations) or "adam" (``epochs`` passes, batch 64, lr 1e-3 halved at 20, 35, 50, ..., 90 %
    of the epochs, ``dropout`` on the features).
    Returns the fraction of test samples whose predicted class equals ``y_test``.
    """
    predicted, y_te = probe_predictions(train_latents, y_train, test_latents, y_test, seed, max_iter, solver, dropout, epochs)
    return float((predicted == y_te).mean())


def probe_predictions(
    train_latents: Any,
    y_train: Any,
    test_latents: Any,
    y_test: Any,
    seed: int = 0,
    max_iter: int = 1000,
    solver: str = "logreg",
    dropout: float = 0.2,
    epochs: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """The linear read-out of :func:`linear_probe`: (predicted class of every test sample, the
    test labels as int64), so that a caller can resample the per-sample correctness."""
    if solver not in PROBES:
        raise NeuroffError(f"unknown probe {solver!r}; use one of {', '.join(PROBES)}")
    if not 0.0 <= dropout < 1.0 or epochs < 1:
        raise NeuroffError(f"probe dropout {dropout} must lie in [0, 1) and probe epochs {epochs} be >= 1")
    z_tr = as_matrix(train_latents, "training latents")
    z_te = as_matrix(test_latents, "test latents")
    y_tr = as_labels(y_train, len(z_tr), "training labels")
    y_te = as_labels(y_test, len(z_te), "test labels")
    if z_tr.shape[1] != z_te.shape[1]:
        raise NeuroffError(
            f"training latents have {z_tr.shape[1]} features, test latents {z_te.shape[1]}; probe one layer of one model"
        )
    if len(z_te) == 0:
        raise NeuroffError("the linear probe needs at least one test sample")
    if len(np.unique(y_tr)) < 2:
        raise NeuroffError("the linear probe needs training samples of at least two classes; use more training samples")
    mean, std = z_tr.mean(0), z_tr.std(0)
    std[std == 0] = 1.0  # a constant feature carries nothing; leave it at zero
    z_tr, z_te = (z_tr - mean) / std, (z_te - mean) / std
    if solver == "adam":
        predicted = _adam_probe(z_tr, y_tr, z_te, seed, dropout, epochs)
    else:
        predicted = _logreg_probe(z_tr, y_tr, z_te, seed, max_iter)
    return predicted, y_te


def _logreg_probe(z_tr: np.ndarray, y_tr: np.ndarray, z_te: np.ndarray, seed: int, max_iter: int) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        # a probe that stops at max_iter is still a valid (slightly pessimistic) read-out
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(z_tr, y_tr)
    return clf.predict(z_te)


def _adam_probe(
    z_tr: np.ndarray, y_tr: np.ndarray, z_te: np.ndarray, seed: int, dropout: float, epochs: int, batch: int = 64
) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(z_tr).float(), torch.from_numpy(y_tr)
    n_classes = int(max(y_tr.max(), 0)) + 1
    bound = 1.0 / x.shape[1] ** 0.5
    w = (torch.rand(n_classes, x.shape[1], generator=g) * 2 - 1).mul_(bound).requires_grad_()
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-3)
    # the SCFF paper's schedule: halve the rate at 20, 35, 50, 60, 70, 80 and 90 % of the epochs
    halve_at = {int(epochs * r) for r in (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9)}
    for epoch in range(epochs):
        if epoch in halve_at and epoch > 0:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        order = torch.randperm(len(x), generator=g)
        for lo in range(0, len(x), batch):
            idx = order[lo : lo + batch]
            xb = x[idx]
            if dropout > 0:  # inverted dropout with the probe's own generator: seeded
                xb = xb * (torch.rand(xb.shape, generator=g) >= dropout) / (1 - dropout)
            loss = F.cross_entropy(F.linear(xb, w, b), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return F.linear(torch.from_numpy(z_te).float(), w, b).argmax(1).numpy()
