"""The options of one run: the run's own (``RunOptions``: data, epochs, batch, seed, schedule,
evaluation) composed with every component's option group into the flat ``FFConfig`` that config
files, checkpoints and the CLI share (one key per field; each field declared once, in its group).

``FFConfig.validate()`` resolves what the user left to the family (mode, embedding, batch size,
epochs: ``Family.defaults``) and refuses an option that the chosen family and mode do not read,
naming the family it belongs to."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from neuroff.data.options import LabelEmbeddingOptions, NegativeLabelOptions, TrainingAugmentationOptions
from neuroff.errors import NeuroffError
from neuroff.families.base import MODES, Family, Readout
from neuroff.families.contrastive_hebbian.options import ContrastiveHebbianOptions
from neuroff.families.ff.onchip_options import OnChipOptions
from neuroff.families.intff.options import IntFFOptions
from neuroff.families.registry import FAMILIES, get_family
from neuroff.families.scff.options import (
    AnalogSCFFOptions,
    PerLayerSCFFOptions,
    SCFFOptions,
    SpikingSCFFOptions,
)
from neuroff.layers.options import (
    AnalogTrainingOptions,
    GoodnessHeadOptions,
    InputNormalisationOptions,
    LayerSpecOptions,
    LIFNeuronOptions,
    NeoHebbianOptions,
    SpikeEncoderOptions,
)
from neuroff.options import OptionGroup, flag, option

PROBES = ("logreg", "adam")


@dataclass
class RunOptions(OptionGroup):
    title: ClassVar[str] = "run"
    rule: str = option("ff", "rule family to train", choices=tuple(FAMILIES))
    mode: str | None = option(None, "substrate: spiking (LIF, neo-Hebbian), analog (PyTorch) or loihi (on-chip learning, fixed point); default: the family's first", choices=MODES)
    dataset: str = option("digits", "digits, mnist5k, fashion-mnist, or idx:<dir> of IDX files")
    layers: list[int] = option(help="hidden layer sizes, e.g. 200,200", unit="neurons", factory=lambda: [200])
    epochs: int | None = option(None, "epochs to train (with --resume: the total to reach); default: the family's", unit="epochs")
    batch_size: int | None = option(None, "samples per update; default: the family's (spiking FF 1 = online)", unit="samples")
    lr_decay: float | None = option(None, "learning rates are multiplied by this ** epoch (0-based); default: the family's")
    seed: int = option(0, "seeds every random draw: init, shuffling, wrong labels, spikes")
    n_train: int | None = option(None, "use the first N training samples (default: all)", unit="samples")
    n_test: int | None = option(None, "use the first N test samples (default: all)", unit="samples")
    validation: int = option(0, "hold out this many training samples (drawn with --seed) as a validation split: each "
                             "epoch reports validation accuracy, the test set is evaluated after the last epoch only; 0: off",
                             unit="samples")
    chunk: int = option(256, "samples handed to the rule at a time (progress and finiteness checks between chunks)", unit="samples")
    eval_every: int = option(1, "test after every this many epochs (and after the last)", unit="epochs")


@dataclass
class EvaluationOptions(OptionGroup):
    title: ClassVar[str] = "scoring (ff, intff, scff)"
    score_layers: list[int] | None = option(None, "layers (blocks) whose goodness is summed for the prediction, or read by the probe; default: all")
    eval_repeats: int = option(1, "spiking: presentations averaged per candidate at test time (spike noise)")


@dataclass
class ProbeOptions(OptionGroup):
    title: ClassVar[str] = "linear probe (read-out of label-free families: scff)"
    probe: str = option("logreg", "solver of the logistic read-out: logreg (lbfgs, exact) or adam (dropout, scales)", choices=PROBES)
    probe_dropout: float = option(0.2, "adam probe: dropout on the features")
    probe_epochs: int = option(20, "adam probe: training epochs", unit="epochs")


# the run's own groups, read by every family (EvaluationOptions and ProbeOptions by the families that score or probe)
RUN_GROUPS: tuple[type[OptionGroup], ...] = (RunOptions, TrainingAugmentationOptions)
COMPONENT_GROUPS: tuple[type[OptionGroup], ...] = (
    EvaluationOptions, ProbeOptions, LabelEmbeddingOptions, NegativeLabelOptions, LayerSpecOptions, SpikeEncoderOptions, LIFNeuronOptions,
    GoodnessHeadOptions, NeoHebbianOptions, AnalogTrainingOptions, InputNormalisationOptions, IntFFOptions, SCFFOptions,
    AnalogSCFFOptions, PerLayerSCFFOptions, SpikingSCFFOptions, ContrastiveHebbianOptions, OnChipOptions,
)
ALL_GROUPS = RUN_GROUPS + COMPONENT_GROUPS
# options whose None is a value of its own ("all", "one block per --layers entry"), not "unset"
MAY_BE_NONE = ("n_train", "n_test", "score_layers", "blocks", *PerLayerSCFFOptions.field_names())
# options that a resumed run may change: they do not change the model
RESUMABLE = ("epochs", "lr_decay", "eval_every", "eval_repeats", "n_test", "chunk", "probe", "probe_dropout", "probe_epochs")


@dataclass(frozen=True)
class Range:
    """The values a numeric option may take: bounds (None: unbounded), each closed or open."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, v: float) -> bool:
        above = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
        below = self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)
        return above and below

    def __str__(self) -> str:
        if self.lo is None and self.hi is None:
            return "finite"
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"


