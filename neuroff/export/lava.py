"""`neuroff run-lava`: run an exported model.net on Intel Lava and check it against neuroff.

Lava needs Python 3.10, so it runs in its own venv (``.venv-lava``, made by
``hardware/setup-lava-venv.sh``) as a subprocess with only ``hardware/`` on its path. This side
encodes the dataset's samples with every candidate label into spike trains (seeded, the same
encoder as training), hands them over as an npz, reads back Lava's per-layer rasters, and
compares them raster by raster with neuroff's fixed-point reference run on the *same file*
(``read_netx``) and the same spikes; it also decodes the FF goodness itself and checks that
its predictions equal the runner's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import neuroff
from neuroff.core.encoding import CandidateSpikes, encode
from neuroff.core.goodness import layers_score
from neuroff.core.params import EncoderParams
from neuroff.data import load_dataset
from neuroff.data.pairing import LabelEmbedding
from neuroff.engine.options import FFConfig
from neuroff.engine.training import EVAL_SEED_OFFSET
from neuroff.errors import NeuroffError
from neuroff.export.loihi import load_sidecar, read_netx
from neuroff.io import atomic_write
from neuroff.layers.fixed_point import decode_rasters, run_fixed

REPO_ROOT = Path(neuroff.__file__).resolve().parents[1]
HARDWARE_DIR = REPO_ROOT / "hardware"
DEFAULT_VENV = REPO_ROOT / ".venv-lava"
NO_PYTHON310 = 3  # setup-lava-venv.sh's exit status when no Python 3.10 exists
NOT_OURS = 4  # its exit status when the directory exists and is not a venv it made (it never deletes one)
INSTALLED_MARKER = ".installed-lava-0.10.0"  # written by setup-lava-venv.sh when the venv is complete
OWNER_MARKER = ".neuroff-lava-venv"  # written by setup-lava-venv.sh when it has made the venv


def lava_venv_problem(venv: str | Path) -> str | None:
    """Why ``venv`` cannot be used (or made) as the Lava venv, or None: it must be missing, empty,
    or a venv that setup-lava-venv.sh made (its marker), since only those may be (re)built."""
    venv = Path(venv)
    if not venv.exists() and not venv.is_symlink():
        return None
    if venv.is_dir() and ((venv / INSTALLED_MARKER).is_file() or (venv / OWNER_MARKER).is_file() or not any(venv.iterdir())):
        return None
    return (
        f"--lava-venv {venv} exists and is not a Lava venv made by neuroff (no {OWNER_MARKER} marker); neuroff never "
        "deletes it: pass a new or empty directory, or remove it yourself"
    )


def ensure_lava_venv(venv: str | Path = DEFAULT_VENV) -> Path:
    """The Lava venv's python, creating the venv (about a minute) if it is missing."""
    venv = Path(venv)
    problem = lava_venv_problem(venv)
    if problem:
        raise NeuroffError(problem)
    script = HARDWARE_DIR / "setup-lava-venv.sh"
    if not script.is_file():
        raise NeuroffError(f"{script} not found; run-lava needs a source checkout of neuroff (with hardware/)")
    proc = subprocess.run(["bash", str(script), str(venv)], capture_output=True, text=True)
    if proc.returncode == NO_PYTHON310:
        raise NeuroffError("Lava needs Python 3.10 and none was found; install one (e.g. pyenv install 3.10) or set LAVA_PYTHON")
    if proc.returncode == NOT_OURS:
        raise NeuroffError(lava_venv_problem(venv) or proc.stderr.strip())
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise NeuroffError(f"creating the Lava venv {venv} failed: {tail[0]}; see hardware/setup-lava-venv.sh")
    return venv / "bin" / "python"


