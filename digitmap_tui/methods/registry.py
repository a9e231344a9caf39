"""The one table of embedding methods and their parameters.

Everything that names a method or a parameter is derived from :data:`METHODS` and
:data:`PARAMS`: the command line's ``--method`` choices and flags (with their help), the
``config.toml`` check, the Python API's keyword arguments, bookmark and export validation,
the cache key (:meth:`EmbedParams.relevant`), the title's description, the reproducing
``digitmap render …`` line, which methods can place new rows, and the explorer's method keys
and palette entries. ``tests/methods/test_registry.py`` registers a throw-away method and
finds it in each of these.

Adding a method is one :class:`Method` entry here plus its runner: a module with
``run(features, params, progress, stop, limit) -> (N, 2) array`` that imports its library
lazily (see ``tsne.py``).

Importing this module is cheap on purpose (no numpy, no ``typing``, no ``dataclasses``):
``digitmap --help`` and every flag error read it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: this module is on --help's path
if TYPE_CHECKING:
    from collections.abc import Iterator

AUTO = "auto"
"""The method name that picks t-SNE or a faster method by the number of points."""

MIN_POINTS = 5
"""Fewer points than this cannot make a meaningful map with any method."""

MAX_SEED = 2**32 - 1  # numpy's RandomState, used by openTSNE and umap, takes 32-bit seeds
MAX_THREADS = 1024
MAX_PCA_DIMS = 10_000

DEFAULT_PCA_DIMS = 50
"""t-SNE, UMAP and PaCMAP first reduce wider data to this many principal components (the
standard practice for pixel data: Kobak & Berens 2019, openTSNE's documentation)."""

# `--method auto`: t-SNE up to this many points, UMAP above. Where the two take as long, end
# to end on MNIST-like 28x28 images on 2 cores (t-SNE / UMAP with numba's cache filled:
# 6.6 / 17 s at 2,000 points, 14 / 13 s at 5,000, 50 / 19 s at 10,000, 68 / 20 s at 20,000,
# 90 / 35 s at 40,000). Changing it changes which method `auto` runs, never what a named
# method computes.
AUTO_TSNE_MAX_POINTS = 5_000


class Param:
    """One embedding parameter: its type, default, range, flag and help.

    ``kind`` is ``"int"`` or ``"float"``; ``lo``/``hi`` bound it (inclusive; ``lo_open``
    makes the lower bound exclusive); ``zero_ok`` admits 0 below ``lo`` (``pca_dims`` 0 is
    off); ``optional`` admits None (``threads`` None: every core). ``keyed``: part of the
    cache key of the methods that use it. ``shown``: in the title's description even at its
    default (else only when changed, as ``pca`` and ``threads``).
    """

    __slots__ = (
        "default", "help", "hi", "keyed", "kind", "lo", "lo_open", "name", "optional",
        "short", "shown", "zero_ok",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        kind: str,
        default: object,
        help: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        zero_ok: bool = False,
        optional: bool = False,
        keyed: bool = True,
        shown: bool = True,
        short: str = "",
    ) -> None:
        self.name, self.kind, self.default, self.help = name, kind, default, help
        self.lo, self.hi, self.lo_open, self.zero_ok = lo, hi, lo_open, zero_ok
        self.optional, self.keyed, self.shown = optional, keyed, shown
        self.short = short or name  # the word in the title: "pca 30", "threads 2"

    @property
    def flag(self) -> str:
        """The command-line flag: ``n_neighbors`` -> ``--n-neighbors``."""
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """The admitted values in words, for errors and help."""
        if self.kind == "int":
            text = f"an integer from {self.lo} to {self.hi}"
            return f"0 (off) or {text}" if self.zero_ok else text
        if self.lo_open and self.hi is None:
            return f"a number > {self.lo:g}"
        return f"a number from {self.lo:g} to {self.hi:g}"

    def expectation(self) -> str:
        """The admitted values as a saved file's check says them ("a whole number from …")."""
        if self.name == "perplexity":
            return "a number >= 1/3"  # openTSNE's floor: 3 x perplexity neighbours
        return self.range_text().replace("an integer", "a whole number")

    def __repr__(self) -> str:
        return f"Param({self.name!r})"


class Method:
    """One embedding method: what runs it, what it needs, what it can do.

    ``params``: the names (in :data:`PARAMS`) the method uses, in cache-key order.
    ``runner``: ``"module:function"``, imported when the method runs; a module name with a
    leading dot is one of ``digitmap_tui.methods`` (``".tsne:run"``).
    ``distributions``: the installed distributions whose versions change its results
    (part of the cache key). ``pip``: what to install for its library; ``extra``: the
    package extra that brings it (None: a core dependency). ``numba``: runs on numba (its
    cache helps). ``placeable``: can place new rows onto a fitted map (``--fit-sample``).
    ``instant``: takes milliseconds at digits size (no PCA preview is shown while it runs).
    ``key``: the explorer key that switches to it. ``module``: the import name that tells
    whether the library is installed (checked without importing it) when it is an extra.
    """

    __slots__ = (
        "distributions", "extra", "instant", "key", "label", "module", "name", "numba",
        "params", "pip", "placeable", "runner",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        label: str,
        params: tuple[str, ...],
        runner: str,
        *,
        distributions: tuple[str, ...],
        pip: str = "",
        extra: str | None = None,
        module: str = "",
        numba: bool = False,
        placeable: bool = False,
        instant: bool = False,
        key: str = "",
    ) -> None:
        self.name, self.label, self.params, self.runner = name, label, params, runner
        self.distributions, self.pip, self.extra = distributions, pip, extra
        self.module, self.numba, self.placeable, self.key = module, numba, placeable, key
        self.instant = instant

    @property
    def randomised(self) -> bool:
        """Whether a seed enters its result (PCA: deterministic, no parameters)."""
        return "seed" in self.params

    def missing_message(self) -> str:
        """The one line for a run whose library is not installed."""
        if self.extra:
            return (
                f"method {self.name!r} needs the {self.extra} extra:"
                f" pip install 'digitmap-tui[{self.extra}]'"
            )
        return f"{self.label} needs {self.pip}: pip install {self.pip}"

    def __repr__(self) -> str:
        return f"Method({self.name!r})"


_SHARED = ("seed", "pca_dims", "threads")

PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("seed", "int", 0, "random seed (default 0)", lo=0, hi=MAX_SEED),
        Param("perplexity", "float", 30.0, "t-SNE perplexity (default 30)", lo=0, lo_open=True),
        Param("n_neighbors", "int", 15, "UMAP n_neighbors (default 15)", lo=2, hi=10**6),
        Param("min_dist", "float", 0.1, "UMAP min_dist (default 0.1)", lo=0, hi=1),
        Param(
            "pca_dims",
            "int",
            DEFAULT_PCA_DIMS,
            "reduce wider data to this many principal components before t-SNE, UMAP or "
            "PaCMAP (default 50; 0: off)",
            lo=2,
            hi=MAX_PCA_DIMS,
            zero_ok=True,
            shown=False,
            short="pca",
        ),
        Param(
            "threads",
            "int",
            None,
            "threads for t-SNE, UMAP and PaCMAP (default: every core this process may use; "
            "the count is part of the cache key, as t-SNE's result depends on it)",
            lo=1,
            hi=MAX_THREADS,
            optional=True,
            shown=False,
        ),
    )
}
"""Every embedding parameter by name (the order of the command line's flags)."""

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "pca",
            "PCA",
            (),
            ".pca:run",
            distributions=("numpy",),
            placeable=True,
            instant=True,
            key="p",
        ),
        Method(
            "tsne",
            "t-SNE",
            ("perplexity", *_SHARED),
            ".tsne:run",
            distributions=("openTSNE",),
            pip="openTSNE",
            placeable=True,
            key="t",
        ),
        Method(
            "umap",
            "UMAP",
            ("n_neighbors", "min_dist", *_SHARED),
            ".umap:run",
            distributions=("umap-learn", "pynndescent", "numba"),
            pip="umap-learn",
            numba=True,
            placeable=True,
            key="u",
        ),
        Method(
            "pacmap",
            "PaCMAP",
            ("n_neighbors", *_SHARED),
            ".pacmap:run",
            distributions=("pacmap",),
            pip="pacmap",
            extra="pacmap",
            module="pacmap",
            numba=True,
            key="P",
        ),
    )
}
"""Every method by name; those with an ``extra`` are checked when asked for."""


