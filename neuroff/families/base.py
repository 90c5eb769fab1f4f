"""What the engine and a rule family agree on: typed protocols for models and rules, the batch a
rule consumes, the statistics it returns, the learning-rate schedule it is handed, and the
``Family`` record that registers a family (``neuroff.families.registry``).

Nothing here is discovered with ``hasattr``: a family declares what it consumes and how its
model is read out, and every rule implements the whole ``Rule`` protocol (``RuleBase`` gives the
no-op parts)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from neuroff.options import OptionGroup

MODES = ("spiking", "analog", "loihi")  # loihi: on-chip learning, the learning engine emulated
CONSTANT_LR = {"lr_decay": 1.0}  # the learning rate schedule of families that do not decay it


class Consumes(enum.Enum):
    """What a family's rule is fed per batch."""

    PAIRS = "labelled positive/negative pairs"  # the true label and a drawn wrong label embedded in x
    SAMPLES = "raw samples"  # no label; the rule makes its own negatives (SCFF)
    LABELLED_SAMPLES = "raw samples and their labels"  # supervised, the label is not in x (contrastive Hebbian)


class Readout(enum.Enum):
    """How a family's model is read out at test time; the value names the metric it reports."""

    GOODNESS = "goodness-argmax accuracy"  # argmax over candidate labels of the summed P(positive)
    PROBE = "linear-probe accuracy"  # a logistic read-out trained on the model's latents (label-free models)
    LOGITS = "classifier accuracy"  # argmax of the model's own classifier head


@dataclass(frozen=True)
class Batch:
    """One chunk of training data as a rule consumes it (see ``Consumes``).

    ``x``: positives (PAIRS: true label embedded) or raw samples, [n, D]; ``x_neg``: the same
    samples with a wrong label embedded (PAIRS only); ``labels``: the true labels
    (LABELLED_SAMPLES only); ``generator``: the run's one random stream."""

    x: torch.Tensor
    generator: torch.Generator
    x_neg: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def minibatches(batch: Batch, size: int) -> Iterator[Batch]:
    """Consecutive mini-batches of ``size`` samples (the last may be shorter) of a chunk."""
    for lo in range(0, len(batch), size):
        part = slice(lo, lo + size)
        yield Batch(
            batch.x[part], batch.generator,
            None if batch.x_neg is None else batch.x_neg[part], None if batch.labels is None else batch.labels[part],
        )  # fmt: skip


@dataclass
class StepStats:
    """What one ``Rule.step`` reports: ``correct`` of ``samples`` by the family's training metric
    (pair accuracy: P(positive) of the positive above its negative's; classification accuracy for
    classifiers), the mean loss where the rule has one, and extra named values (e.g. SCFF's layer)."""

    samples: float
    correct: float
    loss: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def total(parts: Iterable[StepStats]) -> StepStats:
        """The stats of a chunk from those of its mini-batches (loss: the sample-weighted mean)."""
        parts = list(parts)
        samples = sum(p.samples for p in parts)
        losses = [(p.loss, p.samples) for p in parts if p.loss is not None]
        loss = sum(v * n for v, n in losses) / max(samples, 1) if losses else None
        extra = {k: v for p in parts for k, v in p.extra.items()}
        return StepStats(samples, sum(p.correct for p in parts), loss, extra)


@dataclass(frozen=True)
class LRSchedule:
    """Learning-rate scale per epoch, handed to a rule as torch.optim hands a scheduler an
    optimiser: epoch e (0-based) trains at ``base_lr * decay ** e`` (``--lr-decay``)."""

    decay: float = 1.0

    def scale(self, epoch: int) -> float:
        return self.decay**epoch


@runtime_checkable
class Model(Protocol):
    """What the engine, read-outs, latents and exports use of a model."""

    sizes: list[int]  # [input, layer 1, ..., layer L] (flattened sizes)

    @property
    def n_layers(self) -> int: ...

    @property
    def weights(self) -> list[torch.Tensor]: ...

    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> Any: ...


@runtime_checkable
class ScoredModel(Model, Protocol):
    """A model read out by ``Readout.GOODNESS`` or ``Readout.LOGITS``: a score per candidate label."""

    def candidate_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...


@runtime_checkable
class LayerScoredModel(ScoredModel, Protocol):
    """A goodness-scored model whose score is a sum over its layers (FF: ``--score-layers`` picks
    them): ``layer_scores`` gives each layer's P(positive) per candidate, [S, C, L], and
    ``candidate_scores`` sums the scored layers (``neuroff.core.goodness.layers_score``)."""

    def layer_scores(self, x_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...


@runtime_checkable
class Rule(Protocol):
    """A local learning rule. The engine calls ``on_epoch_start(e)`` before epoch e, then
    ``step(model, batch)`` per chunk; ``state_dict``/``load_state_dict`` checkpoint the rule's own
    state (optimisers, schedules)."""

    name: ClassVar[str]

    def step(self, model: Any, batch: Batch) -> StepStats: ...

    def on_epoch_start(self, epoch: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class RuleBase:
    """The parts of ``Rule`` that a stateless, schedule-free rule leaves as they are."""

    name: ClassVar[str] = ""

    def on_epoch_start(self, epoch: int) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


@dataclass(frozen=True)
class BuildContext:
    """What a family's builder gets besides the options: the data's shape, the seeded stream, the schedule."""

    n_inputs: int  # features of the model's input (data plus any appended label code)
    n_classes: int
    generator: torch.Generator
    schedule: LRSchedule


@dataclass(frozen=True)
class Family:
    """A rule family: one folder under ``neuroff/families`` and one entry in the registry.

    ``groups[mode]`` are the option groups the family reads in that mode (a flag of any other
    group is an error); ``defaults[mode]`` are its defaults for the options the user left unset
    (declared with default None: epochs, batch size, embedding, learning rates, neuron and encoder
    settings), ``defaults["mode:encoder"]`` those that differ for one encoder; the first of
    ``modes`` is the default substrate."""

    name: str
    summary: str
    modes: tuple[str, ...]
    consumes: Consumes
    readout: Readout
    groups: Mapping[str, tuple[type[OptionGroup], ...]]
    defaults: Mapping[str, Mapping[str, Any]]
    build: Callable[[Any, BuildContext], tuple[Any, Rule]]
    embeddings: tuple[str, ...] = ("code", "onehot")
    # data-dependent initialisation, run once on a fresh model: (config, model, model inputs, generator)
    initialise: Callable[[Any, Any, torch.Tensor, torch.Generator], None] | None = None

    def defaults_for(self, mode: str, encoder: str) -> dict[str, Any]:
        """The defaults of a mode, with those of ``"mode:encoder"`` (e.g. ``"spiking:latency"``) on top."""
        return {**self.defaults[mode], **self.defaults.get(f"{mode}:{encoder}", {})}

    @property
    def train_metric(self) -> str:
        return "classification accuracy" if self.consumes is Consumes.LABELLED_SAMPLES else "pair accuracy"

    @property
    def test_metric(self) -> str:
        return self.readout.value
