"""Sweep overhead and parallelism: the same 8 digits trainings as one `neuroff sweep` on local Ray
(2 CPUs here) and one after another with the CLI. Prints both wall times and their ratio; writes
bench/results/sweep_speed.json.

    .venv/bin/python bench/bench_sweep.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neuroff.cli import Parser, guarded
from neuroff.io import write_json

BASE = {"dataset": "digits", "mode": "analog", "epochs": 5, "validation": 300}
GRID = {"layers": [[100], [200], [400], [800]], "seed": [0, 1]}


def main() -> None:
    Parser(prog="bench_sweep.py", description=__doc__.splitlines()[0]).parse_args()  # --help, and no stray arguments
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"base": BASE, "grid": GRID}))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "neuroff.cli", "sweep", str(spec), "--out", f"{tmp}/sweep"], check=True,
                       capture_output=True)  # fmt: skip
        sweep_s = time.perf_counter() - start
        start = time.perf_counter()
        for layers in GRID["layers"]:
            for seed in GRID["seed"]:
                subprocess.run([sys.executable, "-m", "neuroff.cli", "train", "--dataset", "digits", "--mode", "analog",
                                "--epochs", "5", "--validation", "300", "--layers", ",".join(map(str, layers)),
                                "--seed", str(seed), "--quiet", "--out", f"{tmp}/seq-{layers[0]}-{seed}"], check=True,
                               capture_output=True)  # fmt: skip
        sequential_s = time.perf_counter() - start
    result = {"trainings": 8, "sweep_seconds": sweep_s, "sequential_seconds": sequential_s,
              "ratio_sequential_over_sweep": sequential_s / sweep_s, "base": BASE, "grid": GRID}  # fmt: skip
    print(f"8 digits trainings: sweep on local Ray {sweep_s:.1f} s, one after another with the CLI {sequential_s:.1f} s, "
          f"ratio {sequential_s / sweep_s:.2f}")  # fmt: skip
    write_json(Path(__file__).parent / "results" / "sweep_speed.json", result)


if __name__ == "__main__":
    sys.exit(guarded(main))
