"""File-backed spike source and sink processes for Lava.

Lava's ``Var.get``/``Var.set`` move arrays between the host and a running process one element
per message (lava-nc 0.10.0, ``Runtime.set_var`` / ``PyLoihiProcessModel._get_var``), which for
a ring-buffer source holding all presentations (inputs x steps) costs far more than the
simulation itself. These two processes instead read their spikes from, and write their spikes
to, a ``.npy`` file mapped into memory (``np.load(mmap_mode=...)``): the host writes the input
file before the run and maps the output file after it; nothing large crosses Lava's channels.
The process models live in ``io_models.py`` (Lava's compiler finds them in this package).
"""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess


class SpikeFileSource(AbstractProcess):
    """Sends row t - 1 of a [steps, *shape] uint8 .npy file at step t (zeros past its end)."""

    def __init__(self, *, path: str, shape: tuple[int, ...]) -> None:
        super().__init__(path=path, shape=shape)
        self.s_out = OutPort(shape=shape)


class SpikeFileSink(AbstractProcess):
    """Writes the spikes received at step t into row t - 1 of a [steps, *shape] uint8 .npy file
    (created by the host beforehand; rows past its end are dropped)."""

    def __init__(self, *, path: str, shape: tuple[int, ...]) -> None:
        super().__init__(path=path, shape=shape)
        self.a_in = InPort(shape=shape)