AT_LEAST_1, AT_LEAST_0, POSITIVE = Range(1), Range(0), Range(0, lo_open=True)
FRACTION, RATE, DECAY, BELOW_1 = Range(0, 1), Range(0, 1, lo_open=True), Range(0, 1, lo_open=True), Range(0, 1, hi_open=True)
# every numeric option's range (floats must also be finite): checked before any work, since a
# value outside it trains silently wrong (--code-bits 0 trains to chance, a negative decay flips
# signs every step) or fails deep inside the run
RANGES: dict[str, Range] = {
    "epochs": AT_LEAST_1, "batch_size": AT_LEAST_1, "lr_decay": DECAY, "seed": AT_LEAST_0, "n_train": AT_LEAST_1,
    "n_test": AT_LEAST_1, "validation": AT_LEAST_0, "chunk": AT_LEAST_1, "eval_every": AT_LEAST_1,
    "eval_repeats": AT_LEAST_1, "probe_dropout": BELOW_1, "probe_epochs": AT_LEAST_1, "augment_shift": AT_LEAST_0,
    "code_bits": AT_LEAST_1, "code_p": Range(0, 1, lo_open=True, hi_open=True), "negatives_sharpness": AT_LEAST_0,
    "beta": FRACTION, "threshold": POSITIVE, "refractory": AT_LEAST_0, "trace_decay": FRACTION,
    "steps": AT_LEAST_1, "max_rate": RATE,
    "alpha": POSITIVE, "theta": Range(), "eps": AT_LEAST_0,
    "lr": POSITIVE, "learn_start": AT_LEAST_0, "eligibility_tau": DECAY, "eligibility_nu": RATE, "pre_trace_decay": DECAY,
    "homeostasis_rate": AT_LEAST_0, "homeostasis_target": FRACTION, "homeostasis_tau": DECAY,
    "init_scale": POSITIVE, "analog_lr": POSITIVE, "intff_threshold": Range(),
    "scff_threshold_pos": Range(), "scff_threshold_neg": Range(), "scff_lambda": AT_LEAST_0, "scff_epochs_per_layer": AT_LEAST_1,
    "scff_augment": AT_LEAST_0, "scff_probe_grid": AT_LEAST_0,
    "ch_eta": POSITIVE, "ch_eta_conv": POSITIVE, "ch_eta_decay": DECAY, "ch_meta_lr": POSITIVE,
    "ch_meta_weight_decay": AT_LEAST_0, "ch_momentum": BELOW_1, "ch_smoothing": BELOW_1,
    "ch_dropout": BELOW_1,
    # on-chip learning: the chip's own bounds are checked, with its wording, in families/ff/onchip.py
    "onchip_vth": AT_LEAST_1, "onchip_lr_mantissa": Range(), "onchip_lr_exponent": Range(), "onchip_m_scale": AT_LEAST_1,
    "onchip_rng_seed": AT_LEAST_0,
}


