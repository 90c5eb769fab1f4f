"""Options of the data components: the label embedding and negative labels (``neuroff.data.pairing``)
and training-set augmentation (``neuroff.data.augment``); no torch, so the CLI reads them instantly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.options import OptionGroup, option

EMBEDDINGS = ("code", "onehot", "none")


@dataclass
class LabelEmbeddingOptions(OptionGroup):
    title: ClassVar[str] = "label embedding"
    embedding: str | None = option(
        None, "how the label enters the input: appended random code, one-hot overlay, or none; "
        "default: the family's (code for ff and intff, none for scff and contrastive-hebbian)", choices=EMBEDDINGS)
    code_bits: int = option(100, "code embedding: bits of each class's random code", unit="features")
    code_p: float = option(0.3, "code embedding: probability that a code bit is 1")


NEGATIVES = ("uniform", "hard")


@dataclass
class NegativeLabelOptions(OptionGroup):
    title: ClassVar[str] = "negative labels (ff, intff)"
    negatives: str = option("uniform", "wrong label of a negative: uniform, or hard = drawn by softmax(sharpness * score) "
                            "of the current network, from the second epoch on (one extra scoring pass per sample)", choices=NEGATIVES)
    negatives_sharpness: float = option(10.0, "hard negatives: inverse temperature of the softmax over the scores")


@dataclass
class TrainingAugmentationOptions(OptionGroup):
    title: ClassVar[str] = "training-set augmentation"
    augment_shift: int = option(0, "translate every training image by its own random (dy, dx) in [-N, N]^2 each time it "
                                "is presented, zero-filled (0: off); validation and test images are never shifted", unit="pixels")
