"""Drive a netx network on Lava's bit-accurate simulator with many presentations, compiled once.

Presentation p (T steps) occupies simulator columns [p I, p I + T) of one long input stream,
with I = reset_interval >= T. netx builds every CUBA layer as ``LIFReset``: layer l (0-based)
zeroes u and v at steps t = 2 + l (mod I) (netx adds 1 to the offset we pass, 1, and 1 more per
layer), which is exactly the step at which presentation step 0 reaches it through the l + 1
one-step Dense delays. So the network is compiled and started once, runs the whole stream, and
each presentation starts from rest, as the chip does it. Layer l's spike for presentation step
tau comes out at column p I + tau + 1 + l; ``run_presentations`` shifts it back (aligned time,
as neuroff's fixed-point reference computes it).

The stream runs in chunks of whole presentations (``chunk`` presentations per ``run`` call,
the same compiled runtime): the source's ring buffer is refilled and the sinks read between
chunks, which bounds memory.
"""

from __future__ import annotations

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
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    hdf5 = import_netx_hdf5()
    n_pres, steps, n_in = spikes.shape
    interval = steps if reset_interval is None else int(reset_interval)
    if interval < steps:
        raise ValueError(f"reset interval {interval} is shorter than a presentation ({steps} steps)")
    t0 = time.perf_counter()
    net = hdf5.Network(net_config=netx_path, reset_interval=interval, reset_offset=1)
    if int(np.prod(net.inp.shape)) != n_in:
        raise ValueError(f"{netx_path} takes {int(np.prod(net.inp.shape))} inputs, the spikes have {n_in}")
    n_layers = len(net.layers)
    chunk = max(1, min(chunk, n_pres))
    width = chunk * interval  # simulator columns per run call
    total_cols = n_pres * interval + n_layers  # + the pipeline's drain
    n_chunks = -(-total_cols // width)

    def chunk_data(j: int) -> np.ndarray:
        data = np.zeros((n_in, width), dtype=np.int32)
        for k in range(chunk):
            p = j * chunk + k
            if p >= n_pres:
                break
            data[:, k * interval : k * interval + steps] = spikes[p].T
        return data

    source = Source(data=chunk_data(0))
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = Sink(shape=layer.out.shape, buffer=width)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    net.create_runtime(run_cfg=cfg)
    compile_s = time.perf_counter() - t0
    outs = [np.zeros((int(np.prod(s.a_in.shape)), n_chunks * width), dtype=np.uint8) for s in sinks]
    t1 = time.perf_counter()
    try:
        for j in range(n_chunks):
            if j > 0:
                source.data.set(chunk_data(j))
            n_steps = min(width, total_cols - j * width)  # the last chunk runs only what is left
            net.run(condition=RunSteps(num_steps=n_steps), run_cfg=cfg)
            for out, sink in zip(outs, sinks):
                out[:, j * width : j * width + n_steps] = sink.data.get()[:, :n_steps].astype(np.uint8)
            if progress:
                print(f"lava: chunk {j + 1}/{n_chunks} ({(j + 1) * width} steps)", flush=True)
    finally:
        net.stop()
    run_s = time.perf_counter() - t1
    rasters = []
    for layer_index, out in enumerate(outs):
        cols = (np.arange(n_pres)[:, None] * interval + np.arange(steps)[None, :] + 1 + layer_index).reshape(-1)
        rasters.append(out[:, cols].T.reshape(n_pres, steps, -1))
    return LavaRun(rasters, compile_s, run_s, total_cols)
