"""NIR readers against neuroff's float network: output-spike mismatches of snnTorch 1.0
``import_from_nir`` and Norse 1.1 ``norse.torch.from_nir`` (called as a user calls them) on files
written by ``neuroff export --target nir`` with each variant and dt, for seeded digits nets
(2-layer rate code, sigma head, latency code), 200 presentations (test samples, true label).
Writes bench/results/nir_readers.json; docs/hardware.md §8 quotes it.

    nice -n 5 .venv/bin/python bench/bench_nir_readers.py [--presentations 200]
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import tempfile
from pathlib import Path

import nir
import torch

from neuroff.cli import Parser, guarded
from neuroff import engine
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.export.nir import export_nir, load_norse
from neuroff.io import write_json
from neuroff.layers.fixed_point import run_float

NETS = {  # trained 2 epochs on 600 digits samples, seed 0
    "2-layer rate": {"layers": [100, 60]},
    "2-layer sigma head": {"layers": [100, 60], "head": "sigma", "theta": 5.0, "lr": 0.003},
    "1-layer latency": {"layers": [100], "encoder": "latency"},
}
# (reader, variant, --dt or None for the variant's default, how the reader is called)
CASES = [
    ("snntorch", "generic", None, "import_from_nir(graph)"),
    ("snntorch", "snntorch", None, "import_from_nir(graph)"),
    ("snntorch", "generic", 1e-3, "import_from_nir(graph)"),
    ("norse", "norse", None, "from_nir(graph)"),
    ("norse", "generic", None, "from_nir(graph)"),
    ("norse", "generic", "file", "from_nir(graph, dt=1e-4)"),
    ("norse", "generic", "load_norse", "neuroff.export.nir.load_norse(graph)"),
]


def read(reader: str, path: Path, how: str, spikes: torch.Tensor) -> torch.Tensor:
    graph = nir.read(str(path))
    if reader == "snntorch":
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):
            module = import_from_nir(graph)
        return torch.stack([module(spikes[t].float())[0] for t in range(spikes.shape[0])])
    import norse.torch as norse_torch

    module = load_norse(graph) if how == "load_norse" else norse_torch.from_nir(graph, **({"dt": 1e-4} if how == "file" else {}))
    state, out = None, []
    for t in range(spikes.shape[0]):
        z, state = module(spikes[t].float(), state)
        out.append(z)
    return torch.stack(out)


def main() -> None:
    parser = Parser(prog="bench_nir_readers.py", description=__doc__.splitlines()[0])
    parser.add_argument("--presentations", type=int, default=200)
    parser.add_argument("--out", default="bench/results/nir_readers.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)  # Norse's r warning on generic files: the table shows its effect
    ds = load_dataset("digits", seed=0).subset(None, args.presentations)
    rows = []
    with tempfile.TemporaryDirectory(prefix="neuroff-bench-nir-") as tmp:
        for name, options in NETS.items():
            trained = engine.train(FFConfig(dataset="digits", epochs=2, n_train=600, n_test=args.presentations, seed=0, **options), progress=False)
            spikes = trained.model.encode(trained.embedding.embed(ds.x_test, ds.y_test), torch.Generator().manual_seed(1))
            ref = run_float(trained.model, spikes)
            for reader, variant, dt, call in CASES:
                export_dt = dt if isinstance(dt, float) else None
                path = export_nir(trained, Path(tmp) / f"{variant}.nir", dt=export_dt, variant=variant)
                out = read(reader, path, dt if isinstance(dt, str) else "", spikes).double()
                file_dt = nir.read(str(path)).metadata["dt"]
                row = {"net": name, "reader": reader, "call": call, "variant": variant, "file_dt": float(file_dt),
                       "presentations": args.presentations, "reference_spikes": int(ref[-1].sum()), "reader_spikes": int(out.sum()),
                       "mismatches": int((out != ref[-1]).sum()), "layer_spikes": [int(r.sum()) for r in ref]}
                rows.append(row)
                print(f"{name:20s} {reader:8s} {call:40s} --for {variant:8s} dt {file_dt:g}: {row['mismatches']:6d} mismatches "
                      f"({row['reference_spikes']} reference spikes, reader {row['reader_spikes']})")
    write_json(args.out, {"command": "nice -n 5 .venv/bin/python bench/bench_nir_readers.py", "rows": rows})


if __name__ == "__main__":
    sys.exit(guarded(main))
