"""Command line: train an FF network on Lava's learning engine, one presentation after another.

    python -m neuroff_lava.learn --inputs learn.npz --out result.npz

``learn.npz`` holds ``spikes`` uint8 [P, T, D0] (presentations), ``positive`` [P] (1: positive),
``weight_<l>`` int [N_l, D_l], ``bounds_<l>`` (the modulator's table of layer l) and the integer
parameters ``params`` = [du, dv, vth, dz, z_impulse, mant, exp, rng_seed, learn_start, m_every_step]
(m_every_step 1: the modulator sends M from every step's goodness, 0: once per presentation) and ``rule``, the
dw string neuroff writes (``RuleParams.lava_string``). Per layer:
RecordingLearningDense (Loihi3FLearningRule) -> FFLearnNeuron -> FFModulator; layer l's spikes
feed layer l + 1's Dense. ``result.npz`` gets ``weights_<l>`` [P, N_l, D_l] after every
presentation, ``spikes_<l>`` [P, T, N_l], ``m`` and ``g`` [P, L], the timings and
``y_decay`` (exp(-1/65535) as this numpy computes it). neuroff compares them with its emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np


def run(inputs: dict, tmp: str) -> dict:
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neuroff_lava.io_procs import SpikeFileSource
    from neuroff_lava.learning_procs import (
        FFLearnNeuron,
        FFModulator,
        RecordingLearningDense,
    )

    spikes = inputs["spikes"]
    positive = inputs["positive"]
    du, dv, vth, dz, z_imp, _mant, _exp, rng_seed, learn_start, m_every_step = (int(v) for v in inputs["params"])
    n_pres, steps, d0 = spikes.shape
    n_layers = sum(1 for k in inputs if k.startswith("weight_"))
    t0 = time.perf_counter()
    stream = np.lib.format.open_memmap(os.path.join(tmp, "in.npy"), mode="w+", dtype=np.uint8, shape=(n_pres * steps, d0))
    stream[:] = spikes.reshape(n_pres * steps, d0)
    stream.flush()
    source = SpikeFileSource(path=os.path.join(tmp, "in.npy"), shape=(d0,))
    rule_str = str(inputs["rule"])  # neuroff's RuleParams.lava_string(): the rule is written once
    pre = source.s_out
    dumps = []
    for layer in range(n_layers):
        w0 = np.asarray(inputs[f"weight_{layer}"])
        n = w0.shape[0]
        rule = Loihi3FLearningRule(dw=rule_str, t_epoch=1, rng_seed=rng_seed)
        paths = {name: os.path.join(tmp, f"{name}_{layer}.npy") for name in ("w", "s", "m")}
        np.lib.format.open_memmap(paths["w"], mode="w+", dtype=np.int32, shape=(n_pres, *w0.shape)).flush()
        np.lib.format.open_memmap(paths["s"], mode="w+", dtype=np.uint8, shape=(n_pres * steps, n)).flush()
        np.lib.format.open_memmap(paths["m"], mode="w+", dtype=np.int64, shape=(n_pres, 2)).flush()
        dense = RecordingLearningDense(weights=w0.astype(float), learning_rule=rule, steps=steps, weights_path=paths["w"],
                                       name=f"dense_{layer}")
        neuron = FFLearnNeuron(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=0, bias_exp=0, learning_rule=rule,
                               steps=steps, dz=dz, z_impulse=z_imp, spikes_path=paths["s"], name=f"neuron_{layer}")
        mod = FFModulator(n=n, steps=steps, learn_start=learn_start, every_step=m_every_step, dz=dz, z_impulse=z_imp,
                          bounds=inputs[f"bounds_{layer}"], positive=positive, m_path=paths["m"])
        pre.connect(dense.s_in)
        dense.a_out.connect(neuron.a_in)
        neuron.s_out.connect(mod.s_in)
        mod.m_out.connect(neuron.a_third_factor_in)
        neuron.s_out_bap.connect(dense.s_in_bap)
        neuron.s_out_y1.connect(dense.s_in_y1)
        neuron.s_out_y2.connect(dense.s_in_y2)
        neuron.s_out_y3.connect(dense.s_in_y3)
        pre = neuron.s_out
        dumps.append(paths)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    source.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)  # compiles, starts, runs presentation 0
    t1 = time.perf_counter()
    if n_pres > 1:
        source.run(condition=RunSteps(num_steps=(n_pres - 1) * steps), run_cfg=cfg)
    t2 = time.perf_counter()
    source.stop()
    out = {
        "first_s": np.float64(t1 - t0), "run_s": np.float64(t2 - t1),
        "y_decay": np.float64(np.exp(-1 / np.full((3, 1), 65535))[0, 0]),
    }
    m = np.zeros((n_pres, n_layers), np.int64)
    g = np.zeros((n_pres, n_layers), np.int64)
    for layer, paths in enumerate(dumps):
        out[f"weights_{layer}"] = np.array(np.load(paths["w"]))
        out[f"spikes_{layer}"] = np.array(np.load(paths["s"])).reshape(n_pres, steps, -1)
        mg = np.load(paths["m"])
        m[:, layer], g[:, layer] = mg[:, 0], mg[:, 1]
    out["m"], out["g"] = m, g
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neuroff_lava.learn", description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        with np.load(args.inputs) as data:
            inputs = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        print(f"neuroff_lava: error: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="neuroff-lava-learn-") as tmp:
        out = run(inputs, tmp)
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".lava-learn.", suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, **out)
    os.replace(tmp_path, args.out)
    print(json.dumps({"presentations": int(inputs["spikes"].shape[0]), "first_s": float(out["first_s"]), "run_s": float(out["run_s"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