def value_problem(f: dataclasses.Field, value: Any) -> str | None:
    """Why ``value`` is not a valid value of the numeric option ``f``, or None (also for
    non-numeric options and None = unset)."""
    declared = str(f.type).removesuffix(" | None")
    if value is None or declared not in ("int", "float"):
        return None
    default = f.default if f.default is not MISSING and f.default is not None else None
    fix = f"e.g. {flag(f.name)} {default}" if default is not None else f"see `neuroff train --help` for {flag(f.name)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (declared == "int" and not isinstance(value, int)):
        return f"{flag(f.name)} {value!r} is not {'an integer' if declared == 'int' else 'a number'}; {fix}"
    valid = RANGES.get(f.name, Range())
    if not math.isfinite(value) or value not in valid:
        return f"{flag(f.name)} {value} must be {'a finite number ' if declared == 'float' else ''}{valid}; {fix}"
    return None


def groups_read_by(family: Family, mode: str) -> tuple[type[OptionGroup], ...]:
    """Every option group a family reads in a mode: the run's, its own, and scoring / probing by read-out."""
    extra: tuple[type[OptionGroup], ...] = ()
    if family.readout is not Readout.LOGITS:
        extra += (EvaluationOptions,)
    if family.readout is Readout.PROBE:
        extra += (ProbeOptions,)
    return RUN_GROUPS + extra + tuple(family.groups[mode])


def owner_of(name: str) -> type[OptionGroup]:
    for group in ALL_GROUPS:
        if name in group.field_names():
            return group
    raise NeuroffError(f"unknown option {name!r}; see `neuroff train --help`")


def readers_of(group: type[OptionGroup]) -> list[str]:
    """'ff --mode spiking'-style names of the (family, mode) pairs that read a group."""
    return [f"{f.name} --mode {m}" if len(f.modes) > 1 else f.name for f in FAMILIES.values() for m in f.modes if group in groups_read_by(f, m)]


