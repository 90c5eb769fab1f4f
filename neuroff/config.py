"""The one configuration object of a Forward-Forward run (network, encoder, rule, training).

Defaults are the reference configuration of the issue (the authors' notebook): one 200-neuron
layer, 100-bit random label code (p = 0.3), Bernoulli rate code at 0.25 * pixel, LIF decay 0.85
with hard reset, 23 steps with learning on steps >= 16, leaky trace 0.85, eligibility tau 0.1,
nu 1, P_sym head.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from neuroff.errors import NeuroffError

MODES = ("spiking", "analog")
# rule families the engine can train; each maps to a builder in neuroff.families.registry
RULE_FAMILIES = ("ff", "intff", "scff", "contrastive-hebbian")
INITS = ("uniform", "normal", "positive")


@dataclass
class FFConfig:
    # what is trained
    mode: str = "spiking"
    rule: str = "ff"
    dataset: str = "digits"
    layers: list[int] = field(default_factory=lambda: [200])
    head: str = "sym"
    alpha: float = 6.0
    theta: float = 1.0
    eps: float = 0.01
    # label embedding
    embedding: str = "code"
    code_bits: int = 100
    code_p: float = 0.3
    # spiking network
    encoder: str = "rate"
    max_rate: float = 0.25
    latency_mode: str = "linear"
    normalize_latency: bool = False
    steps: int = 23
    learn_start: int = 16
    beta: float = 0.85
    threshold: float = 1.0
    reset: str = "zero"
    refractory: int = 0
    trace: str = "leaky"
    trace_decay: float = 0.85
    # neo-Hebbian rule
    lr: float = 0.002
    eligibility_tau: float = 0.1
    eligibility_nu: float = 1.0
    sparse: bool = True
    init: str = "uniform"
    init_scale: float = 1.0
    # analog twin
    optimizer: str = "adam"
    analog_lr: float = 0.003
    normalize_inputs: bool = True
    # Integrated FF (rule intff): nested block sizes, see neuroff.layers.spec; None = one block per --layers entry
    blocks: str | None = None
    intff_threshold: float = 1.5
    # Self-Contrastive FF (rule scff, --embedding none): neuroff.families.scff.model, docs/scff.md
    scff_threshold_pos: float = 1.0  # positives' goodness is pushed above this
    scff_threshold_neg: float = 2.0  # negatives' goodness is pushed below this
    scff_lambda: float = 0.001  # weight of the penalty on the positives' goodness
    scff_epochs_per_layer: int = 1  # layers are trained in turn, this many epochs each, then frozen
    scff_algorithm: str = "1"  # input of layers 1..L-1: 1 = outputs of pos/neg, 2 = re-paired positives; or e.g. 1,2
    scff_birnn: bool = False  # read each image row by row into one bidirectional recurrent layer of --layers units
    scff_augment: int = 0  # pixels: the halves of a pair are two random translations (up to this) of the images
    scff_probe_grid: int = 2  # conv layers' outputs are average-pooled to this many positions per side for the probe
    scff_centre: bool = False  # spiking SCFF: each layer sees its input spikes minus their per-sample mean (feedforward inhibition)
    # contrastive neuron-centric Hebbian (rule contrastive-hebbian, --embedding none): neuroff.families.contrastive_hebbian.model
    ch_activation: str = "tanh"
    ch_eta: float = 1e-3  # Hebbian rate of dense layers
    ch_eta_conv: float = 1e-4  # Hebbian rate of conv layers
    ch_eta_decay: float = 1.0  # both Hebbian rates are multiplied by ch_eta_decay ** epoch (0-based)
    ch_meta_lr: float = 0.03  # AdamW on the neuron-centric rates C
    ch_meta_weight_decay: float = 0.003
    ch_momentum: float = 0.0
    ch_smoothing: float = 0.0  # label smoothing of the pair masks
    ch_weight_norm: str = "fan-out"  # dense weights L2-normalised per input neuron (fan-out) or per output neuron (fan-in)
    # training
    epochs: int = 1
    lr_decay: float = 1.0  # learning rates are multiplied by lr_decay ** epoch (0-based)
    batch_size: int | None = None  # None: 1 (online) for spiking, 64 for analog
    seed: int = 0
    score_layers: list[int] | None = None
    n_train: int | None = None
    n_test: int | None = None
    chunk: int = 256
    eval_repeats: int = 1  # presentations averaged per candidate at test time (spiking noise)
    eval_every: int = 1  # test after every this many epochs (and after the last)
    # the linear read-out of label-free models (neuroff.engine.readout): logreg (lbfgs) or adam (dropout)
    probe: str = "logreg"
    probe_dropout: float = 0.2
    probe_epochs: int = 20

    def validate(self) -> "FFConfig":
        if self.rule not in RULE_FAMILIES:
            raise NeuroffError(f"unknown rule {self.rule!r}; use one of {', '.join(RULE_FAMILIES)}")
        if self.mode not in MODES:
            raise NeuroffError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if not self.layers or any(int(n) < 1 for n in self.layers):
            raise NeuroffError(f"layer sizes {self.layers} must be positive integers, e.g. --layers 200,200")
        if self.init not in INITS:
            raise NeuroffError(f"unknown init {self.init!r}; use one of {', '.join(INITS)}")
        if not 0 <= self.learn_start < self.steps:
            raise NeuroffError(f"learn_start={self.learn_start} must lie in [0, steps={self.steps})")
        if self.eval_repeats < 1:
            raise NeuroffError(f"eval_repeats={self.eval_repeats} must be >= 1")
        if self.epochs < 0 or self.chunk < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise NeuroffError("epochs must be >= 0 and batch_size, chunk >= 1")
        if not 0.0 < self.lr_decay <= 1.0:
            raise NeuroffError(f"lr_decay={self.lr_decay} must lie in (0, 1]")
        if not 0.0 < self.ch_eta_decay <= 1.0:
            raise NeuroffError(f"ch_eta_decay={self.ch_eta_decay} must lie in (0, 1]; 1 keeps the Hebbian rates constant")
        if not 0.0 < self.eligibility_tau <= 1.0:
            raise NeuroffError(f"eligibility_tau={self.eligibility_tau} must lie in (0, 1]")
        if self.optimizer not in ("adam", "sgd"):
            raise NeuroffError(f"unknown optimizer {self.optimizer!r}; use adam or sgd")
        if self.blocks is not None and self.rule not in ("intff", "contrastive-hebbian", "scff"):
            raise NeuroffError("--blocks belongs to IntFF, SCFF and contrastive-hebbian; pass --rule intff (plain FF takes --layers)")
        if self.eval_every < 1:
            raise NeuroffError(f"eval_every={self.eval_every} must be >= 1")
        if self.probe not in ("logreg", "adam"):
            raise NeuroffError(f"unknown probe {self.probe!r}; use logreg or adam")
        if not 0.0 <= self.probe_dropout < 1.0 or self.probe_epochs < 1:
            raise NeuroffError(f"probe_dropout={self.probe_dropout} must lie in [0, 1) and probe_epochs={self.probe_epochs} be >= 1")
        if self.scff_augment < 0 or self.scff_probe_grid < 0:
            raise NeuroffError(f"scff_augment={self.scff_augment} and scff_probe_grid={self.scff_probe_grid} must be >= 0 (0: off)")
        if self.scff_centre and (self.rule != "scff" or self.mode != "spiking"):
            raise NeuroffError("--scff-centre belongs to spiking SCFF (analog SCFF standardises its inputs already); pass --rule scff --mode spiking")
        if self.rule == "contrastive-hebbian" and self.embedding != "none":
            raise NeuroffError("contrastive-hebbian gets its labels from the engine, not the input; pass --embedding none")
        if self.embedding == "none" and self.rule in ("ff", "intff"):
            raise NeuroffError(f"--rule {self.rule} reads the label from the input; pass --embedding code or onehot")
        if self.rule == "scff" and self.embedding != "none":
            raise NeuroffError("SCFF is unsupervised and takes no label in its input; pass --embedding none")
        if self.score_layers is not None and self.blocks is None:  # with --blocks they index blocks, checked there
            bad = [i for i in self.score_layers if not 0 <= i < len(self.layers)]
            if bad:
                raise NeuroffError(f"score_layers {bad} out of range for {len(self.layers)} layers")
        return self

    @property
    def effective_batch_size(self) -> int:
        if self.batch_size is not None:
            return self.batch_size
        return 1 if self.mode == "spiking" else 64

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FFConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NeuroffError(f"unknown config option(s) {', '.join(unknown)}; see `neuroff train --help`")
        return cls(**data)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file (keys are FFConfig field names)."""
    p = Path(path)
    if not p.is_file():
        raise NeuroffError(f"config file {p} not found")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise NeuroffError(f"config file {p} is not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise NeuroffError(f"config file {p} must hold a JSON object of option: value")
    return data
