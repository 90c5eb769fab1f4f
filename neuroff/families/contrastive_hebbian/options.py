"""Options of contrastive neuron-centric Hebbian learning (``neuroff.families.contrastive_hebbian``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.options import OptionGroup, option

ACTIVATIONS = ("tanh", "relu")
WEIGHT_NORMS = ("fan-out", "fan-in")  # which weights of a dense layer are L2-normalised to 1 together
CONV_LOSS_PLACES = ("pooled", "conv")  # where a conv layer's contrastive loss is taken


@dataclass
class ContrastiveHebbianOptions(OptionGroup):
    title: ClassVar[str] = "contrastive Hebbian (--rule contrastive-hebbian)"
    ch_activation: str = option("tanh", "activation of the hidden layers", choices=ACTIVATIONS)
    ch_eta: float = option(1e-3, "Hebbian rate of dense layers and the head", unit="per mini-batch")
    ch_eta_conv: float = option(1e-4, "Hebbian rate of conv layers", unit="per mini-batch")
    ch_eta_decay: float = option(1.0, "both Hebbian rates are multiplied by this ** epoch (0-based); 1: constant")
    ch_meta_lr: float = option(0.03, "AdamW learning rate of the per-neuron rates C", unit="per mini-batch")
    ch_meta_weight_decay: float = option(0.003, "AdamW weight decay of the C's")
    ch_momentum: float = option(0.0, "momentum of the pending weight update, dW <- mu dW + dW_new")
    ch_smoothing: float = option(0.0, "label smoothing of the positive/negative pair masks")
    ch_weight_norm: str = option("fan-out", "dense weights L2-normalised per input neuron (fan-out) or per output neuron (fan-in)", choices=WEIGHT_NORMS)
    # neuroff's defaults below keep what it measured before (biases, no dropout, the loss on what a
    # conv layer passes on); the thesis's settings are the preset thesis-mnist / thesis-split
    ch_bias: bool = option(True, "learn a bias per neuron (the thesis's networks have none: false)")
    ch_dropout: float = option(0.0, "dropout on every hidden layer's output while training (the thesis's Split runs: 0.3)")
    ch_conv_loss: str = option("pooled", "a conv layer's contrastive loss on its max-pooled output (pooled) or on the "
                               "convolution's output before the pool (conv, as in the thesis)", choices=CONV_LOSS_PLACES)
