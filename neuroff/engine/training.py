"""The one training loop. It streams chunks of the training set to a rule, shaped as the rule's
family consumes them (``Consumes``: labelled positive/negative pairs, raw samples, or samples with
their labels), and never knows which rule it runs; the rule decides how a chunk changes the
weights (online batch-1 updates, mini-batches, per-layer optimisers)."""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from neuroff import __version__
from neuroff.data import Dataset, load_dataset
from neuroff.data.augment import check_shiftable, shift_flat_images
from neuroff.data.dataset import hold_out
from neuroff.data.pairing import (
    LabelEmbedding,
    hard_wrong_labels,
    make_label_embedding,
    wrong_labels,
)
from neuroff.engine.checkpoint import FORMAT_V1, load_checkpoint, resolve_checkpoint, save_checkpoint
from neuroff.engine.options import RESUMABLE, FFConfig, groups_read_by
from neuroff.engine.readout import linear_probe
from neuroff.errors import NeuroffError
from neuroff.core.goodness import layers_score
from neuroff.families.base import (
    Batch,
    BuildContext,
    Consumes,
    LayerScoredModel,
    LRSchedule,
    Model,
    Readout,
    Rule,
)
from neuroff.families.registry import get_family
from neuroff.io import out_dir_problem, run_lock, write_json
from neuroff.options import flag

EVAL_SEED_OFFSET = 1_000_003
INIT_SEED_OFFSET = 2_000_003  # data-dependent initialisation draws its own spikes
ACTIVITY_SAMPLES = 256  # training samples whose activity is measured after every epoch
SILENT_BELOW = 0.01  # a layer with fewer active neurons than this is reported (and refused by the exporters)


@dataclass
class Trained:
    """A model with everything needed to use, evaluate, resume or export it."""

    config: FFConfig
    model: Model
    embedding: LabelEmbedding
    rule: Rule
    generator: torch.Generator
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def build(config: FFConfig, n_inputs: int, n_classes: int, generator: torch.Generator) -> tuple[Model, Rule]:
    """The family's model and rule for a validated config (``Family.build``)."""
    ctx = BuildContext(n_inputs, n_classes, generator, LRSchedule(config.lr_decay))
    return config.family.build(config, ctx)


def create(config: FFConfig, dataset: Dataset) -> Trained:
    """A fresh, seeded model for ``dataset``."""
    config.validate()
    generator = torch.Generator().manual_seed(config.seed)
    embedding = make_label_embedding(config.embedding, dataset.n_classes, config.code_bits, config.code_p, config.seed)
    if config.embedding == "onehot" and dataset.n_features < dataset.n_classes:
        raise NeuroffError(f"onehot embedding needs at least {dataset.n_classes} input features")
    n_inputs = dataset.n_features + embedding.extra_features
    problem = memory_problem(config, n_inputs)
    if problem:
        raise NeuroffError(problem)
    try:
        model, rule = build(config, n_inputs, dataset.n_classes, generator)
    except (MemoryError, RuntimeError) as err:  # the estimate missed (a conv spec, other processes)
        if isinstance(err, RuntimeError) and "alloc" not in str(err):
            raise
        raise NeuroffError(f"the network does not fit in memory ({str(err)[:120]}); use smaller --layers") from None
    if config.family.initialise is not None:  # on its own stream: the training stream stays as it was
        n = min(ACTIVITY_SAMPLES, len(dataset.x_train))
        x = embedding.embed(dataset.x_train[:n], dataset.y_train[:n])
        config.family.initialise(config, model, x, torch.Generator().manual_seed(config.seed + INIT_SEED_OFFSET))
    return Trained(config, model, embedding, rule, generator)


# bytes per synapse while training: spiking keeps float64 weights and eligibility plus an update
# of the same shape; analog keeps float32 weights, their gradient and Adam's two moments
BYTES_PER_SYNAPSE = {"spiking": 3 * 8, "analog": 4 * 4, "loihi": 3 * 8}


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_problem(config: FFConfig, n_inputs: int, available: int | None = None) -> str | None:
    """Why a dense network of ``config.layers`` on ``n_inputs`` features cannot be trained here:
    its weights, eligibility traces or optimiser state (``BYTES_PER_SYNAPSE``) exceed the memory
    available; None if it fits or cannot be estimated (a --blocks spec: its build catches it)."""
    if config.blocks is not None:
        return None
    sizes = [n_inputs, *config.layers]
    need = sum(a * b for a, b in zip(sizes, sizes[1:])) * BYTES_PER_SYNAPSE.get(config.mode or "analog", 8)
    available = available_memory() if available is None else available
    if available is None or need <= available:
        return None
    return (
        f"--layers {','.join(map(str, config.layers))} needs about {need / 1e9:.1f} GB for its weights and training state, "
        f"{available / 1e9:.1f} GB are available; use smaller --layers"
    )


def prepare_dataset(config: FFConfig, dataset: Dataset | None = None) -> Dataset:
    ds = dataset if dataset is not None else load_dataset(config.dataset, seed=config.seed)
    return ds.subset(config.n_train, config.n_test)


def split_dataset(config: FFConfig, dataset: Dataset | None = None) -> tuple[Dataset, Dataset | None]:
    """The data as ``train`` splits it: ``(train_part, val_part)``. With ``--validation N`` the net
    trains on the kept training samples (``train_part``, whose test split is the real test set) and
    ``val_part``'s test split is the N held-out training samples (drawn with the run's seed);
    without, ``val_part`` is None. Read-outs chosen after training rebuild the split here."""
    ds = prepare_dataset(config, dataset)
    if not config.validation:
        return ds, None
    return hold_out(ds, config.validation, config.seed)


def progress_bar(total: int, desc: str, progress: bool) -> tqdm:
    """A progress bar on stderr (rate and ETA), closed by its user; disabled unless asked."""
    return tqdm(total=total, unit="sample", desc=desc, disable=not progress, leave=False, file=sys.stderr)


@torch.no_grad()
def candidate_scores(
    trained: Trained, x: torch.Tensor, batch: int = 250, seed: int | None = None, progress: bool = False, by_layer: bool = False
) -> torch.Tensor:
    """[N, C] score of every candidate label (all candidates of a sample run as one batch), the
    mean over the run's ``--eval-repeats`` presentations; with ``by_layer`` (a
    ``LayerScoredModel``), [N, C, L] each layer's score."""
    repeats = trained.config.eval_repeats
    return scores_by_repeats(trained, x, [repeats], batch, seed, progress, by_layer)[repeats]


@torch.no_grad()
def scores_by_repeats(
    trained: Trained, x: torch.Tensor, repeats: list[int], batch: int = 250, seed: int | None = None,
    progress: bool = False, by_layer: bool = False,
) -> dict[int, torch.Tensor]:
    """``candidate_scores`` after R presentations per candidate, for each R in ``repeats``: per
    batch, max(repeats) presentations are drawn in turn and the running mean is kept at each R, so
    every R is read on the same (nested) spikes at the cost of the largest alone. A single R is
    exactly ``candidate_scores`` with ``--eval-repeats R``; for several, batches past the first see
    other draws than that (the generator runs on through max(repeats) per batch)."""
    if not repeats or min(repeats) < 1:
        raise NeuroffError(f"presentations per candidate {repeats} must each be >= 1; give e.g. 1,3,10")
    g = torch.Generator().manual_seed(trained.config.seed + EVAL_SEED_OFFSET if seed is None else seed)
    score = trained.model.layer_scores if by_layer else trained.model.candidate_scores
    # the direct input draws nothing: every presentation is the first one, so it is scored once
    presentations = 1 if trained.config.encoder == "direct" else max(repeats)
    kept: dict[int, list[torch.Tensor]] = {r: [] for r in repeats}
    with progress_bar(len(x), "scoring", progress) as bar:
        for i in range(0, len(x), batch):
            xb = trained.embedding.embed_all(x[i : i + batch])
            total = 0
            for r in range(1, presentations + 1):
                total = total + score(xb, g)
                if r in kept:
                    kept[r].append(total / r)
            for r in repeats:
                if r > presentations:
                    kept[r].append(total / presentations)
            bar.update(len(xb))
    empty = torch.zeros(0, trained.embedding.n_classes)
    return {r: torch.cat(parts) if parts else empty for r, parts in kept.items()}


