"""Label embedding and the positive/negative pairing of supervised Forward-Forward.

Positive sample: the input with its true label embedded. Negative sample: the same input with a
label drawn uniformly among the wrong ones. Two embeddings:

- ``code``: each class owns a random binary code of ``bits`` bits (Bernoulli(p) per bit, drawn
  once from the seed); the code is appended to the input (D -> D + bits).
- ``onehot``: Hinton's overlay; the first C input features are replaced by the one-hot label
  (D unchanged).
- ``none``: no label in the input (D unchanged); for rules that take the labels from the engine
  instead (``Consumes.LABELLED_SAMPLES``, contrastive-hebbian) or use none (SCFF).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroff.data.options import EMBEDDINGS
from neuroff.errors import NeuroffError


@dataclass(frozen=True)
class LabelEmbedding:
    kind: str
    n_classes: int
    codes: torch.Tensor  # [C, bits] float 0/1 for "code"; [C, C] identity for "onehot"; [C, 0] for "none"

    @property
    def extra_features(self) -> int:
        return self.codes.shape[1] if self.kind == "code" else 0

    def embed(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x [..., D], labels [...] -> [..., D + extra_features]."""
        if self.kind == "none":
            return x
        if self.kind == "code":
            return torch.cat([x, self.codes[labels]], dim=-1)
        out = x.clone()
        out[..., : self.n_classes] = self.codes[labels]
        return out

    def embed_neutral(self, x: torch.Tensor) -> torch.Tensor:
        """x with the average of all class embeddings: no label information (for read-outs)."""
        if self.kind == "none":
            return x
        neutral = self.codes.mean(0).expand(*x.shape[:-1], -1)
        if self.kind == "code":
            return torch.cat([x, neutral], dim=-1)
        out = x.clone()
        out[..., : self.n_classes] = neutral
        return out

    def embed_all(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, D] -> [B, C, D'] with every candidate label embedded."""
        labels = torch.arange(self.n_classes).expand(x.shape[0], -1)
        return self.embed(x.unsqueeze(1).expand(-1, self.n_classes, -1), labels)


def make_label_embedding(
    kind: str, n_classes: int, bits: int = 100, p: float = 0.3, seed: int = 0
) -> LabelEmbedding:
    if kind == "code":
        g = torch.Generator().manual_seed(seed + 7919)
        codes = (torch.rand((n_classes, bits), generator=g) < p).to(torch.float32)
        return LabelEmbedding(kind, n_classes, codes)
    if kind == "onehot":
        return LabelEmbedding(kind, n_classes, torch.eye(n_classes))
    if kind == "none":
        return LabelEmbedding(kind, n_classes, torch.zeros(n_classes, 0))
    raise NeuroffError(f"unknown label embedding {kind!r}; use one of {', '.join(EMBEDDINGS)}")


def wrong_labels(labels: torch.Tensor, n_classes: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A label drawn uniformly among the n_classes - 1 wrong ones, per sample."""
    shift = torch.randint(1, n_classes, labels.shape, generator=generator)
    return (labels + shift) % n_classes


def hard_wrong_labels(
    labels: torch.Tensor, scores: torch.Tensor, sharpness: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A wrong label per sample drawn with probability softmax(sharpness * score) over the wrong
    labels (Hinton's hard negatives): the labels the network currently confuses with the true
    one are drawn most. ``scores`` [n, C] are the network's candidate scores."""
    logits = sharpness * scores.to(torch.float64)
    logits[torch.arange(len(labels)), labels] = -torch.inf
    return torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).squeeze(1)
