"""Acceptance of the latent comparison: `neuroff compare` on an analog and a spiking
Fashion-MNIST checkpoint must finish in under 2 minutes on this machine; prints the wall-clock
and CPU seconds and the per-layer table (Hoyer, 5-NN separability, linear probe, CKA).

    .venv/bin/python bench/bench_latents.py                       # trains 1-epoch checkpoints if missing
    .venv/bin/python bench/bench_latents.py --analog A/model.pt --spiking B/model.pt --n-test 2000

Missing checkpoints are trained with `neuroff train --dataset fashion-mnist --epochs 1` (analog
~10 s; spiking ~10 min of one core) into runs/bench-latents/. The comparison runs as the real
command in a child process, so the time includes start-up, imports and data loading. CPU seconds
are reported next to wall seconds because on the shared 2-core machine other jobs stretch the
wall clock.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from neuroff.cli import Parser, guarded

ROOT = Path(__file__).resolve().parents[1]
NEUROFF = [sys.executable, "-m", "neuroff.cli"]
LIMIT_S = 120.0


def ensure_checkpoint(path: Path | None, mode: str, out: Path) -> Path:
    if path is not None:
        return path
    ckpt = out / f"fashion-{mode}" / "model.pt"
    if not ckpt.is_file():
        print(f"training {mode} fashion-mnist checkpoint into {ckpt.parent}", flush=True)
        subprocess.run([*NEUROFF, "train", "--mode", mode, "--dataset", "fashion-mnist", "--epochs", "1",
                        "--out", str(ckpt.parent), "--quiet"], check=True, env=_env())
    return ckpt


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def main() -> None:
    p = Parser(prog="bench_latents.py", description=__doc__.splitlines()[0])
    p.add_argument("--analog", type=Path, default=None)
    p.add_argument("--spiking", type=Path, default=None)
    p.add_argument("--n-test", type=int, default=2000, help="test samples (default 2000; 0 = all 10,000)")
    p.add_argument("--n-embed", type=int, default=1000)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-latents")
    args = p.parse_args()
    analog = ensure_checkpoint(args.analog, "analog", args.out)
    spiking = ensure_checkpoint(args.spiking, "spiking", args.out)
    cmd = [*NEUROFF, "compare", str(analog), str(spiking), "--dataset", "fashion-mnist", "--out",
           str(args.out / "compare"), "--n-embed", str(args.n_embed), "--quiet"]
    if args.n_test:
        cmd += ["--n-test", str(args.n_test)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(result.stderr.strip())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(" ".join(cmd[2:]))
    print(result.stdout)
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s, load average {load} on {os.cpu_count()} cores; "
          f"limit {LIMIT_S:.0f} s: {'PASS' if wall < LIMIT_S else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(guarded(main))
