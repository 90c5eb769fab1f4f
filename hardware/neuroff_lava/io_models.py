"""Process models of ``io_procs`` (fixed point, CPU, Loihi protocol)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neuroff_lava.io_procs import SpikeFileSink, SpikeFileSource


@implements(proc=SpikeFileSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeFileSourceModel(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32)  # as Lava's fixed-point RingBuffer

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._data = np.load(proc_params["path"], mmap_mode="r")
        self._zeros = np.zeros(proc_params["shape"], dtype=np.int32)

    def run_spk(self) -> None:
        t = self.time_step - 1
        self.s_out.send(self._data[t].astype(np.int32) if t < self._data.shape[0] else self._zeros)


@implements(proc=SpikeFileSink, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeFileSinkModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        # a shared mapping: what this process writes is what the host maps after the run
        self._data = np.load(proc_params["path"], mmap_mode="r+")

    def run_spk(self) -> None:
        spikes = self.a_in.recv()
        t = self.time_step - 1
        if t < self._data.shape[0]:
            self._data[t] = spikes