@dataclass
class FFConfig(
    OnChipOptions, ContrastiveHebbianOptions, SpikingSCFFOptions, PerLayerSCFFOptions, AnalogSCFFOptions, SCFFOptions, IntFFOptions,
    InputNormalisationOptions, AnalogTrainingOptions,
    NeoHebbianOptions, GoodnessHeadOptions, LIFNeuronOptions, SpikeEncoderOptions, LayerSpecOptions,
    NegativeLabelOptions, LabelEmbeddingOptions, ProbeOptions, EvaluationOptions, TrainingAugmentationOptions, RunOptions,
):
    """Every option of a run, flat (see the module docstring); ``validate()`` before use."""

    title: ClassVar[str] = "all options"

    @property
    def family(self) -> Family:
        return get_family(self.rule)

    def explicit(self) -> set[str]:
        """Fields whose value differs from the declared default (what the user chose)."""
        defaults = FFConfig()
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(defaults, f.name)}

    def reset_unread(self) -> "FFConfig":
        """Options the family does not read back to their declared defaults. A stored config holds,
        for those, the defaults of the version that saved it (e.g. --head was "sym" for every family
        before it became the FF family's per-mode default); they were never chosen. Returns self."""
        family = get_family(self.rule)
        mode = self.mode or family.modes[0]  # unset in a v1 checkpoint: the family's default mode
        if mode not in family.modes:
            return self  # validate names the problem
        read = {name for group in groups_read_by(family, mode) for name in group.field_names()} | {"embedding"}
        defaults = FFConfig()
        for f in fields(self):
            if f.name not in read and f.name not in ("rule", "mode"):
                setattr(self, f.name, getattr(defaults, f.name))
        return self

    def validate(self, given: set[str] | frozenset[str] = frozenset()) -> "FFConfig":
        """Resolve the family's defaults, refuse options the family does not read (``given``: names
        the user set explicitly, even to their default), then check values. Returns self."""
        family = get_family(self.rule)
        if self.mode is None:
            self.mode = family.modes[0]
        if self.mode not in MODES:
            raise NeuroffError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.mode not in family.modes:
            having = [f.name for f in FAMILIES.values() if self.mode in f.modes]
            raise NeuroffError(
                f"--rule {family.name} has no {self.mode} form; families with one: {', '.join(having)} "
                f"(or pass --mode {family.modes[0]})"
            )
        read = {name for group in groups_read_by(family, self.mode) for name in group.field_names()}
        read.add("embedding")  # every family takes it, checked against Family.embeddings below
        for name in sorted((self.explicit() | set(given)) - read):
            group = owner_of(name)
            raise NeuroffError(
                f"{flag(name)} belongs to the {group.title} options, read by {', '.join(readers_of(group))}; "
                f"--rule {family.name}{' --mode ' + self.mode if len(family.modes) > 1 else ''} does not use it"
            )
        for name, value in family.defaults_for(self.mode, self.encoder).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        unset = sorted(name for name in read if getattr(self, name) is None and name not in MAY_BE_NONE)
        if unset:  # a family that reads an option must give it a default
            raise NeuroffError(f"--rule {family.name} --mode {self.mode} has no default for {', '.join(flag(n) for n in unset)}; pass it")
        if self.embedding not in family.embeddings:
            raise NeuroffError(f"--rule {family.name} takes --embedding {' or '.join(family.embeddings)}, not {self.embedding}")
        self._check_values()
        return self

    def _check_values(self) -> None:
        if not self.layers or any(int(n) < 1 for n in self.layers):
            raise NeuroffError(f"layer sizes {self.layers} must be positive integers, e.g. --layers 200,200")
        if self.epochs < 1:  # before the ranges: 0 epochs is "nothing to do", not a bad value
            raise NeuroffError(f"--epochs {self.epochs}: nothing to do; pass --epochs 1 or more")
        for f in fields(self):  # every numeric option: a finite number in its range
            problem = value_problem(f, getattr(self, f.name))
            if problem:
                raise NeuroffError(problem)
        if self.learn_start is not None and not 0 <= self.learn_start < self.steps:
            raise NeuroffError(f"learn_start={self.learn_start} must lie in [0, steps={self.steps})")
        for group in ALL_GROUPS:  # named choices
            for f in fields(group):
                choices, value = f.metadata.get("choices"), getattr(self, f.name)
                if choices and value is not None and value not in choices:
                    raise NeuroffError(f"unknown {f.name} {value!r}; use one of {', '.join(choices)}")
        if self.score_layers is not None and self.blocks is None:  # with --blocks they index blocks, checked there
            bad = [i for i in self.score_layers if not 0 <= i < len(self.layers)]
            if bad:
                raise NeuroffError(f"score_layers {bad} out of range for {len(self.layers)} layers")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FFConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NeuroffError(f"unknown config option(s) {', '.join(unknown)}; see `neuroff train --help`")
        return cls(**data)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> "FFConfig":
        """The config a checkpoint records: an option it lacks was added, with a new
        default, after the file was written, so the file's run had the behaviour before it
        (``SUPERSEDED_DEFAULTS``)."""
        return cls.from_dict({**SUPERSEDED_DEFAULTS, **data})


# Options added with a default that differs from what neuroff did before them: a stored config
# without the option was run with these values.
SUPERSEDED_DEFAULTS: dict[str, Any] = {
    "onchip_m_timing": "window",  # stop 27: the on-chip modulator sent one M per presentation
}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file of FFConfig field names: flat (``{"beta": 0.9}``), or grouped one
    level deep under any heading (``{"neuron": {"beta": 0.9}, "run": {"epochs": 3}}``)."""
    p = Path(path)
    if not p.is_file():
        raise NeuroffError(f"config file {p} not found")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise NeuroffError(f"config file {p} is not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise NeuroffError(f"config file {p} must hold a JSON object of option: value")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat
