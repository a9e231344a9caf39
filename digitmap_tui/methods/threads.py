"""Thread counts: how many a run uses, and holding the BLAS, OpenMP and numba pools to it."""

from __future__ import annotations

import os
import sys
from typing import Any

from .registry import MAX_THREADS


def default_threads() -> int:
    """The threads a run uses unless told: $DIGITMAP_THREADS when it is a whole number >= 1
    (e.g. on a shared machine), else the cores this process may use (its CPU affinity)."""
    env = os.environ.get("DIGITMAP_THREADS", "").strip()
    if env.isascii() and env.isdigit() and 1 <= int(env) <= MAX_THREADS:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


class ThreadLimit:
    """Hold BLAS/OpenMP pools (and numba, once imported) to `threads` for one run.

    Results of the threaded libraries can depend on the thread count, which is therefore
    part of the cache key; fixing the pools here makes the count the key says the one used.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limits: Any = None
        self._numba_before: int | None = None

    def __enter__(self) -> ThreadLimit:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # scikit-learn depends on it; without it the pools stay as they are
            return self
        self._limits = threadpool_limits(limits=self.threads)
        return self

    def numba(self) -> None:
        """Apply the limit to numba's pool too (call after numba is imported)."""
        numba = sys.modules.get("numba")
        if numba is None:
            return
        try:
            self._numba_before = int(numba.get_num_threads())
            numba.set_num_threads(min(self.threads, int(numba.config.NUMBA_NUM_THREADS)))
        except (AttributeError, ValueError):
            self._numba_before = None

    def __exit__(self, *exc: object) -> None:
        if self._limits is not None:
            self._limits.unregister()
        if self._numba_before is not None:
            sys.modules["numba"].set_num_threads(self._numba_before)
