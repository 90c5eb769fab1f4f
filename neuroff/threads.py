"""Thread limits for torch, BLAS and OpenMP.

neuroff's commands run single-threaded by default: on a small shared machine spin-waiting
OpenMP threads made training and t-SNE up to 10x slower, the online numba kernel is
single-threaded anyway, and float reductions (hence analog weights) depend on the thread count,
so one thread also makes results identical across machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from neuroff.errors import NeuroffError


@contextmanager
def limited_threads(threads: int | None) -> Iterator[None]:
    """Run the block with at most ``threads`` torch, BLAS and OpenMP threads (None: unchanged)."""
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise NeuroffError(f"threads must be a positive integer or None, got {threads!r}")
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)
