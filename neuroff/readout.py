"""Linear read-out of a representation: how much label information a layer's latents carry in a
linearly decodable form. One implementation, shared by the latent comparison and by any rule
family that is judged by a probe (e.g. the self-contrastive family, whose layers never see labels).

The probe is a multinomial logistic regression (scikit-learn, L2, lbfgs) on features
standardised with the training set's mean and standard deviation, so neurons on very different
scales (spike counts vs ReLU activations) are weighed alike and the optimiser converges.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from neuroff.errors import NeuroffError


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
) -> float:
    """Test accuracy of a logistic-regression read-out trained on ``train_latents``.

    ``*_latents``: ``[n, features]`` (numpy or torch; the same features in both splits);
    ``y_*``: ``[n]`` class indices. Features are standardised with the training split's
    statistics (constant features are left at zero). Returns the fraction of test samples whose
    predicted class equals ``y_test``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

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
    scaler = StandardScaler().fit(z_tr)
    clf = LogisticRegression(max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        # a probe that stops at max_iter is still a valid (slightly pessimistic) read-out
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(z_tr), y_tr)
    return float((clf.predict(scaler.transform(z_te)) == y_te).mean())
