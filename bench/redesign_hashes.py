"""Weight hashes of six seeded 1-epoch digits runs, one per configuration family/substrate.

Run before and after a refactoring: the same explicit options must give bit-identical weights.
Usage: python bench/redesign_hashes.py LABEL   (writes bench/results/redesign_hashes_LABEL.json)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from neuroff.cli import Parser, guarded

COMMON = ["--dataset", "digits", "--epochs", "1", "--seed", "0", "--n-train", "500", "--n-test", "200", "--quiet"]
CONFIGS = {
    "spiking-online": ["--rule", "ff", "--mode", "spiking", "--embedding", "code"],
    "spiking-batch32": ["--rule", "ff", "--mode", "spiking", "--embedding", "code", "--batch-size", "32"],
    "analog": ["--rule", "ff", "--mode", "analog", "--embedding", "code"],
    "scff": ["--rule", "scff", "--mode", "analog", "--embedding", "none", "--batch-size", "32"],
    "intff": ["--rule", "intff", "--mode", "analog", "--embedding", "code"],
    "contrastive-hebbian": ["--rule", "contrastive-hebbian", "--mode", "analog", "--embedding", "none"],
}


def state_hash(path: Path) -> str:
    """sha256 over the checkpoint's model tensors, in key order (names included)."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    h = hashlib.sha256()
    for key in sorted(data["state_dict"]):
        h.update(key.encode())
        h.update(data["state_dict"][key].contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    parser = Parser(prog="redesign_hashes.py", description=__doc__.splitlines()[0])
    parser.add_argument("label", nargs="?", default="now", help="names the output, bench/results/redesign_hashes_LABEL.json")
    label = parser.parse_args().label
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in CONFIGS.items():
            run_dir = Path(tmp) / name
            cmd = [sys.executable, "-m", "neuroff.cli", "train", *COMMON, *extra, "--out", str(run_dir)]
            subprocess.run(cmd, check=True)
            out[name] = {"command": "neuroff train " + " ".join(COMMON + extra), "sha256": state_hash(run_dir / "model.pt")}
            print(f"{name:22s} {out[name]['sha256']}")
    dest = Path(__file__).parent / "results" / f"redesign_hashes_{label}.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    sys.exit(guarded(main))
