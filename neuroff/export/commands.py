"""The `export`, `import` (NIR) and `run-lava` subcommands (parsers and handlers); heavy imports stay inside the
handlers so `neuroff --help` stays instant."""

from __future__ import annotations

import argparse
import json

TARGETS = ("loihi", "nir")
NIR_VARIANTS = ("generic", "snntorch", "norse")  # neuroff.export.nir.VARIANTS (kept here: --help imports no torch)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("export", help="export a spiking checkpoint for Loihi (lava-dl netx) or NIR")
    ex.add_argument("checkpoint", help="model.pt, or a run directory holding one")
    ex.add_argument("--target", required=True, choices=TARGETS)
    ex.add_argument("-o", "--out", required=True, help="model.net (loihi; a model.json sidecar is written next to it) or model.nir")
    ex.add_argument("--clip-percentile", type=float, default=100.0, help="loihi: scale weights so this percentile of |w| maps to 254")
    ex.add_argument("--check-samples", "--n-test", dest="check_samples", type=int, default=None, metavar="N",
                    help="loihi: test samples of the float vs fixed-point check (default: the run's own --n-test)")
    ex.add_argument("--quiet", action="store_true", help="no progress bar")
    ex.add_argument("--for", dest="variant", choices=NIR_VARIANTS, default=None,
                    help="nir: the reader the file is written for: generic (the NIR equation, r = tau/dt; snnTorch reads it "
                    "at dt 1e-4), snntorch, or norse (r = 1, input scale in the weights: plain norse.torch.from_nir runs it) "
                    "(default generic)")
    ex.add_argument("--dt", type=float, default=None,
                    help="nir: time step in seconds the taus are written for (default: the reader's, 1e-4 generic/snntorch, 1e-3 norse)")
    ex.add_argument("--allow-silent", action="store_true",
                    help="export even if a layer was silent (< 1 %% of its neurons active) at the end of training")

    im = sub.add_parser(
        "import", help="a NIR graph (from neuroff, snnTorch, Norse...) as a neuroff checkpoint",
        description="Read a NIR graph Input -> (Affine|Linear -> LIF|CubaLIF) x L -> Output and write RUN_DIR/model.pt, "
        "which evaluate, compare, export and train --resume accept. A graph written by neuroff restores its run's options "
        "and label codes; any other takes them from the options below: with --embedding code|onehot a spiking FF network, "
        "without one a plain feature network (--rule scff, read out by a linear probe). Layers, beta, threshold and reset "
        "come from the graph.",
    )
    im.add_argument("model", metavar="MODEL.nir", help="the NIR graph (HDF5, written by nir.write)")
    im.add_argument("-o", "--out", required=True, help="run directory for model.pt and metrics.json (created if missing)")
    im.add_argument("--dt", type=float, default=None,
                    help="time step in seconds the graph is stepped at (default: the dt the file records; "
                    "1e-4 for graphs from snnTorch, 1e-3 from Norse)")
    from neuroff.cli.options import add_option_groups

    add_option_groups(im)

    rl = sub.add_parser("run-lava", help="run an exported model.net on Intel Lava and compare it with the fixed-point reference")
    rl.add_argument("netx", nargs="?", help="model.net written by `neuroff export --target loihi` (not with --learn)")
    rl.add_argument("--learn", default=None, metavar="CKPT_OR_RUN_DIR",
                    help="on-chip learning instead: train --samples training samples from this ff checkpoint (--mode loihi or spiking), "
                    "or from a fresh network with 'fresh' (a directory of that name: ./fresh), in Lava's learning engine and in "
                    "neuroff's emulator, comparing weights and spikes after every presentation")
    rl.add_argument("--config", default=None,
                    help="with --learn fresh: JSON file of train options for the fresh network (as `neuroff train --config` reads; "
                    "default: ff --mode loihi's defaults on --dataset)")
    rl.add_argument("--dataset", default=None, help="defaults to the dataset the model was trained on")
    rl.add_argument("--samples", type=int, default=20,
                    help="test samples, each presented with every label (with --learn: training samples, positive and negative)")
    rl.add_argument("--checkpoint", default=None, help="float checkpoint for the float accuracy (default: the one exported)")
    rl.add_argument("--lava-venv", default=None, help="the Python 3.10 Lava venv (default .venv-lava, created if missing)")
    rl.add_argument("--chunk", type=int, default=None, help="presentations per Lava run call (progress reports; default 500; not with --learn)")
    rl.add_argument("--out", default=None, help="also write the report as JSON here")