def decode_config(sidecar: dict[str, Any]) -> FFConfig:
    """An FFConfig carrying the sidecar's read-out settings (what ``decode_rasters`` reads)."""
    d = sidecar["decode"]
    head = d["head"] or {"kind": None}  # null (or, before stop 27, kind null): no goodness read-out
    return FFConfig(
        steps=sidecar["timing"]["steps"],
        learn_start=d["learn_start"],
        trace=d["trace"],
        trace_decay=d["trace_decay"],
        head=head["kind"],
        **{k: head[k] for k in ("alpha", "theta", "eps") if k in head},
        score_layers=d["score_layers"],
    )


def encode_presentations(sidecar: dict[str, Any], x: torch.Tensor, seed: int) -> torch.Tensor:
    """Samples [S, pixels] -> spikes [S, C, T, D] uint8, every candidate label embedded."""
    codes = torch.tensor(sidecar["label_codes"], dtype=torch.float32)
    emb = LabelEmbedding(sidecar["input_layout"]["embedding"], sidecar["n_classes"], codes)
    if x.shape[1] + emb.extra_features != sidecar["n_inputs"]:
        raise NeuroffError(
            f"the model takes {sidecar['n_inputs'] - emb.extra_features} pixels, the dataset has {x.shape[1]}; "
            f"use the dataset it was trained on ({sidecar['dataset']})"
        )
    e = sidecar["encoder"]
    g = torch.Generator().manual_seed(seed)
    x_all = emb.embed_all(x)
    s, c, d = x_all.shape
    params = EncoderParams(e["kind"], e["steps"], e["max_rate"], e["latency_mode"], e["normalize_latency"])
    spikes = encode(x_all, params, g, (s, 1, d))
    return spikes.permute(1, 2, 0, 3).to(torch.uint8)  # [T, S, C, D] -> [S, C, T, D]


def label_features(sidecar: dict[str, Any]) -> torch.Tensor:
    """The input features that depend on the candidate label (all others spike alike across
    candidates): the code bits after the pixels, or the first C features for onehot."""
    layout = sidecar["input_layout"]
    if layout["embedding"] == "code":
        return torch.arange(layout["pixels"], layout["pixels"] + layout["label_bits"])
    return torch.arange(sidecar["n_classes"])


