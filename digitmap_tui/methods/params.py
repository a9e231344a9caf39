"""Which method to run and its parameters: stored as given, checked in one place.

Every rule here is read off the registry (:mod:`digitmap_tui.methods.registry`): which
parameters a method takes, their ranges, which enter the cache key, how the title names them.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from digitmap_tui.errors import InputError

from . import registry
from .registry import (
    AUTO,
    AUTO_TSNE_MAX_POINTS,
    DEFAULT_PCA_DIMS,
    MIN_POINTS,
    PARAMS,
    Method,
    Param,
)
from .threads import default_threads

ProgressFn = Callable[[float, str], None]
"""Progress callback: (fraction done 0..1, phase text)."""

StopFn = Callable[[], bool]
"""Polled during long runs; returning True stops the run with `Cancelled`."""


class MissingLibraryError(ImportError, InputError):
    """An optional embedding library is not installed; the message says what to pip install."""


def installed(method: Method) -> bool:
    """Whether the library of an extra's method is installed (found without importing it)."""
    if not method.module:
        return True
    try:
        return importlib.util.find_spec(method.module) is not None
    except (ImportError, ValueError):
        return False


def available_methods() -> tuple[str, ...]:
    """The methods that can run here (those of an extra only when it is installed)."""
    return tuple(m.name for m in registry.iter_methods() if installed(m))


def auto_method(n: int) -> str:
    """What `--method auto` runs on `n` points: t-SNE up to AUTO_TSNE_MAX_POINTS, then UMAP."""
    return "tsne" if n <= AUTO_TSNE_MAX_POINTS else "umap"


def check_method(method: object) -> Method:
    """The registry's entry for `method`; `InputError` (one line) when there is none, and
    `MissingLibraryError` when its extra is not installed."""
    found = registry.get(method)
    if found is None:
        raise InputError(registry.unknown_method(method))
    if not installed(found):
        raise MissingLibraryError(found.missing_message())
    return found