def export_command(args: argparse.Namespace) -> None:
    from pathlib import Path

    from neuroff import engine
    from neuroff.data import load_dataset
    from neuroff.errors import NeuroffError

    example = "model.net" if args.target == "loihi" else "model.nir"
    if not args.out.strip() or Path(args.out).is_dir():  # before any work; a directory is never replaced
        raise NeuroffError(f"-o {args.out!r} must name the file to write, not a directory; e.g. -o {example}")
    if args.target == "loihi" and (args.variant is not None or args.dt is not None):
        raise NeuroffError(f"{'--for' if args.variant is not None else '--dt'} applies to --target nir only; drop it for loihi")
    trained = engine.load_trained(args.checkpoint)
    if args.target == "loihi":
        from neuroff.export.loihi import export_loihi, format_resources

        # the run's own test subset by default: the full test set can take minutes
        n = args.check_samples if args.check_samples is not None else trained.config.n_test
        ds = load_dataset(trained.config.dataset, seed=trained.config.seed).subset(None, n)
        net, side, meta = export_loihi(trained, args.out, ds.x_test, ds.y_test, args.clip_percentile, source=args.checkpoint,
                                       allow_silent=args.allow_silent, progress=not args.quiet)
        q = meta["quantisation"]
        print(format_resources(meta["resources"]))
        if trained.config.mode == "loihi":  # trained with on-chip learning: what learning on the chip costs
            from neuroff.export.lava_learn import format_learning_resources, learning_resources

            print(format_learning_resources(learning_resources(list(trained.model.sizes))))
        accuracy = (
            f"float accuracy {q['float_accuracy']:.4f}, fixed-point accuracy {q['fixed_accuracy']:.4f}"
            if q["float_accuracy"] is not None else "no goodness read-out (a label-free family)"
        )
        print(
            f"{accuracy} on {q['n_samples']} test samples; spike agreement {', '.join(f'{a:.5f}' for a in q['spike_agreement'])}; "
            f"clipped weights {', '.join(f'{c:.4%}' for c in q['clipped_fraction'])}"
        )
        print(json.dumps({"netx": str(net), "sidecar": str(side)}))
    else:
        import sys

        from neuroff.export.nir import dt_warning, export_nir, get_variant

        variant = get_variant(args.variant or "generic")
        dt = args.dt if args.dt is not None else variant.dt
        path = export_nir(trained, args.out, dt=dt, allow_silent=args.allow_silent, variant=variant.name)
        warning = dt_warning(variant.name, dt)
        if warning:
            print(f"neuroff: warning: {warning}", file=sys.stderr)
        print(json.dumps({"nir": str(path), "variant": variant.name, "dt": dt}))


def import_command(args: argparse.Namespace) -> None:
    from dataclasses import fields

    from neuroff.engine.options import FFConfig
    from neuroff.export.nir_import import import_nir

    request = {f.name: getattr(args, f.name) for f in fields(FFConfig) if getattr(args, f.name, None) is not None}
    trained = import_nir(args.model, args.out, request, set(request), dt=args.dt)
    c = trained.config
    print(json.dumps({"out": args.out, "rule": c.rule, "mode": c.mode, "sizes": trained.model.sizes, "beta": c.beta,
                      "threshold": c.threshold, "embedding": trained.embedding.kind, "dataset": c.dataset}))


def run_lava_command(args: argparse.Namespace) -> None:
    from neuroff.errors import NeuroffError
    from neuroff.export.lava import DEFAULT_VENV, run_lava
    from neuroff.io import write_json

    if args.learn is not None:
        if args.netx is not None:
            raise NeuroffError(f"--learn trains from a checkpoint; drop the model.net argument {args.netx!r}")
        ignored = [flag for flag, value in (("--checkpoint", args.checkpoint), ("--chunk", args.chunk)) if value is not None]
        if ignored:
            raise NeuroffError(f"{ignored[0]} applies to running an exported model.net, not to --learn; drop it")
        from neuroff.export.lava_learn import print_learn_report, run_lava_learn

        report = run_lava_learn(args.learn, args.dataset, args.samples, args.lava_venv or DEFAULT_VENV, args.config)
        print_learn_report(report)
        if args.out:
            write_json(args.out, report)
        return
    if args.config is not None:
        raise NeuroffError("--config applies only to --learn fresh (an exported model.net brings its own options); drop --config")
    if args.netx is None:
        raise NeuroffError("run-lava needs a model.net (from `neuroff export --target loihi`), or --learn CKPT_OR_RUN_DIR")

    report = run_lava(
        args.netx, args.dataset, args.samples, checkpoint=args.checkpoint, venv=args.lava_venv or DEFAULT_VENV,
        chunk=500 if args.chunk is None else args.chunk,
    )
    if report["lava_accuracy"] is not None:
        float_acc = f"{report['float_accuracy']:.4f}" if "float_accuracy" in report else "n/a"
        accuracy = f"Lava accuracy {report['lava_accuracy']:.4f}, fixed-point reference {report['fixed_accuracy']:.4f}, float {float_acc}"
        agreement = f"; prediction agreement {report['prediction_agreement']:.4f}"
    else:
        accuracy, agreement = "no goodness read-out (a label-free family): the spikes are compared", ""
    print(
        f"{report['samples']} samples x {report['presentations'] // report['samples']} labels on {report['dataset']}: {accuracy}\n"
        f"spikes: {report['mismatched_spikes']} of {report['raster_entries']} raster entries differ "
        f"(reference {report['reference_spikes']} spikes, Lava {report['lava_spikes']}){agreement}\n"
        f"time per sample: Lava {report['lava_s_per_sample'] * 1e3:.1f} ms (compiled once in {report['lava_compile_s']:.1f} s), "
        f"fixed-point reference {report['reference_s_per_sample'] * 1e3:.2f} ms"
    )
    if args.out:
        write_json(args.out, report)
    print(json.dumps(report))