def _run_runner(python: Path, netx: Path, inputs: Path, out: Path, chunk: int, n_chunks: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(HARDWARE_DIR)
    cmd = [str(python), "-m", "neuroff_lava.run", str(netx), "--inputs", str(inputs), "--out", str(out), "--chunk", str(chunk), "--progress"]
    # cwd = the temp folder: nothing of this repository (e.g. tests/) is importable by accident
    proc = subprocess.Popen(cmd, cwd=inputs.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bar = tqdm(total=n_chunks, unit="chunk", desc="lava", leave=False, file=sys.stderr)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("lava: chunk"):
            bar.update(1)
    bar.close()
    err = proc.stderr.read() if proc.stderr is not None else ""
    if proc.wait() != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise NeuroffError(f"the Lava runner failed: {lines[-1] if lines else 'no output'}")


def run_lava(
    netx: str | Path,
    dataset: str | None = None,
    samples: int = 20,
    seed: int | None = None,
    checkpoint: str | Path | None = None,
    venv: str | Path = DEFAULT_VENV,
    chunk: int = 500,
) -> dict[str, Any]:
    """Run ``samples`` test samples on Lava and on the fixed-point reference; report agreement."""
    problem = lava_venv_problem(venv)  # before any work
    if problem:
        raise NeuroffError(problem)
    netx = Path(netx).resolve()
    sidecar = load_sidecar(netx)
    qnet = read_netx(netx, [layer["weight_scale"] for layer in sidecar["layers"]])
    if samples < 1:
        raise NeuroffError(f"--samples {samples} must be >= 1")
    name = dataset or sidecar["dataset"]
    seed = sidecar.get("seed", 0) if seed is None else seed
    ds = load_dataset(name, seed=sidecar.get("seed", 0))
    x, y = ds.x_test[:samples], ds.y_test[:samples]
    spikes = encode_presentations(sidecar, x, seed + EVAL_SEED_OFFSET)
    s, c, steps, d = spikes.shape
    python = ensure_lava_venv(venv)

    # neuroff's fixed-point reference on the file Lava loads, same spikes
    flat = spikes.reshape(s * c, steps, d).permute(1, 0, 2).contiguous()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core, as the Lava process model runs; steadier timing too
    try:
        by_label = spikes.permute(2, 0, 1, 3)  # [T, S, C, D]
        varying = label_features(sidecar)
        run_fixed(qnet.layers, CandidateSpikes.from_raster(by_label[:, :1], varying))  # warm-up
        t0 = time.perf_counter()
        ref_rasters, _ = run_fixed(qnet.layers, CandidateSpikes.from_raster(by_label, varying))
        ref_s = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    cfg = decode_config(sidecar)
    ref_scores = layers_score(decode_rasters(ref_rasters, cfg).p_window, cfg.score_layers).reshape(s, c)

    with tempfile.TemporaryDirectory(prefix="neuroff-lava-") as tmp:
        inputs, out = Path(tmp) / "spikes.npz", Path(tmp) / "result.npz"
        atomic_write(inputs, lambda f: np.savez(f, spikes=spikes.numpy(), labels=y.numpy()))
        interval = sidecar["timing"]["reset_interval"]
        n_chunks = -(-(s * c * interval + len(qnet.layers)) // (min(chunk, s * c) * interval))
        _run_runner(python, netx, inputs, out, chunk, n_chunks)
        with np.load(out) as res:
            lava_rasters = [torch.from_numpy(res[f"layer_{i}"].astype(np.int64)) for i in range(len(qnet.layers))]
            lava_pred = torch.from_numpy(res["predictions"].astype(np.int64))
            summary = json.loads(str(res["summary"]))

    mismatched, total, ref_spikes, lava_spikes = 0, 0, 0, 0
    for ref, lava in zip(ref_rasters, lava_rasters):
        ref = ref.permute(1, 0, 2).reshape(s, c, steps, -1)
        mismatched += int((ref != lava).sum())
        total += ref.numel()
        ref_spikes += int(ref.sum())
        lava_spikes += int(lava.sum())
    lava_flat = [r.reshape(s * c, steps, -1).permute(1, 0, 2) for r in lava_rasters]
    lava_scores = layers_score(decode_rasters(lava_flat, cfg).p_window, cfg.score_layers).reshape(s, c)
    report = {
        "netx": str(netx),
        "dataset": ds.name,
        "samples": s,
        "presentations": s * c,
        # a label-free family (SCFF) has no goodness read-out: no accuracy, only the spikes to compare
        "lava_accuracy": float((lava_pred == y).double().mean()) if cfg.head is not None else None,
        "fixed_accuracy": float((ref_scores.argmax(1) == y).double().mean()) if cfg.head is not None else None,
        "mismatched_spikes": mismatched,
        "raster_entries": total,
        "reference_spikes": ref_spikes,
        "lava_spikes": lava_spikes,
        "identical_rasters": mismatched == 0,
        "prediction_agreement": float((lava_pred == ref_scores.argmax(1)).double().mean()) if cfg.head is not None else None,
        "runner_decode_matches_neuroff": bool((lava_scores.argmax(1) == lava_pred).all()) if cfg.head is not None else None,
        "lava_compile_s": summary["compile_s"],
        "lava_run_s": summary["run_s"],
        "lava_s_per_sample": summary["run_s_per_sample"],
        "reference_s_per_sample": ref_s / s,
    }
    ckpt = checkpoint if checkpoint is not None else sidecar.get("source_checkpoint")
    if ckpt and Path(ckpt).is_file() and cfg.head is not None:
        from neuroff.engine.training import load_trained
        from neuroff.layers.fixed_point import run_float

        trained = load_trained(ckpt)
        float_scores = layers_score(decode_rasters(run_float(trained.model, flat), cfg).p_window, cfg.score_layers).reshape(s, c)
        report["float_accuracy"] = float((float_scores.argmax(1) == y).double().mean())
    return report
