"""Drive a netx network on Lava's bit-accurate simulator with many presentations, compiled once.

Presentation p (T steps) occupies simulator steps [p I, p I + T) of one long input stream,
with I = reset_interval >= T. netx builds every CUBA layer as ``LIFReset``: layer l (0-based)
zeroes u and v at steps t = 2 + l (mod I) (netx adds 1 to the offset we pass, 1, and 1 more per
layer), which is exactly the step at which presentation step 0 reaches it through the l + 1
one-step Dense delays. So the network is compiled and started once, runs the whole stream, and
each presentation starts from rest, as the chip does it. Layer l's spike for presentation step
tau comes out at step p I + tau + 1 + l; ``run_presentations`` shifts it back (aligned time,
as neuroff's fixed-point reference computes it).

Spikes go in and out through memory-mapped .npy files (``io_procs``), not through Lava's
element-by-element ``Var.get``/``set``. The stream runs in ``chunk``-presentation ``run`` calls
on the same runtime only to report progress.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from neuroff_lava.netx_loader import import_netx_hdf5


@dataclass
class LavaRun:
    rasters: list[np.ndarray]  # per layer [P, T, N_l] uint8, aligned time
    compile_s: float  # build + compile + start the runtime (once)
    run_s: float  # simulate every presentation
    sim_steps: int


def run_presentations(
    netx_path: str, spikes: np.ndarray, reset_interval: int | None = None, chunk: int = 500, progress: bool = False
) -> LavaRun:
    """spikes [P, T, D] 0/1 -> per-layer output rasters from Lava (select_tag='fixed_pt')."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neuroff_lava.io_procs import SpikeFileSink, SpikeFileSource

    hdf5 = import_netx_hdf5()
    n_pres, steps, n_in = spikes.shape
    interval = steps if reset_interval is None else int(reset_interval)
    if interval < steps:
        raise ValueError(f"reset interval {interval} is shorter than a presentation ({steps} steps)")
    with tempfile.TemporaryDirectory(prefix="neuroff-lava-io-") as tmp:
        t0 = time.perf_counter()
        net = hdf5.Network(net_config=netx_path, reset_interval=interval, reset_offset=1)
        if int(np.prod(net.inp.shape)) != n_in:
            raise ValueError(f"{netx_path} takes {int(np.prod(net.inp.shape))} inputs, the spikes have {n_in}")
        n_layers = len(net.layers)
        total = n_pres * interval + n_layers  # + the pipeline's drain
        stream = np.lib.format.open_memmap(os.path.join(tmp, "in.npy"), mode="w+", dtype=np.uint8, shape=(total, n_in))
        for p in range(n_pres):
            stream[p * interval : p * interval + steps] = spikes[p]
        stream.flush()
        del stream
        source = SpikeFileSource(path=os.path.join(tmp, "in.npy"), shape=(n_in,))
        source.s_out.connect(net.inp)
        out_paths = []
        for i, layer in enumerate(net.layers):
            path = os.path.join(tmp, f"out{i}.npy")
            n = int(np.prod(layer.out.shape))
            np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(total, n)).flush()
            sink = SpikeFileSink(path=path, shape=layer.out.shape)
            layer.out.connect(sink.a_in)
            out_paths.append(path)
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        net.create_runtime(run_cfg=cfg)
        compile_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        width = max(1, min(chunk, n_pres)) * interval
        try:
            done = 0
            while done < total:
                n_steps = min(width, total - done)
                net.run(condition=RunSteps(num_steps=n_steps), run_cfg=cfg)
                done += n_steps
                if progress:
                    print(f"lava: chunk {-(-done // width)}/{-(-total // width)} ({done} steps)", flush=True)
        finally:
            net.stop()
        run_s = time.perf_counter() - t1
        rasters = []
        for layer_index, path in enumerate(out_paths):
            out = np.load(path)
            rows = (np.arange(n_pres)[:, None] * interval + np.arange(steps)[None, :] + 1 + layer_index).reshape(-1)
            rasters.append(out[rows].reshape(n_pres, steps, -1))
    return LavaRun(rasters, compile_s, run_s, total)
