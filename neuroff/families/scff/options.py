"""Options of Self-Contrastive FF (``neuroff.families.scff``, docs/scff.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.options import OptionGroup, option


@dataclass
class SCFFOptions(OptionGroup):
    title: ClassVar[str] = "Self-Contrastive FF (--rule scff)"
    scff_threshold_pos: float = option(1.0, "positives' goodness is pushed above this", unit="mean goodness")
    scff_threshold_neg: float = option(2.0, "negatives' goodness is pushed below this", unit="mean goodness")
    scff_lambda: float = option(0.001, "weight of the penalty on the positives' goodness")
    scff_epochs_per_layer: int = option(1, "layers train in turn, this many epochs each, then freeze", unit="epochs")


@dataclass
class PerLayerSCFFOptions(OptionGroup):
    """The paper tunes each layer separately; unset, every layer takes the single value above
    (--scff-threshold-pos, --scff-threshold-neg, --scff-lambda, --analog-lr)."""

    title: ClassVar[str] = "per-layer SCFF (--rule scff --mode analog)"
    scff_layer_threshold_pos: list[float] | None = option(None, "theta+ of each layer, e.g. 4,6 (one value per layer; default: --scff-threshold-pos for all)")
    scff_layer_threshold_neg: list[float] | None = option(None, "theta- of each layer (default: --scff-threshold-neg for all)")
    scff_layer_lambda: list[float] | None = option(None, "lambda of each layer (default: --scff-lambda for all)")
    scff_layer_lr: list[float] | None = option(None, "learning rate of each layer's optimiser (default: --analog-lr for all)")


@dataclass
class AnalogSCFFOptions(OptionGroup):
    title: ClassVar[str] = "analog SCFF (--rule scff --mode analog)"
    scff_algorithm: str = option("1", "input of layers 1..L-1: 1 = outputs of pos/neg, 2 = re-paired positives; or per layer, e.g. 1,2")
    scff_birnn: bool = option(False, "read each image row by row into one bidirectional recurrent layer of --layers units")
    scff_augment: int = option(0, "the halves of a pair are two random translations of the image by up to this (0: off)", unit="pixels")
    scff_probe_grid: int = option(2, "conv layers' outputs are average-pooled to this many positions per side for the probe", unit="positions")


@dataclass
class SpikingSCFFOptions(OptionGroup):
    title: ClassVar[str] = "spiking SCFF (--rule scff --mode spiking)"
    scff_centre: bool = option(False, "each layer sees its input spikes minus their per-sample mean (feedforward inhibition)")
