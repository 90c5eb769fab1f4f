"""Peak training memory: how much memory training a net adds on top of the net and its data.

Measured by the kernel, not by torch: the net and the data are built, one training mini-batch
creates the optimiser state, then the resident set's high-water mark (VmHWM in
/proc/self/status) is reset to the current resident set (``/proc/self/clear_refs`` ← 5) and
``steps`` more mini-batches run. The peak minus the resident set just before them (VmRSS) is
what training adds: activations, gradients, temporaries. Linux only.

``training_memory_in_fresh_process`` runs the measurement in a new Python process with glibc's
mmap threshold fixed at 64 KiB (MALLOC_MMAP_THRESHOLD_): every allocation above it is a mapping
of its own, so a freed tensor leaves the resident set at once and the peak is the peak of live
memory, not of the allocator's cache; and nothing from earlier work of the calling process is
resident. ``training_memory`` measures in the calling process (the child's half).

Two methods on the same dense hidden layers (``--layers``): the contrastive-Hebbian rule
(``meta_step`` with the rule's AdamW on the C's) and backprop (``BackpropNet``, tanh, SGD with
momentum 0.9, the cheapest stateful optimiser).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from neuroff.data import Dataset, load_dataset
from neuroff.errors import NeuroffError
from neuroff.families.contrastive_hebbian.model import ContrastiveHebbianNet
from neuroff.families.contrastive_hebbian.rule import ContrastiveHebbianRule, meta_step
from neuroff.layers.spec import blocks_from_layers
from neuroff.studies.baselines import BackpropNet

METHODS = ("contrastive-hebbian", "backprop-sgd-momentum")
MMAP_THRESHOLD_BYTES = 64 * 1024
RESET_PEAK = "5"  # written to /proc/self/clear_refs: VmHWM := VmRSS (Linux >= 4.0)


@dataclass(frozen=True)
class TrainingMemory:
    """One measurement; bytes."""

    method: str
    rss_before: int  # resident set with the net, its optimiser state and the data, before the measured steps
    peak_rss: int  # highest resident set during the measured steps
    resting_state: int  # weights + optimiser state + pending updates (gradients), counted tensor by tensor
    seconds_per_step: float

    @property
    def training_extra(self) -> int:
        """What training adds on top of the net and the data: peak minus the resident set before."""
        return self.peak_rss - self.rss_before


def status_bytes(field: str) -> int:
    """A memory field of /proc/self/status (e.g. VmRSS, VmHWM) in bytes."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        raise NeuroffError("peak training memory is read from /proc/self/status, which only Linux has") from None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    raise NeuroffError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset the kernel's resident-set high-water mark (VmHWM) to the current resident set."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write(RESET_PEAK)
    except OSError:
        raise NeuroffError("resetting the peak resident set needs a writable /proc/self/clear_refs (Linux)") from None


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes held by the tensors' elements."""
    return sum(t.numel() * t.element_size() for t in tensors)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return tensor_bytes(v for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v))


Step = Callable[[torch.Tensor, torch.Tensor], None]


def training_step(method: str, ds: Dataset, layers: list[int], batch_size: int, seed: int) -> tuple[Step, Callable[[], int]]:
    """(step(x, y): one training mini-batch, resting_state(): bytes of the state training keeps
    between steps) of ``method`` on seeded dense hidden ``layers`` for ``ds``."""
    g = torch.Generator().manual_seed(seed)
    spec = blocks_from_layers(ds.n_features, layers)
    if method == "contrastive-hebbian":
        net = ContrastiveHebbianNet(spec.layers, spec.input_shape, ds.n_classes, g)
        rule = ContrastiveHebbianRule(net, batch_size=batch_size)

        def step(x: torch.Tensor, y: torch.Tensor) -> None:
            meta_step(net, rule.optimizer, x, y)  # one mini-batch of the rule

        def resting_state() -> int:  # weights, biases and pending updates are buffers, the C's parameters
            return tensor_bytes([*net.buffers(), *net.parameters()]) + optimizer_state_bytes(rule.optimizer)

        return step, resting_state
    if method == "backprop-sgd-momentum":
        bp = BackpropNet(spec, ds.n_classes, g, "tanh")
        opt = torch.optim.SGD(bp.parameters(), lr=0.01, momentum=0.9)

        def step(x: torch.Tensor, y: torch.Tensor) -> None:
            loss = F.cross_entropy(bp(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        def resting_state() -> int:  # the gradients stay allocated between steps
            grads = [p.grad for p in bp.parameters() if p.grad is not None]
            return tensor_bytes(bp.parameters()) + optimizer_state_bytes(opt) + tensor_bytes(grads)

        return step, resting_state
    raise NeuroffError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


def training_memory(method: str, dataset: str, layers: list[int], steps: int, batch_size: int = 64, seed: int = 0) -> TrainingMemory:
    """Peak training memory of ``steps`` mini-batches of ``method``, measured in this process (see
    the module docstring; in a process that has freed memory before, the allocator's cache can
    hide part of the peak: use ``training_memory_in_fresh_process``). Mini-batch k is the
    training samples from k × batch_size on, wrapping around."""
    if steps < 1 or batch_size < 1:
        raise NeuroffError(f"steps={steps} and batch_size={batch_size} must be >= 1")
    ds = load_dataset(dataset, seed=seed)
    if ds.n_train <= batch_size:
        raise NeuroffError(f"{ds.name} has {ds.n_train} training samples, not more than a batch of {batch_size}")
    step, resting_state = training_step(method, ds, layers, batch_size, seed)
    step(ds.x_train[:batch_size], ds.y_train[:batch_size])  # the optimiser state exists from here on
    before = status_bytes("VmRSS")
    reset_peak_rss()
    start = time.perf_counter()
    for k in range(1, steps + 1):
        lo = (k * batch_size) % (ds.n_train - batch_size)
        step(ds.x_train[lo : lo + batch_size], ds.y_train[lo : lo + batch_size])
    seconds = time.perf_counter() - start
    return TrainingMemory(method, before, status_bytes("VmHWM"), resting_state(), seconds / steps)


def training_memory_in_fresh_process(
    method: str, dataset: str, layers: list[int], steps: int, batch_size: int = 64, seed: int = 0
) -> TrainingMemory:
    """``training_memory`` in a new Python process (one torch thread, glibc's mmap threshold at
    64 KiB; see the module docstring), so that the measurement sees only its own net and data."""
    job = {"method": method, "dataset": dataset, "layers": list(layers), "steps": steps, "batch_size": batch_size, "seed": seed}
    package_root = str(Path(__file__).resolve().parents[2])  # the child imports this very neuroff
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", __name__, json.dumps(job)], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NeuroffError(f"the memory measurement of {method} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return TrainingMemory(**json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":  # the child of training_memory_in_fresh_process
    torch.set_num_threads(1)
    print(json.dumps(dataclasses.asdict(training_memory(**json.loads(sys.argv[1])))))
