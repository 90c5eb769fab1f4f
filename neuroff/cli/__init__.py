"""Command line: a thin shell over ``neuroff.engine.training``. Every error a user can cause is a
NeuroffError, printed on one line (exit status 2)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import fields, replace
from typing import Any, Callable

from neuroff import __version__
from neuroff.cli.options import add_option_groups, config_from_args
from neuroff.engine.options import FFConfig, value_problem
from neuroff.errors import NeuroffError
from neuroff.io import out_dir_problem
from neuroff.presets import preset_names


class Parser(argparse.ArgumentParser):
    """argparse with neuroff's one-line errors: ``neuroff: error: <problem>; <fix>``, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"neuroff: error: {message}; see `{self.prog} --help`", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="neuroff", description="Spiking and analog Forward-Forward learning with local rules.")
    parser.add_argument("--version", action="version", version=f"neuroff {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = sub.add_parser(
        "train", help="train a network with a local rule family",
        description="Train a network with one rule family (--rule). Each option belongs to one group; "
        "a family refuses the options of groups it does not read. Unset options take the family's defaults.",
    )
    train.add_argument("--preset", default=None, metavar="NAME",
                       help=f"a named configuration ({', '.join(preset_names())}); --config and flags override it")
    train.add_argument("--config", help="JSON file of options (command-line options override it)")
    train.add_argument("--out", default=None,
                       help="directory for model.pt and metrics.json (default: a new runs/<rule>-<dataset>-<time>)")
    train.add_argument("--resume", default=None, help="continue training this checkpoint up to --epochs; "
                       "only epochs, schedule and evaluation options may change")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=int, default=1, help="torch/BLAS/OpenMP threads (default 1; 0: library defaults)")
    add_option_groups(train)

    ev = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    ev.add_argument("checkpoint", help="model.pt, or a run directory holding one")
    ev.add_argument("--dataset", default=None, help="defaults to the dataset the model was trained on")
    tests = ev.add_mutually_exclusive_group()
    tests.add_argument("--n-test", type=int, default=None, help="the first N test samples (default: the run's own --n-test)")
    tests.add_argument("--full-test", action="store_true", help="the whole test split, whatever --n-test the run used")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.add_argument("--threads", type=int, default=1, help="torch/BLAS/OpenMP threads (default 1; 0: library defaults)")
    ev.add_argument("--eval-repeats", type=int, default=None, metavar="R",
                    help="spiking: presentations averaged per candidate (spike noise; default: the run's own)")
    ev.add_argument("--readout", choices=("goodness", "linear"), default="goodness",
                    help="goodness: argmax of P over candidate labels; linear: also a logistic read-out on the latents")

    info = sub.add_parser("info", help="what a checkpoint holds")
    info.add_argument("checkpoint", help="model.pt, or a run directory holding one")
    info.add_argument("--json", action="store_true", help="everything it holds (config, every epoch's metrics) as JSON")
    from neuroff.export.commands import add_parsers as add_export_parsers

    add_export_parsers(sub)  # export --target loihi|nir, import (NIR), run-lava
    from neuroff.cli.sweep import add_parser as add_sweep_parser

    add_sweep_parser(sub)  # sweep (Ray Tune)

    rob = sub.add_parser("robustness", help="IntFF vs FF vs backprop trained on a corrupted training set")
    rob.add_argument("--dataset", default=None, help="default mnist5k")
    rob.add_argument("--blocks", default=None, help="IntFF blocks; the other methods use the same layers")
    rob.add_argument("--methods", type=lambda t: [v.strip() for v in t.split(",") if v.strip()], default=None,
                     help="comma list of intff, ff, ff-softplus, bp (default all)")
    rob.add_argument("--clean", action="store_true", help="train on the clean training split instead")
    for name in ("epochs", "patience", "batch-size", "n-train", "n-test", "seed"):
        rob.add_argument(f"--{name}", type=int, default=None, help="--patience 0: no early stopping" if name == "patience" else None)
    for name in ("noise-std", "lr", "bp-lr", "threshold", "val-fraction"):
        rob.add_argument(f"--{name}", type=float, default=None)
    rob.add_argument("--head", default=None, choices=("sigma", "sym"), help="head of the core FF rule")
    rob.add_argument("--normalize-first", action="store_true",
                     help="IntFF methods also length-normalise block 0's input, as the paper normalises every block's input")
    rob.add_argument("--linear-readout", action="store_true",
                     help="also score the FF methods by a logistic read-out on their latents (the paper's linear variant)")
    rob.add_argument("--embedding", default=None, choices=("code", "onehot"))
    rob.add_argument("--out", default=None, help="directory for robustness.json and robustness.png")
    rob.add_argument("--threads", type=int, default=1, help="torch/BLAS/OpenMP threads (default 1; 0: library defaults)")
    rob.add_argument("--quiet", action="store_true", help="no progress bars")

    cmp = sub.add_parser("compare", help="compare the latent distributions of two or more checkpoints")
    cmp.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="model.pt files (or their directories)")
    cmp.add_argument("--dataset", default=None, help="defaults to the dataset the first model was trained on")
    cmp.add_argument("--out", required=True, help="directory for report.json, report.md, latents.npz and the figures")
    cmp.add_argument("--n-train", type=int, default=2000, help="training samples for the linear probe (default 2000)")
    cmp.add_argument("--n-test", type=int, default=None, help="test samples for every metric (default: all)")
    cmp.add_argument("--n-embed", type=int, default=1000, help="samples in the embedding plots (default 1000)")
    cmp.add_argument("--seed", type=int, default=0, help="seeds spike encoding, subsampling, t-SNE/UMAP, bootstrap and permutations")
    cmp.add_argument("--threads", type=int, default=1, help="torch/BLAS/OpenMP threads (default 1; 0: library defaults)")
    cmp.add_argument("--label", choices=("neutral", "label-conditioned"), default="neutral",
                     help="neutral (default): the average class code, no class information in the input; "
                     "label-conditioned: each sample's true label embedded, as in training (separability then also measures the code)")
    cmp.add_argument("--reference", default=None, metavar="CHECKPOINT",
                     help="a second seed of one of the models: the same-learner reference for CKA, neuron matching and distances")
    cmp.add_argument("--no-controls", action="store_true", help="skip the untrained twins (same configuration and seed, 0 epochs)")
    cmp.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples and permutations per statistic (default 1000; 0: none)")
    cmp.add_argument("--embed", type=lambda t: [v.strip() for v in t.split(",") if v.strip()], default=["pca", "tsne"],
                     help="comma list of pca, tsne, umap (umap needs umap-learn; default pca,tsne)")
    cmp.add_argument("--format", choices=("png", "svg", "pdf"), default="png", help="figure format (default png)")
    cmp.add_argument("--quiet", action="store_true", help="no progress bars")

    cont = sub.add_parser("continual", help="Split-dataset continual learning (class pairs in sequence, single head) vs backprop")
    cont.add_argument("--preset", default=None, metavar="NAME",
                      help=f"a named configuration ({', '.join(preset_names())}), e.g. thesis-split; --config and flags override it")
    cont.add_argument("--config", help="JSON file of options (command-line options override it)")
    cont.add_argument("--out", required=True, help="directory for continual.json, continual.png and the per-task runs")
    cont.add_argument("--no-backprop", action="store_true", help="skip the backprop reference")
    cont.add_argument("--bp-lr", type=float, default=1e-4,
                      help="Adam learning rate of the backprop reference (1e-3 kills a 4x2000 net within a few steps of task 2)")
    cont.add_argument("--bp-activation", choices=("relu", "tanh"),
                      help="activation of the backprop reference (default: the rule's, --ch-activation for contrastive-hebbian, else relu)")
    cont.add_argument("--bp-dropout", type=float, default=None,
                      help="dropout of the backprop reference (default: --ch-dropout for contrastive-hebbian, else 0)")
    cont.add_argument("--joint", action="store_true",
                      help="also train the rule and backprop on all tasks at once (the joint-training upper bound)")
    cont.add_argument("--threads", type=int, default=1, help="torch/BLAS/OpenMP threads (default 1; 0: library defaults)")
    cont.add_argument("--quiet", action="store_true", help="no progress bars")
    add_option_groups(cont)  # --epochs = epochs per task
    return parser


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from neuroff.threads import limited_threads

    threads = getattr(args, "threads", None)
    with limited_threads(threads or None):
        return _dispatch(args)


def default_run_dir(config: Any, resume: str | None) -> str:
    """A new directory under runs/ named by rule, dataset and start time (never an existing one)."""
    import re
    import time
    from pathlib import Path

    from neuroff.engine.checkpoint import load_checkpoint

    stored = load_checkpoint(resume)["config"] if resume else {}
    rule, dataset = stored.get("rule", config.rule), stored.get("dataset", config.dataset)
    stem = f"runs/{rule}-{re.sub(r'[^A-Za-z0-9_.]+', '_', dataset).strip('_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = Path(stem), 1
    while path.exists():
        k += 1
        path = Path(f"{stem}-{k}")
    return str(path)


def resume_target_reached(resume: str, config: Any, given: set[str]) -> str | None:
    """'nothing to do' when a resumed run already has the --epochs asked (a finished run resumed
    again is not a mistake); None when there are epochs to train. Refuses, as training would, an
    option that cannot change on --resume."""
    from neuroff import engine

    stored = engine.load_trained(resume, request=config, given=given)
    if stored.config.epochs == stored.epoch:
        done = stored.epoch
        return f"nothing to do: {resume} has already trained {done} epochs; pass --epochs {done + 1} or more to continue it"
    return None


def _dispatch(args: argparse.Namespace) -> int:
    from neuroff import engine  # deferred: argparse errors and --help stay instant
    from neuroff.data import load_dataset
    from neuroff.families.base import Readout

    out_dir = getattr(args, "out", None) if args.command in ("train", "compare", "continual", "robustness") else None
    problem = out_dir_problem(out_dir) if out_dir is not None else None
    if problem:  # before any work: '' would write into the working directory, a file cannot hold a run
        raise NeuroffError(problem)
    if args.command == "train":
        config, given = config_from_args(args)
        if args.resume is None:
            config.validate(given)  # refuse bad options before naming (or making) a run directory
        else:
            done = resume_target_reached(args.resume, config, given)
            if done:
                print(f"neuroff: {done}", file=sys.stderr)
                return 0
        out = args.out if args.out is not None else default_run_dir(config, args.resume)
        announce = None
        if args.out is None and not args.quiet:  # named once every check has passed: a refused run makes no directory
            announce = lambda: print(f"neuroff: the run is saved to {out}")  # noqa: E731
        trained = engine.train(config, out_dir=out, resume=args.resume, progress=not args.quiet, given=given,
                               on_start=announce)  # fmt: skip
        last = trained.history[-1] if trained.history else {}
        print(json.dumps({"epochs": trained.epoch, "test_accuracy": last.get("test_accuracy"),
                          "test_metric": trained.config.family.test_metric, "out": str(out)}))
    elif args.command == "evaluate":
        repeats_field = next(f for f in fields(FFConfig) if f.name == "eval_repeats")
        if (problem := value_problem(repeats_field, args.eval_repeats)) is not None:  # before loading anything
            raise NeuroffError(problem)
        trained = engine.load_trained(args.checkpoint)
        if args.eval_repeats is not None:  # a read-out option, refused as train refuses it for a family without it
            config = replace(trained.config, eval_repeats=args.eval_repeats).validate(given={"eval_repeats"})
            trained = replace(trained, config=config)
        own = args.dataset is None or args.dataset == trained.config.dataset
        ds = load_dataset(args.dataset or trained.config.dataset, seed=trained.config.seed)
        # the run's own test subset by default, so the number matches what training reported; the
        # probe of a label-free model is fitted on the training samples the model was trained on
        n_test = args.n_test if args.n_test is not None or args.full_test or not own else trained.config.n_test
        ds = ds.subset(trained.config.n_train, n_test)
        family, progress = trained.config.family, not args.quiet
        result = {"checkpoint": args.checkpoint, "dataset": ds.name, "n_test": len(ds.x_test), "eval_repeats": trained.config.eval_repeats,
                  "test_accuracy": engine.test_accuracy(trained, ds, progress), "test_metric": family.test_metric}
        if args.readout == "linear":
            # a label-free model's test accuracy already is this read-out: do not train it twice
            probed = family.readout is Readout.PROBE
            result["linear_readout_accuracy"] = result["test_accuracy"] if probed else engine.readout_accuracy(trained, ds, progress)
        print(json.dumps(result))
    elif args.command == "info":
        info = engine.checkpoint_info(args.checkpoint)
        print(json.dumps(info, indent=2) if args.json else engine.format_info(info))
    elif args.command == "sweep":
        from neuroff.cli.sweep import sweep_command

        sweep_command(args)
    elif args.command in ("export", "run-lava", "import"):
        from neuroff.export.commands import export_command, import_command, run_lava_command

        {"export": export_command, "run-lava": run_lava_command, "import": import_command}[args.command](args)
    elif args.command == "robustness":
        from neuroff.studies.robustness import StudySettings, format_table, run_study

        values = {f.name: getattr(args, f.name) for f in fields(StudySettings) if getattr(args, f.name, None) is not None}
        values["corrupt"] = not args.clean
        if values.get("patience") == 0:
            values["patience"] = None
        print(format_table(run_study(StudySettings(**values), args.out, progress=not args.quiet)))
    elif args.command == "compare":
        from neuroff.latents import compare, markdown_report

        if len(args.checkpoints) < 2:
            raise NeuroffError("compare needs at least two checkpoints, e.g. neuroff compare A/model.pt B/model.pt --out DIR")
        report = compare(args.checkpoints, args.out, dataset=args.dataset, n_train=args.n_train, n_test=args.n_test,
                         n_embed=args.n_embed, seed=args.seed, progress=not args.quiet, threads=args.threads or None,
                         label=args.label, reference=args.reference, controls=not args.no_controls,
                         n_resamples=args.resamples, embeddings=tuple(args.embed), fmt=args.format)
        for note in report.get("notes", []):
            print(f"neuroff: note: {note}", file=sys.stderr)
        print(markdown_report(report), end="")
    elif args.command == "continual":
        from neuroff.studies.continual import format_report, run_continual

        config, given = config_from_args(args)
        report = run_continual(config.validate(given), args.out, backprop=not args.no_backprop, bp_lr=args.bp_lr,
                               bp_activation=args.bp_activation, progress=not args.quiet, bp_dropout=args.bp_dropout,
                               joint=args.joint)  # fmt: skip
        print(format_report(report), end="")
    return 0


DEBUG_VARIABLE = "NEUROFF_DEBUG"  # NEUROFF_DEBUG=1: print the traceback above the one-line error


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def one_line(text: str) -> str:
    """A message on one line (a library's multi-line message would break the one-line contract)."""
    return " ".join(str(text).split())


def error_line(err: BaseException) -> tuple[str, int]:
    """The one line printed for an exception, and the exit status: 2 for what the user or the
    machine can fix (NeuroffError, a file-system error, memory), 1 for anything else (a bug)."""
    hint = f"{DEBUG_VARIABLE}=1 shows the traceback"
    if isinstance(err, NeuroffError):
        return one_line(str(err)), 2
    if isinstance(err, OSError):
        where = f" ({err.filename})" if err.filename else ""
        return one_line(f"{err.strerror or err}{where}; check the path, its permissions and free disk space ({hint})"), 2
    if isinstance(err, MemoryError):
        return f"out of memory; use smaller --layers, --chunk or --batch-size ({hint})", 2
    return one_line(f"internal error ({type(err).__name__}: {str(err)[:200]}); please report it ({hint})"), 1


def guarded(body: Callable[[], int | None]) -> int:
    """Run a command's body under neuroff's error contract and return its exit status: an error is
    printed as one line ``neuroff: error: ...`` (``error_line``), an interrupt as one line with 130.
    The CLI and the bench scripts (``sys.exit(guarded(main))``) share it."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        print("neuroff: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 -- every error is one line; NEUROFF_DEBUG=1 adds the traceback
        if debugging():
            traceback.print_exc()
        line, code = error_line(err)
        print(f"neuroff: error: {line}", file=sys.stderr)
        return code


def main(argv: list[str] | None = None) -> None:
    sys.exit(guarded(lambda: run(argv)))


if __name__ == "__main__":
    main()
