"""The `sweep` subcommand (parser and handler); Ray is imported only when a sweep runs."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    sw = sub.add_parser("sweep", help="hyper-parameter sweeps and seed repeats on Ray Tune (local, or a cluster by --address)",
                        description="Run every configuration of SPEC (JSON/YAML: base, grid or space, search, seeds, metric; "
                                    "see docs/sweeps.md) as ordinary training runs, select on the validation split, and "
                                    "read the test set once for the best configuration.")  # fmt: skip
    sw.add_argument("spec", nargs="?", help="the sweep spec, or a plain train config with --seeds N")
    sw.add_argument("--out", default=None, help="directory for the runs, results.csv/.md, best.json, sweep.json and sweep.png")
    sw.add_argument("--seeds", type=int, default=None, help="repeats per configuration (overrides the spec's seeds)")
    sw.add_argument("--address", default=None,
                    help="an existing Ray cluster: auto or HOST:PORT (default: a local Ray with this machine's CPUs)")
    sw.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs Ray reserves per trial (default 1)")
    sw.add_argument("--resume", default=None, metavar="DIR", help="resume the sweep in DIR without re-running finished trials")
    sw.add_argument("--progress", action="store_true", help="Ray Tune's progress reporter (quiet by default)")


def sweep_command(args: argparse.Namespace) -> None:
    from pathlib import Path

    from neuroff.errors import NeuroffError
    from neuroff.studies.sweep import load_spec, run_sweep

    if args.resume:
        spec_path = Path(args.resume) / "spec.json"
        if not spec_path.is_file():
            raise NeuroffError(f"{args.resume} holds no sweep (no spec.json); pass the directory a sweep wrote")
        out = Path(args.resume)
    else:
        if not args.spec or not args.out:
            raise NeuroffError("neuroff sweep needs SPEC and --out DIR (or --resume DIR)")
        spec_path, out = Path(args.spec), Path(args.out)
    spec = load_spec(spec_path, args.seeds)
    if not args.resume:
        out.mkdir(parents=True, exist_ok=True)
        (out / "spec.json").write_text(json.dumps({k: v for k, v in vars(spec).items()}, indent=2) + "\n")
    summary = run_sweep(spec, out, address=args.address, cpus_per_trial=args.cpus_per_trial, resume=bool(args.resume),
                        progress=args.progress)  # fmt: skip
    print((out / "results.md").read_text(), end="")
    print(json.dumps({"best": summary["best"], "results": str(out / "results.csv")}))