def check_features(trained: Trained, x: torch.Tensor) -> None:
    if x.shape[1] + trained.embedding.extra_features != trained.model.sizes[0]:
        raise NeuroffError(
            f"the model expects {trained.model.sizes[0] - trained.embedding.extra_features} input features, "
            f"the data has {x.shape[1]}; evaluate on the dataset it was trained on"
        )


def evaluate(trained: Trained, x: torch.Tensor, y: torch.Tensor, progress: bool = False) -> float:
    """Accuracy of the argmax over candidate scores (goodness, or a classifier's logits)."""
    check_features(trained, x)
    if len(x) == 0:
        return float("nan")
    return float((candidate_scores(trained, x, progress=progress).argmax(1) == y).float().mean())


def choose_eval_repeats(by_repeats: dict[int, float]) -> int:
    """The presentations per candidate a read-out screen (``accuracy_by_eval_repeats`` on a
    validation split) chooses: the most accurate, ties going to the fewest (the cheaper read-out)."""
    return max(by_repeats, key=lambda r: (by_repeats[r], -r))


def accuracy_by_eval_repeats(trained: Trained, x: torch.Tensor, y: torch.Tensor, repeats: list[int]) -> dict[int, float]:
    """Read-out accuracy with each number of presentations per candidate in ``repeats``
    (``scores_by_repeats``: every R on the same nested spikes): the choice ``--eval-repeats``
    makes, measured on the samples given (a validation split to choose it; the test set then once,
    with the chosen R, through ``evaluate``). Goodness read-outs only: a classifier's logits and a
    probe do not average presentations."""
    if trained.config.family.readout is not Readout.GOODNESS:
        raise NeuroffError(f"--eval-repeats averages goodness read-outs; the {trained.config.rule} family scores its own way")
    check_features(trained, x)
    if len(x) == 0:
        return {r: float("nan") for r in repeats}
    scores = scores_by_repeats(trained, x, repeats)
    return {r: float((s.argmax(1) == y).float().mean()) for r, s in scores.items()}


def accuracy_by_score_layers(
    trained: Trained, x: torch.Tensor, y: torch.Tensor, sets: list[tuple[int, ...]] | None = None
) -> dict[str, float]:
    """Goodness read-out accuracy for every non-empty set of layers summed ("0", "1,2", ...), or
    for the ``sets`` given: the choice `--score-layers` makes, measured on the samples given (a
    validation split to choose it; the test set then once, with ``sets=[chosen]``). One
    evaluation of every layer's score (``LayerScoredModel.layer_scores``, with the run's
    ``--eval-repeats``), summed per set: the sets are compared on the same spikes."""
    model = trained.model
    # the readout too: a spiking SCFF net inherits layer_scores from the FF stack but has no head (it is probed)
    if trained.config.family.readout is not Readout.GOODNESS or not isinstance(model, LayerScoredModel):
        raise NeuroffError(f"--score-layers chooses among goodness-scored layers; the {trained.config.rule} family scores its own way")
    check_features(trained, x)
    if sets is None:
        layers = range(model.n_layers)
        sets = [c for k in range(1, model.n_layers + 1) for c in itertools.combinations(layers, k)]
    if len(x) == 0:
        return {",".join(map(str, chosen)): float("nan") for chosen in sets}
    p = candidate_scores(trained, x, by_layer=True)  # [N, C, L]
    return {",".join(map(str, chosen)): float((layers_score(p, list(chosen)).argmax(1) == y).float().mean()) for chosen in sets}


