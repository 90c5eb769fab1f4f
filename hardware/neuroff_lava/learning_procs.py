"""Processes of the on-chip FF learning network (Lava 0.10, Loihi protocol, fixed point).

Per layer: ``LearningDense`` (Lava's own learning engine, ``Loihi3FLearningRule``) ->
``FFLearnNeuron`` (a ``LearningLIF`` that writes y1 = its 7-bit trace z and y2 / y3 = the two
channels of the third factor it receives; the stock LearningLIF drives none of them) ->
``FFModulator`` (measures the layer's goodness before ``learn_start`` and broadcasts the
quantised M until the presentation ends). ``RecordingLearningDense`` is ``LearningDense`` plus
a dump of its weights after every presentation into a memory-mapped file (Lava's ``Var.get``
moves one element per message). neuroff's emulator, ``neuroff.core.loihi_learning``, states the
arithmetic; models are in ``learning_models.py``. Module-level code only defines classes
(Lava's compiler imports every file of this package).
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.proc.dense.process import LearningDense
from lava.proc.lif.process import LearningLIF


class FFLearnNeuron(LearningLIF):
    """CUBA LIF + trace z (z <- min(127, (z (4096 - dz)) >> 12 + impulse s)), reset at the start of
    every presentation of ``steps`` steps; writes its spikes to row t - 1 of ``spikes_path``."""

    def __init__(self, *, shape, steps: int, dz: int, z_impulse: int, spikes_path: str, **kwargs) -> None:
        super().__init__(shape=shape, steps=steps, dz=dz, z_impulse=z_impulse, spikes_path=spikes_path, **kwargs)
        self.z = Var(shape=shape, init=0)


class FFModulator(AbstractProcess):
    """Goodness g = sum over steps tau < learn_start of sum_j z_j^2 (integers); at tau = learn_start - 1
    Mq = the table's value for (positive[p], g); sends Mq from the next step to the end of the
    presentation. With ``every_step``, Mq is instead the table's value for this step's sum_j z_j^2,
    recomputed on every step from learn_start - 1 to T - 2 (each sent on the next step). ``bounds``: ``neuroff.core.loihi_learning.modulator_table``. Writes (Mq, g) of
    presentation p to row p of ``m_path``."""

    def __init__(self, *, n: int, steps: int, learn_start: int, every_step: int, dz: int, z_impulse: int,
                 bounds: np.ndarray, positive: np.ndarray, m_path: str) -> None:
        super().__init__(n=n, steps=steps, learn_start=learn_start, every_step=every_step, dz=dz, z_impulse=z_impulse,
                         bounds=np.asarray(bounds, np.int64), positive=np.asarray(positive, np.int64), m_path=m_path)
        self.s_in = InPort(shape=(n,))
        self.m_out = OutPort(shape=(n,))


class RecordingLearningDense(LearningDense):
    """LearningDense that writes its weights after presentation p (every ``steps`` steps) to
    ``weights_path`` [P, N, D]."""

    def __init__(self, *, steps: int, weights_path: str, **kwargs) -> None:
        super().__init__(steps=steps, weights_path=weights_path, **kwargs)
