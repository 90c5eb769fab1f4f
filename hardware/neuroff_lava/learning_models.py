"""Process models of ``learning_procs`` (fixed point, CPU, Loihi protocol)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.neuron import LearningNeuronModelFixed
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.models import PyLearningDenseModelBitApproximate
from lava.proc.lif.models import AbstractPyLifModelFixed

from neuroff_lava.learning_procs import (
    FFLearnNeuron,
    FFModulator,
    RecordingLearningDense,
)

TRACE_MAX = 127  # 7-bit traces (lava/magma/core/learning/constants.py W_TRACE)


def trace_step(z: np.ndarray, s: np.ndarray, dz: int, impulse: int) -> np.ndarray:
    """The neuron-side 7-bit trace: z <- min(127, (z (4096 - dz)) >> 12 + impulse s), integers."""
    return np.minimum(TRACE_MAX, ((z.astype(np.int64) * (4096 - dz)) >> 12) + impulse * s.astype(np.int64))


@implements(proc=FFLearnNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyFFLearnNeuronModel(LearningNeuronModelFixed, AbstractPyLifModelFixed):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    z: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=7)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.effective_vth = 0
        self._spikes = np.load(proc_params["spikes_path"], mmap_mode="r+")

    def run_spk(self) -> None:
        p = self.proc_params
        tau = (self.time_step - 1) % p["steps"]
        a_in = self.a_in.recv()
        m = self.a_third_factor_in.recv().astype(np.int64)
        if tau == 0:  # a new presentation starts from rest; the Dense's sum of the last one is dropped
            self.u[:] = 0
            self.v[:] = 0
            self.z[:] = 0
            a_in = np.zeros_like(a_in)
        self.scale_bias()
        if not self.isthrscaled:
            self.effective_vth = np.left_shift(self.vth, self.vth_shift)
            self.isthrscaled = True
        self.subthr_dynamics(activation_in=a_in)
        s = self.v > self.effective_vth
        self.v[s] = 0
        self.z[:] = trace_step(self.z, s, p["dz"], p["z_impulse"])
        self.y1[:] = self.z
        self.y2[:] = np.maximum(m, 0)
        self.y3[:] = np.maximum(-m, 0)
        out = s.astype(np.int32)
        self.s_out.send(out)
        self.s_out_bap.send(np.zeros(s.shape, dtype=bool))  # no bAP: y2 stays as sent
        self.s_out_y1.send(self.y1)
        self.s_out_y2.send(self.y2)
        self.s_out_y3.send(self.y3)
        t = self.time_step - 1
        if t < self._spikes.shape[0]:
            self._spikes[t] = out


@implements(proc=FFModulator, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyFFModulatorModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    m_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=8)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._z = np.zeros(proc_params["n"], np.int64)
        self._g = 0
        self._m = 0
        self._out = np.load(proc_params["m_path"], mmap_mode="r+")

    def _table(self, positive: bool, g: int) -> int:
        bounds = self.proc_params["bounds"]
        q = int(np.sum(g < bounds[1:]))
        return q if positive else q - int(bounds[0])

    def run_spk(self) -> None:
        p = self.proc_params
        steps, start = p["steps"], p["learn_start"]
        tau, k = (self.time_step - 1) % steps, (self.time_step - 1) // steps
        self.m_out.send(np.full(self.m_out.shape, self._m, dtype=np.int32))
        s = self.s_in.recv()
        if tau == 0:
            self._z[:] = 0
            self._g = 0
        self._z = trace_step(self._z, s, p["dz"], p["z_impulse"])
        g_step = int(np.sum(self._z * self._z))
        if tau < start:
            self._g += g_step
        # M at learn_start - 1 and, in the step timing, on every later step but the last
        sets_m = tau == start - 1 or (p["every_step"] and start - 1 < tau < steps - 1)
        if sets_m and k < len(p["positive"]):
            self._m = self._table(bool(p["positive"][k]), g_step if p["every_step"] else self._g)
            self._out[k] = (self._m, self._g)
        if tau == steps - 1:
            self._m = 0


@implements(proc=RecordingLearningDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_approximate_loihi", "fixed_pt")
class PyRecordingLearningDenseModel(PyLearningDenseModelBitApproximate):
    implements_process = None  # the parent's is LearningDense; @implements sets ours
    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._dump = np.load(proc_params["weights_path"], mmap_mode="r+")

    def run_lrn(self) -> None:
        super().run_lrn()
        steps = self.proc_params["steps"]
        if self.time_step % steps == 0:
            k = self.time_step // steps - 1
            if k < self._dump.shape[0]:
                self._dump[k] = self.weights
