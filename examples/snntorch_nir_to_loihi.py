"""Worked example: a LIF network trained with snnTorch's surrogate-gradient BPTT on digits, written
to NIR, imported into neuroff, compared with a Forward-Forward net and run on Loihi's
bit-accurate simulator (Lava).

    python examples/snntorch_nir_to_loihi.py --out runs/nir-example            # ~1 min on 2 cores
    python examples/snntorch_nir_to_loihi.py --out /tmp/x --quick              # the test's short form

Steps (each neuroff step is the command line printed before it runs):

1. snnTorch: Linear(64, H) -> Leaky -> Linear(H, 10) -> Leaky (reset to zero, no bias), trained by
   BPTT with snnTorch's default ATan surrogate on spike counts, on the same rate-coded spike trains
   neuroff's encoder draws (so the imported network sees the input it was trained on).
2. NIR: snnTorch 1.0's whole-network ``export_to_nir`` fails with nir 1.0.8 (its Input node is
   typed [1, 64] against the Linear's [64]: "Type inference error"), so the graph is built with
   ``nir`` directly, node for node as snnTorch's exporter writes a Leaky (tau = dt/(1-beta),
   r = tau/dt, dt = 1e-4) and a Linear. snnTorch's own ``import_from_nir`` reads it back and
   must give the trained network's spikes.
3. ``neuroff import``: a plain feature network (no label embedding -> the spiking SCFF family,
   read out by a linear probe); ``neuroff evaluate`` prints its accuracy.
4. ``neuroff train`` a spiking FF net with the same layer sizes; ``neuroff compare`` the latents.
5. ``neuroff export --target loihi`` and ``neuroff run-lava``: Lava against neuroff's fixed-point
   reference, spike for spike (skipped, with the reason, without the Lava venv .venv-lava).

Writes OUT/example.json with every number printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import sys
import time
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir

from neuroff.cli import run as neuroff
from neuroff.core.encoding import rate_encode
from neuroff.data import load_dataset
from neuroff.export.lava import DEFAULT_VENV, INSTALLED_MARKER

DT = 1e-4  # snnTorch's exporter and importer hard-code this time step
BETA, THRESHOLD = 0.9, 1.0
STEPS, MAX_RATE = 20, 0.5  # the rate code, shared by the snnTorch training and the neuroff import


class SnnTorchNet(torch.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(64, hidden, bias=False)
        self.lif1 = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero")
        self.fc2 = torch.nn.Linear(hidden, 10, bias=False)
        self.lif2 = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero")
        with torch.no_grad():  # larger than PyTorch's default so both layers fire from the start
            self.fc1.weight.mul_(4.0)
            self.fc2.weight.mul_(4.0)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Spike trains [T, B, 64] -> output spikes [T, B, 10] (the hidden states start at zero)."""
        mem1 = torch.zeros(spikes.shape[1], self.fc1.out_features)
        mem2 = torch.zeros(spikes.shape[1], 10)
        out = []
        for t in range(spikes.shape[0]):
            s1, mem1 = self.lif1(self.fc1(spikes[t]), mem1)
            s2, mem2 = self.lif2(self.fc2(s1), mem2)
            out.append(s2)
        return torch.stack(out)


def train_snntorch(ds, hidden: int, epochs: int, seed: int) -> SnnTorchNet:
    torch.manual_seed(seed)
    net = SnnTorchNet(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(ds.x_train), generator=g)
        for lo in range(0, len(order), 64):
            idx = order[lo : lo + 64]
            counts = net(rate_encode(ds.x_train[idx], STEPS, MAX_RATE, g)).sum(0)
            loss = F.cross_entropy(counts, ds.y_train[idx])  # spike counts as logits
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"snnTorch BPTT epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}")
    return net


def nir_graph(net: SnnTorchNet) -> nir.NIRGraph:
    """The graph snnTorch's exporter would write (``snntorch/export_nir.py``), built with nir."""
    nodes = {"input": nir.Input(input_type=np.array([64]))}
    edges, prev = [], "input"
    for i, (fc, lif) in enumerate(((net.fc1, net.lif1), (net.fc2, net.lif2))):
        n = fc.out_features
        beta = float(lif.beta)
        tau = DT / (1 - beta)
        nodes[f"fc{i + 1}"] = nir.Linear(weight=fc.weight.detach().numpy())
        nodes[f"lif{i + 1}"] = nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / DT), v_leak=np.zeros(n),
                                       v_threshold=np.full(n, float(lif.threshold)), v_reset=np.zeros(n))
        edges += [(prev, f"fc{i + 1}"), (f"fc{i + 1}", f"lif{i + 1}")]
        prev = f"lif{i + 1}"
    nodes["output"] = nir.Output(output_type=np.array([10]))
    return nir.NIRGraph(nodes=nodes, edges=edges + [(prev, "output")], metadata={"dt": DT, "made_by": "snntorch (built with nir)"})


SECONDS: dict[str, float] = {}  # wall time of each neuroff command (and the snnTorch training)