def names() -> tuple[str, ...]:
    """Every method's name, in the table's order."""
    return tuple(METHODS)


def choices() -> tuple[str, ...]:
    """What ``--method`` (and ``method =`` in config.toml) accepts: ``auto`` and every name."""
    return (AUTO, *METHODS)


def get(name: object) -> Method | None:
    """The method called ``name``, or None."""
    return METHODS.get(name) if isinstance(name, str) else None


def method_help() -> str:
    """The ``--method`` help line."""
    listed = ", ".join(choices())
    return f"{listed} (default auto: t-SNE for up to {AUTO_TSNE_MAX_POINTS:,} points, UMAP above)"


def unknown_method(method: object) -> str:
    """The one line for a method name not in the table."""
    return f"unknown method {method!r} (choose from {', '.join(choices())})"


def twin_of(method: str) -> str:
    """The method of the map shown beside `method`'s (the twin map, ``plot --twin``):
    t-SNE's twin is UMAP, every other map's (an embedding file's too: "") is t-SNE."""
    return "umap" if method == "tsne" else "tsne"


def uses(param: str) -> tuple[str, ...]:
    """The methods that take ``param``."""
    return tuple(m.name for m in METHODS.values() if param in m.params)


class registered:
    """``with registered(Method(...)):`` a method in the table for a while: how the tests
    prove that everything is derived from it. (A new *parameter* also needs its field on
    :class:`~digitmap_tui.methods.params.EmbedParams`.)"""

    def __init__(self, method: Method) -> None:
        self.method = method

    def __enter__(self) -> Method:
        if self.method.name in METHODS or self.method.name == AUTO:
            raise ValueError(f"a method {self.method.name!r} is registered already")
        unknown = [p for p in self.method.params if p not in PARAMS]
        if unknown:
            raise ValueError(f"unknown parameters {unknown}")
        METHODS[self.method.name] = self.method
        return self.method

    def __exit__(self, *exc: object) -> None:
        METHODS.pop(self.method.name, None)


def iter_methods() -> Iterator[Method]:
    """Every method in the table's order."""
    return iter(tuple(METHODS.values()))
