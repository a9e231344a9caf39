"""numba's on-disk cache: compiled UMAP/PaCMAP code kept between processes, when it is safe."""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitmap_tui.fileio import tree_trust_problem

from . import registry

_cache_all_numba_functions = False
"""Set by `enable_numba_cache`: the UMAP path then makes numba cache every function."""


def uses_numba(method: str) -> bool:
    """Whether `method` runs on numba (and so profits from `enable_numba_cache`)."""
    found = registry.get(method)
    return found is not None and found.numba


def numba_cache_problem(directory: Path | str) -> str | None:
    """Why numba's cache in `directory` must not be used, or None if it may.

    numba's index files (``.nbi``) and compiled code (``.nbc``) are pickles that numba loads,
    i.e. runs: anyone who can write one of them runs code as the user. So the directory, every
    directory above it and every file in it must be ours and writable by us alone
    (:func:`digitmap_tui.fileio.tree_trust_problem`).
    """
    return tree_trust_problem(Path(directory))


def enable_numba_cache(directory: Path | str) -> bool:
    """Keep numba's compiled code under `directory` so that a fresh process skips UMAP's JIT.

    Must run before numba is imported (numba reads NUMBA_CACHE_DIR once, at import); returns
    False when it is too late, and when :func:`numba_cache_problem` finds the directory
    untrusted (numba then compiles afresh). A NUMBA_CACHE_DIR the user set is kept. Also makes
    the UMAP path cache every numba function (see `_cache_numba_by_default`): umap-learn
    itself marks one function `cache=True` (pynndescent marks many), so a cache directory
    alone saves the import (~10 s) but not the compiling on every first fit. Measured, fresh process, UMAP on
    digits, medians of 3 on 2 cores: 10.7 s as shipped, 4.5 s with everything cached (24.5 s
    the very first time, while the cache fills).
    """
    global _cache_all_numba_functions
    if "numba" in sys.modules:
        return False
    if numba_cache_problem(directory) is not None:
        return False
    os.environ.setdefault("NUMBA_CACHE_DIR", str(directory))
    _cache_all_numba_functions = True
    return True


def cache_numba_by_default() -> None:
    """Make numba.njit / numba.jit default to cache=True from now on (idempotent).

    Applied only when `enable_numba_cache` chose the cache directory, i.e. in our own worker
    or CLI process. Functions without a source file on disk are left alone (numba cannot
    locate a cache for them and would raise).
    """
    import numba

    def caching(decorator: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(decorator, "_digitmap_caching", False):
            return decorator

        def options_for(func: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            code = getattr(func, "__code__", None)
            if code is not None and os.path.isfile(code.co_filename):
                return {"cache": True, **kwargs}
            return kwargs

        @functools.wraps(decorator)
        def patched(*args: Any, **kwargs: Any) -> Any:
            if "cache" in kwargs:
                return decorator(*args, **kwargs)
            if args and inspect.isfunction(args[0]):  # numba.njit(func, ...)
                return decorator(*args, **options_for(args[0], kwargs))

            def apply(func: Any) -> Any:  # @numba.njit(...) / @numba.njit("sig")
                return decorator(*args, **options_for(func, kwargs))(func)

            return apply

        patched._digitmap_caching = True  # type: ignore[attr-defined]
        return patched

    numba.njit = caching(numba.njit)
    numba.jit = caching(numba.jit)


def cache_all_functions() -> bool:
    """Whether `enable_numba_cache` chose the cache directory in this process."""
    return _cache_all_numba_functions