def is_int(value: object) -> bool:
    """A whole number that is not a bool (numpy's integers too)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """A finite real number that is not a bool (an int too large for a float is not)."""
    if is_int(value):
        return abs(value) < 2**1023  # type: ignore[arg-type]
    return isinstance(value, (float, np.floating)) and math.isfinite(value)


def check_value(param: Param, value: object, n: int | None = None) -> None:
    """Raise `InputError` unless `value` is in `param`'s range (``n``: the number of points,
    for the parameters bounded by it)."""
    if value is None and param.optional:
        return
    if param.name == "n_neighbors" and n is not None:
        if not is_int(value) or not 2 <= value <= n - 1:  # type: ignore[operator]
            raise InputError(
                f"n_neighbors must be an integer from 2 to N-1 = {n - 1}, got {value!r}"
            )
        return
    ok = is_int(value) if param.kind == "int" else is_real(value)
    if ok:
        # Compared as given: Python compares a huge int with a float exactly, where float()
        # of it would overflow.
        number: float = value  # type: ignore[assignment]
        if param.zero_ok and number == 0:
            return
        if param.lo is not None:
            ok = number > param.lo if param.lo_open else number >= param.lo
        if ok and param.hi is not None:
            ok = number <= param.hi
    if not ok:
        raise InputError(f"{param.name} must be {param.range_text()}, got {value!r}")


def saved_value_ok(param: Param, value: object) -> bool:
    """Whether a bookmark's or export's `value` of `param` can be used at all (what depends
    on the number of points is left to `EmbedParams.validate`)."""
    try:
        check_value(param, value)
    except InputError:
        return False
    if param.name == "perplexity":
        return 3 * value >= 1  # type: ignore[operator]  # openTSNE's floor
    return True


def canonical(param: Param, value: object) -> int | float:
    """`value` as the parameter's type (the cache key's form)."""
    number: float = value  # type: ignore[assignment]
    return int(number) if param.kind == "int" else float(number)


def _check_perplexity(perplexity: float, n: int) -> None:
    # openTSNE asks for int(3 * perplexity) neighbours; zero of them fails deep inside its
    # neighbour search (affinity.PerplexityBasedNN), after seconds of work. (3 * p < 1 is
    # the same test for p > 0, and no int() of an infinite 3 * 1e308.)
    if 3 * perplexity < 1:
        raise InputError(
            f"perplexity {_word(perplexity)} is too small (t-SNE needs perplexity >= 1/3:"
            " each point needs 3 x perplexity neighbours)"
        )
    # openTSNE refuses 3 * perplexity >= N - 1 (each point needs 3*perplexity neighbours).
    limit = (n - 1) / 3
    if perplexity >= limit:
        raise InputError(
            f"perplexity {_word(perplexity)} is too large for {n} points "
            f"(t-SNE needs perplexity < (N-1)/3 = {limit:.4g})"
        )


# The parameters every method with a seed is checked for first, in this order (so that the
# first error a user meets does not depend on the method).
_CHECK_FIRST = ("pca_dims", "seed")


@dataclass(frozen=True)
class EmbedParams:
    """Which method to run and its parameters; stored as given, checked by `validate`.

    One field per parameter of the registry (:data:`registry.PARAMS`), with its default.
    """

    method: str = "tsne"
    seed: int = 0
    perplexity: float = 30.0
    n_neighbors: int = 15
    min_dist: float = 0.1
    pca_dims: int = DEFAULT_PCA_DIMS  # 0: never reduce first
    threads: int | None = None  # None: every core this process may use (`default_threads`)
    auto_choice: str = ""  # the method `auto` chose ("" when the user named one)

    @property
    def entry(self) -> Method:
        """The registry's entry for this method (KeyError for `auto` or an unknown name)."""
        return registry.METHODS[self.method]

    def choose(self, n: int) -> EmbedParams:
        """These parameters with `auto` replaced by the method it picks for `n` points."""
        if self.method != AUTO:
            return self
        method = auto_method(n)
        return replace(self, method=method, auto_choice=method)

    def resolved(self, n: int) -> EmbedParams:
        """`choose(n)` with the thread count made explicit: what a run records and describes."""
        chosen = self.choose(n)
        return chosen if chosen.threads is not None else replace(chosen, threads=default_threads())

    def thread_count(self) -> int:
        """The threads a run uses: `threads`, or every core this process may use."""
        return default_threads() if self.threads is None else int(self.threads)

    def values(self) -> dict[str, object]:
        """Every registry parameter's value, as given (what the command line shows)."""
        return {name: getattr(self, name) for name in PARAMS}

    def validate(self, n: int) -> None:
        """Raise `InputError` (one line) unless the method can run on `n` points."""
        if self.method == AUTO:
            self.choose(n).validate(n)
            return
        method = check_method(self.method)
        if n < MIN_POINTS:
            raise InputError(f"{method.label} needs at least {MIN_POINTS} points, the data has {n}")
        check_value(PARAMS["threads"], self.threads)  # every method runs on threads
        used = [p for p in _CHECK_FIRST if p in method.params]
        used += [p for p in method.params if p not in used and p != "threads"]
        for name in used:
            check_value(PARAMS[name], getattr(self, name), n)
            if name == "perplexity":
                _check_perplexity(self.perplexity, n)

    def relevant(self) -> dict[str, object]:
        """Everything that changes the method's coordinates, in canonical types (the cache key).

        The registry's keyed parameters of the method, in its order: the seed where it
        matters; the PCA reduction and the thread count for the methods whose result depends
        on them (openTSNE's does; the kNN of UMAP and PaCMAP run on as many threads).
        `threads` None counts as `default_threads()`. PCA has none.
        """
        method = registry.get(self.method)
        if method is None:
            return {}
        found: dict[str, object] = {}
        for name in method.params:
            param = PARAMS[name]
            if not param.keyed:
                continue
            if name == "threads":
                found[name] = self.thread_count()
            else:
                value = getattr(self, name)
                found[name] = int(value) if param.kind == "int" else float(value)
        return found

    def describe(self) -> str:
        """A short human label, e.g. "t-SNE perplexity 30 seed 0".

        Settings left at their defaults stay out of it (the PCA reduction to 50, all cores);
        an explicit thread count, another reduction and a choice made by `auto` are shown:
        "t-SNE perplexity 30 seed 0 threads 2 (auto)".
        """
        if self.method == AUTO:
            return f"auto (t-SNE up to {AUTO_TSNE_MAX_POINTS:,} points, UMAP above)"
        method = registry.get(self.method)
        if method is None:
            return str(self.method)
        words = [method.label]
        quiet: list[str] = []
        for name in method.params:
            param, value = PARAMS[name], getattr(self, name)
            if param.shown:
                words += [name, _word(value)]
            elif value is not None and value != param.default:
                quiet += [param.short, "off" if param.zero_ok and value == 0 else _word(value)]
        words += quiet
        if self.auto_choice and self.auto_choice == self.method:
            words.append("(auto)")
        return " ".join(words)


def _word(value: object) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = str(value)
        return text if len(text) <= 20 else f"{text[:6]}…({len(text)} digits)"
    try:
        return f"{value:g}"
    except (TypeError, ValueError):
        return str(value)


def library_version(method: str) -> str:
    """The versions of the libraries behind `method`, e.g. "openTSNE 1.0.4", without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    found = registry.get(method)
    if found is None:
        raise InputError(registry.unknown_method(method))
    parts = []
    for dist in found.distributions:
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return ", ".join(parts)