@torch.no_grad()
def readout_features(trained: Trained, x: torch.Tensor, batch: int = 500, progress: bool = False, desc: str = "features") -> torch.Tensor:
    """All layers' latents, concatenated, of the samples with a neutral label embedded
    (spiking: spike counts; analog: ReLU activity): the input of the linear read-out."""
    g = torch.Generator().manual_seed(trained.config.seed + EVAL_SEED_OFFSET)
    rows = []
    with progress_bar(len(x), desc, progress) as bar:
        for i in range(0, len(x), batch):
            latents = trained.model.latents(trained.embedding.embed_neutral(x[i : i + batch]), g)
            rows.append(torch.cat([z.float() for z in next(iter(latents.values()))], dim=1))
            bar.update(len(rows[-1]))
    return torch.cat(rows)


def readout_accuracy(trained: Trained, ds: Dataset, progress: bool = False) -> float:
    """Test accuracy of a linear (logistic-regression) read-out trained on the training latents."""
    check_features(trained, ds.x_test)
    f_train = readout_features(trained, ds.x_train, progress=progress, desc="training features")
    f_test = readout_features(trained, ds.x_test, progress=progress, desc="test features")
    c = trained.config
    return linear_probe(f_train, ds.y_train, f_test, ds.y_test, seed=c.seed, solver=c.probe, dropout=c.probe_dropout, epochs=c.probe_epochs)


def test_accuracy(trained: Trained, ds: Dataset, progress: bool = False) -> float:
    """The accuracy a run reports, by its family's read-out (``Family.test_metric`` names it):
    goodness-argmax or classifier logits (``evaluate``), or, for a label-free family (SCFF), the
    linear probe on its features (``readout_accuracy``), since it has no label to score."""
    if trained.config.family.readout is Readout.PROBE:
        return readout_accuracy(trained, ds, progress)
    return evaluate(trained, ds.x_test, ds.y_test, progress)