def cli(*argv: object) -> str:
    """Run one neuroff command in this process, echoing it; returns what it printed."""
    args = [str(a) for a in argv]
    print(f"$ neuroff {shlex.join(args)}", flush=True)
    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = neuroff(args)
    SECONDS[args[0]] = round(SECONDS.get(args[0], 0.0) + time.perf_counter() - start, 2)
    print(buf.getvalue(), end="", flush=True)
    if code != 0:
        raise SystemExit(f"neuroff {args[0]} exited {code}")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for the runs, the NIR file, the comparison and example.json")
    ap.add_argument("--quick", action="store_true", help="small and short (the test suite's form)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the snnTorch init, its training spikes and the FF net")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hidden, epochs, n_train = (24, 1, 64) if args.quick else (64, 3, None)
    n_test, lava_samples = (40, 2) if args.quick else (360, 20)
    ds = load_dataset("digits", seed=args.seed).subset(n_train, n_test)
    report: dict = {"quick": args.quick, "hidden": hidden, "epochs": epochs, "n_test": len(ds.x_test)}

    # 1. snnTorch BPTT
    start = time.perf_counter()
    net = train_snntorch(ds, hidden, epochs, args.seed)
    SECONDS["snntorch-bptt"] = round(time.perf_counter() - start, 2)
    with torch.no_grad():
        test_spikes = rate_encode(ds.x_test, STEPS, MAX_RATE, torch.Generator().manual_seed(args.seed + 1))
        trained_out = net(test_spikes)
    report["snntorch_accuracy"] = float((trained_out.sum(0).argmax(1) == ds.y_test).float().mean())
    print(f"snnTorch net: test accuracy {report['snntorch_accuracy']:.4f} (argmax of output spike counts)")

    # 2. NIR: snnTorch's whole-network exporter first, then the graph built with nir
    sequential = torch.nn.Sequential(  # the form export_to_nir takes: hidden state inside the neurons
        net.fc1, snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero", init_hidden=True),
        net.fc2, snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero", init_hidden=True, output=True),
    )
    try:
        export_to_nir(sequential, torch.zeros(1, 64))
        report["snntorch_export_to_nir"] = "worked"
    except Exception as err:  # noqa: BLE001 -- the failure is what this step documents
        report["snntorch_export_to_nir"] = f"fails: {type(err).__name__}: {err}"
    print(f"snnTorch {snn.__version__} export_to_nir with nir {nir.version}: {report['snntorch_export_to_nir']}")
    path = out / "snntorch.nir"
    nir.write(path, nir_graph(net))
    with contextlib.redirect_stdout(io.StringIO()):  # import_from_nir prints as it goes
        reread = import_from_nir(nir.read(path))
    with torch.no_grad():
        reread_out = torch.stack([reread(test_spikes[t])[0] for t in range(STEPS)])
    report["snntorch_reimport_mismatches"] = int((reread_out != trained_out).sum())
    report["snntorch_output_spikes"] = int(trained_out.sum())
    print(f"snnTorch import_from_nir of {path}: {report['snntorch_reimport_mismatches']} of "
          f"{trained_out.numel()} output raster entries differ from the trained net ({report['snntorch_output_spikes']} spikes)")

    # 3. neuroff import + evaluate
    imported = out / "snntorch-run"
    limits = ["--n-train", n_train] if n_train else []
    cli("import", path, "-o", imported, "--dataset", "digits", "--encoder", "rate", "--steps", STEPS, "--max-rate", MAX_RATE,
        "--n-test", n_test, *limits)
    result = json.loads(cli("evaluate", imported, "--quiet"))
    report["imported_probe_accuracy"] = result["test_accuracy"]

    from neuroff import engine
    from neuroff.layers.fixed_point import run_float

    model = engine.load_trained(imported).model
    ours = run_float(model, test_spikes)[-1]
    report["neuroff_vs_snntorch_mismatches"] = int((ours != trained_out.double()).sum())
    print(f"neuroff's float network vs the snnTorch net: {report['neuroff_vs_snntorch_mismatches']} output raster entries differ")

    # 4. an FF net of the same sizes, and the latent comparison
    ff = out / "ff-run"
    cli("train", "--dataset", "digits", "--layers", f"{hidden},10", "--epochs", 1 if args.quick else 5, "--encoder", "rate",
        "--steps", STEPS, "--n-test", n_test, *limits, "--seed", args.seed, "--out", ff, "--quiet")
    cmp = out / "compare"
    compare_args = ["compare", imported, ff, "--out", cmp, "--n-test", n_test, "--n-train", n_train or 1000, "--n-embed", min(n_test, 300), "--quiet"]
    if args.quick:  # the same comparison without its t-SNE/UMAP figures (a minute of numba compilation)
        from neuroff.latents import compare, markdown_report

        print(f"$ neuroff {shlex.join(map(str, compare_args))}   # --quick: metrics only, no figures", flush=True)
        start = time.perf_counter()
        print(markdown_report(compare([imported, ff], cmp, n_train=n_train, n_test=n_test, progress=False, with_plots=False)), end="")
        SECONDS["compare"] = round(time.perf_counter() - start, 2)
    else:
        cli(*compare_args)
    report["compare_report"] = str(cmp / "report.md")

    # 5. Loihi: export (float vs fixed point) and the bit-exact Lava run
    netx = out / "loihi" / "model.net"
    cli("export", "--target", "loihi", imported, "-o", netx, "--quiet", "--check-samples", 10 if args.quick else n_test)
    if not (DEFAULT_VENV / INSTALLED_MARKER).is_file():  # run-lava would build it (downloads): not in an example
        report["lava"] = f"skipped: the Lava venv {DEFAULT_VENV} is missing; make lava-venv (needs Python 3.10)"
        print(f"run-lava {report['lava']}")
    else:
        lava = json.loads(cli("run-lava", netx, "--samples", lava_samples).splitlines()[-1])
        report["lava"] = {k: lava[k] for k in ("samples", "presentations", "mismatched_spikes", "raster_entries", "reference_spikes", "lava_spikes")}
    report["seconds"] = dict(SECONDS)
    (out / "example.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
