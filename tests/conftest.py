"""Shared test set-up.

One torch thread: the tests run many tiny tensor operations, where a second intra-op thread
only adds synchronisation, and on a loaded 2-core machine its spin-waiting makes the suite
~10x slower (spiking mini-batch training: 1 s of CPU with one thread, 11 s with two)."""

import torch

torch.set_num_threads(1)