@torch.no_grad()
def layer_activity(trained: Trained, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Per layer, the mean fraction of neurons active on the samples x (their true label embedded
    where the family reads labels from the input): spiking, spiked at least once in the
    presentation; analog, output > 0."""
    g = torch.Generator().manual_seed(trained.config.seed + EVAL_SEED_OFFSET)
    inputs = trained.embedding.embed(x, y) if trained.config.family.consumes is Consumes.PAIRS else x
    latents = next(iter(trained.model.latents(inputs, g).values()))
    return [float((z > 0).float().mean()) for z in latents]


def warn_silent(activity: list[float], warned: set[int]) -> None:
    """One line on stderr, once per run, for each layer that falls below ``SILENT_BELOW``."""
    for i, a in enumerate(activity):
        if a < SILENT_BELOW and i not in warned:
            warned.add(i)
            print(
                f"neuroff: warning: layer {i} is almost silent ({a:.2%} of its neurons active); "
                "lower --threshold, raise --init-scale or --max-rate",
                file=sys.stderr,
            )


# the documented bound on every weight: the models' weights start near 1/sqrt(fan_in) and stay
# within a few units when training works; beyond 1e6 training has diverged even while the float64
# weights are still finite (--lr 1e30 reaches 1e30 with accuracy at chance)
WEIGHT_BOUND = 1e6
KEPT = "the checkpoint of the last completed epoch is kept"


def check_finite(trained: Trained) -> None:
    """Stop a diverged training: non-finite weights, or weights beyond ``WEIGHT_BOUND``. Called
    after every chunk, before the epoch's checkpoint is written, so the last good one stays."""
    for i, w in enumerate(trained.model.weights):
        if not torch.isfinite(w).all():
            raise NeuroffError(
                f"layer {i} weights became non-finite during training; lower the learning rate (--lr / --analog-lr); {KEPT}"
            )
        peak = float(w.detach().abs().max()) if w.numel() else 0.0
        if peak > WEIGHT_BOUND:
            raise NeuroffError(
                f"training diverged: layer {i} has a weight of magnitude {peak:.3g}, beyond the bound {WEIGHT_BOUND:g}; "
                f"lower the learning rate (--lr / --analog-lr / --ch-eta); {KEPT}"
            )


def make_batch(trained: Trained, x: torch.Tensor, y: torch.Tensor, n_classes: int, epoch: int = 0) -> Batch:
    """A chunk as the family consumes it; wrong labels are drawn only for families fed pairs:
    uniformly, or (``--negatives hard``, from the second epoch on) by the network's own scores."""
    c = trained.config
    consumes = c.family.consumes
    if consumes is Consumes.PAIRS:
        if c.negatives == "hard" and epoch >= 1:
            scores = candidate_scores(trained, x)
            y_neg = hard_wrong_labels(y, scores, c.negatives_sharpness, trained.generator)
        else:
            y_neg = wrong_labels(y, n_classes, trained.generator)
        return Batch(trained.embedding.embed(x, y), trained.generator, x_neg=trained.embedding.embed(x, y_neg))
    if consumes is Consumes.LABELLED_SAMPLES:
        return Batch(x, trained.generator, labels=y)
    return Batch(x, trained.generator)


def apply_resume_request(stored: FFConfig, request: FFConfig, given: set[str]) -> None:
    """Set on ``stored`` (a checkpoint's config) the options of ``request`` named in ``given``;
    only options that do not change the model (``RESUMABLE``) may differ from the checkpoint's."""
    changed = [n for n in sorted(given) if getattr(request, n) != getattr(stored, n)]
    fixed = [n for n in changed if n not in RESUMABLE]
    if fixed:
        name = fixed[0]
        raise NeuroffError(
            f"{flag(name)} cannot change on --resume (the checkpoint has {getattr(stored, name)!r}, asked "
            f"{getattr(request, name)!r}); a resumed run may change only {', '.join(flag(n) for n in RESUMABLE)}"
        )
    for name in changed:
        setattr(stored, name, getattr(request, name))


def train(
    config: FFConfig,
    out_dir: str | Path | None = None,
    dataset: Dataset | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    on_epoch: Callable[[Trained], bool] | None = None,
    given: set[str] | None = None,
    test_at_end: bool = True,
    on_start: Callable[[], None] | None = None,
) -> Trained:
    """Train for ``config.epochs`` epochs; writes ``model.pt`` and ``metrics.json`` to ``out_dir``
    after every epoch. With ``resume``, continue that checkpoint up to ``config.epochs``: the
    options in ``given`` (default: those that differ from their defaults) are applied, and any
    that would change the model is refused. ``on_epoch``, if given, is called after every epoch
    (its record is ``trained.history[-1]``) and stops training by returning True (early
    stopping; see ``neuroff.studies.robustness``). With ``--validation``, ``test_at_end=False``
    leaves the test set unread (a sweep reads it once, for the configuration it selects).
    ``on_start``, if given, is called once every up-front check (options, data, the family's
    build-time refusals) has passed, just before the run directory is made."""
    if out_dir is not None:
        problem = out_dir_problem(out_dir)
        if problem:
            raise NeuroffError(problem)
    if resume is not None:
        trained = load_trained(resume, request=config, given=config.explicit() if given is None else given)
        config = trained.config
        if config.epochs < trained.epoch:
            raise NeuroffError(
                f"--epochs {config.epochs} is below the {trained.epoch} epochs {resume} has trained; "
                f"pass --epochs {trained.epoch + 1} or more to continue it"
            )
    else:
        config.validate(given or frozenset())
    # with --validation the model trains on the kept samples, reports the held-out ones every
    # epoch, and meets the test set once, after the last epoch
    ds, val_ds = split_dataset(config, dataset)
    check_shiftable(ds.image_shape, config.augment_shift, ds.name)
    if resume is None:
        trained = create(config, ds)
    if on_start is not None:
        on_start()
    # the lock is taken (and the directory made) only now that every up-front check has passed
    with run_lock(out_dir) if out_dir is not None else nullcontext():
        return run_epochs(trained, ds, val_ds, out_dir, progress, on_epoch, test_at_end)


def run_epochs(
    trained: Trained, ds: Dataset, val_ds: Dataset | None, out_dir: str | Path | None, progress: bool,
    on_epoch: Callable[[Trained], bool] | None, test_at_end: bool = True,
) -> Trained:
    """The epochs of ``train`` from ``trained.epoch`` to ``config.epochs``: ``ds`` trains and
    tests, ``val_ds`` (if any) is reported every epoch; checkpoint and metrics saved after each."""
    config = trained.config
    family = config.family
    n, c = len(ds.x_train), ds.n_classes
    probe_x, probe_y = ds.x_train[:ACTIVITY_SAMPLES], ds.y_train[:ACTIVITY_SAMPLES]
    warned: set[int] = set()
    for epoch in range(trained.epoch, config.epochs):
        start = time.perf_counter()
        trained.rule.on_epoch_start(epoch)
        order = torch.randperm(n, generator=trained.generator)
        samples = correct = 0.0
        bar = tqdm(total=n, unit="sample", desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for lo in range(0, n, config.chunk):
            idx = order[lo : lo + config.chunk]
            x = shift_flat_images(ds.x_train[idx], ds.image_shape, config.augment_shift, trained.generator)
            stats = trained.rule.step(trained.model, make_batch(trained, x, ds.y_train[idx], c, epoch))
            check_finite(trained)
            samples += stats.samples
            correct += stats.correct
            bar.update(len(idx))
            bar.set_postfix_str(f"{family.train_metric} {correct / max(samples, 1):.3f}")
        bar.close()
        seconds = time.perf_counter() - start
        last = epoch + 1 == config.epochs
        due = (epoch + 1) % config.eval_every == 0 or last
        if val_ds is None:
            test_acc = test_accuracy(trained, ds) if due else float("nan")
        else:
            val_acc = test_accuracy(trained, val_ds) if due else float("nan")
            test_acc = test_accuracy(trained, ds) if last and test_at_end else float("nan")
        record = {
            "epoch": epoch + 1,
            "train_seconds": round(seconds, 3),
            "samples_per_s": round(n / seconds, 1) if seconds > 0 else math.inf,
            "train_accuracy": correct / max(samples, 1),
            "train_metric": family.train_metric,
            "test_accuracy": test_acc,
            "test_metric": family.test_metric,
            "n_test": len(ds.x_test),
        }
        if val_ds is not None:
            record |= {"validation_accuracy": val_acc, "n_validation": len(val_ds.x_test)}
        record["layer_activity"] = layer_activity(trained, probe_x, probe_y)
        warn_silent(record["layer_activity"], warned)
        trained.history.append(record)
        trained.epoch = epoch + 1
        if progress:
            held = f", validation {val_acc:.4f} ({len(val_ds.x_test)} samples)" if val_ds is not None else ""
            tested = f", test {family.test_metric} {test_acc:.4f} ({len(ds.x_test)} samples)" if test_acc == test_acc else ""
            print(
                f"epoch {epoch + 1}: {record['samples_per_s']:.0f} samples/s, train {family.train_metric} "
                f"{record['train_accuracy']:.4f}{held}{tested}"
            )
        if out_dir is not None:
            save_trained(trained, Path(out_dir) / "model.pt")
            write_json(Path(out_dir) / "metrics.json", {"config": config.to_dict(), "epochs": trained.history})
        if on_epoch is not None and on_epoch(trained):
            break
    return trained


def format_info(info: dict[str, Any]) -> str:
    """A few lines on what a checkpoint holds (``checkpoint_info``): family, sizes, parameters,
    epochs, last and best test accuracy with the number of samples, dataset, version."""
    config, metrics = info.get("config") or {}, info.get("metrics") or []
    tested = [r for r in metrics if isinstance(r.get("test_accuracy"), float) and r["test_accuracy"] == r["test_accuracy"]]
    lines = [
        f"{info['checkpoint']}: {info.get('family')} ({info.get('mode')}), sizes {'-'.join(map(str, info.get('sizes') or []))}, "
        f"{info['parameters']:,} parameters",
        f"trained {info.get('epoch')} of {config.get('epochs')} epochs on {config.get('dataset')} "
        f"({config.get('n_train') or 'all'} training samples), seed {config.get('seed')}",
    ]
    if tested:
        last, best = tested[-1], max(tested, key=lambda r: r["test_accuracy"])
        metric = last.get("test_metric", "accuracy")
        lines.append(
            f"test {metric}: last {last['test_accuracy']:.4f} (epoch {last['epoch']}), best {best['test_accuracy']:.4f} "
            f"(epoch {best['epoch']}), on {last.get('n_test') or config.get('n_test') or '?'} samples"
        )
    else:
        lines.append("no test accuracy recorded")
    lines.append(f"written by neuroff {info.get('neuroff_version')} ({info.get('format')}); this is neuroff {info['current_version']}")
    return "\n".join(lines)


def save_trained(trained: Trained, path: str | Path) -> Path:
    return save_checkpoint(
        path,
        {
            "config": trained.config.to_dict(),
            "family": trained.config.rule,
            "mode": trained.config.mode,
            "sizes": list(trained.model.sizes),
            "state_dict": trained.model.state_dict(),
            "label_embedding": {"kind": trained.embedding.kind, "codes": trained.embedding.codes},
            "rule_state": trained.rule.state_dict(),
            "generator_state": trained.generator.get_state(),
            "epoch": trained.epoch,
            "metrics": trained.history,
        },
    )


def convert_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A format-v1 checkpoint as v2: unresolved run options take the family's defaults (in
    ``validate``; options its family never read are reset by ``FFConfig.reset_unread``, as for
    every checkpoint), and the metrics' ``train_pair_accuracy`` becomes ``train_accuracy`` with
    its metric named."""
    config = dict(data["config"])
    family = get_family(config.get("rule", "ff"))
    metrics = []
    for record in data.get("metrics", []):
        record = dict(record)
        if "train_pair_accuracy" in record:
            record["train_accuracy"] = record.pop("train_pair_accuracy")
            record["train_metric"] = family.train_metric
        metrics.append(record)
    return {**data, "config": config, "metrics": metrics, "family": family.name}


def load_trained(
    path: str | Path, epochs: int | None = None, request: FFConfig | None = None, given: set[str] | frozenset[str] = frozenset()
) -> Trained:
    """Rebuild a Trained from a checkpoint (format v2, or v1 through ``convert_v1``); ``epochs``
    raises the target epoch count, ``request`` and ``given`` apply a resumed run's options
    (``apply_resume_request``) before the rule and its schedule are built."""
    data = load_checkpoint(path)
    try:
        if data["format"] == FORMAT_V1:
            data = convert_v1(data)
        config = FFConfig.from_stored(dict(data["config"])).reset_unread()
        if epochs is not None:
            config.epochs = epochs
        if request is not None:
            apply_resume_request(config, request, set(given))
        config.validate()
        emb = data["label_embedding"]
        embedding = LabelEmbedding(emb["kind"], emb["codes"].shape[0], emb["codes"])
        generator = torch.Generator()
        model, rule = build(config, int(data["sizes"][0]), int(emb["codes"].shape[0]), generator)
        model.load_state_dict(data["state_dict"])
        generator.set_state(data["generator_state"])
        if data.get("rule_state"):
            rule.load_state_dict(data["rule_state"])
        epoch, history = int(data["epoch"]), list(data["metrics"])
    except NeuroffError:
        raise
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError, IndexError) as err:
        raise NeuroffError(f"checkpoint {path} is incomplete or from another version ({type(err).__name__}: {str(err)[:100]})") from None
    return Trained(config, model, embedding, rule, generator, epoch, history)


def parameter_count(state_dict: dict[str, Any]) -> int:
    """Learned weights and biases of a model's state (not eligibility traces or pending updates)."""
    return sum(int(v.numel()) for k, v in state_dict.items() if k.rsplit(".", 1)[-1].startswith(("weight", "bias")))


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    data = load_checkpoint(path)
    return {
        "checkpoint": str(resolve_checkpoint(path)),
        "parameters": parameter_count(data.get("state_dict") or {}),
        "format": data.get("format"),
        "neuroff_version": data.get("neuroff_version"),
        "current_version": __version__,
        "family": data.get("family", (data.get("config") or {}).get("rule")),
        "mode": data.get("mode"),
        "sizes": data.get("sizes"),
        "epoch": data.get("epoch"),
        "config": data.get("config"),
        "metrics": data.get("metrics"),
    }
