"""An export's ``command`` reproduces its points: the rule, for any state (Hypothesis).

Whatever the method and its parameters (``pca_dims`` and ``threads`` included), the view,
the box, the grid, list or grid mode, the order, the map mode and the data flags, the
``digitmap render …`` line an export records, run with ``--json``, names the same cache entry
(the same method and parameters) and selects the same points with the same labels. The map
itself is any (N, 2) array stored under the state's cache key, so each example costs a
render, not an embedding: what is tested is that the command names that entry.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitmap_tui.cache import EmbeddingCache, embedding_key
from digitmap_tui.choices import MAP_MODES, SORT_KEYS
from digitmap_tui.cli import build_parser, main
from digitmap_tui.data import load_digits
from digitmap_tui.export import export_selection
from digitmap_tui.grid import Rect
from digitmap_tui.inputs import load_inputs
from digitmap_tui.methods import registry
from digitmap_tui.methods.params import EmbedParams, available_methods
from digitmap_tui.session import Session, State


def _params(method: str) -> st.SearchStrategy[EmbedParams]:
    """Valid parameters of `method` for 1,797 points: every registry parameter drawn."""
    fields: dict[str, st.SearchStrategy[object]] = {}
    for name, p in registry.PARAMS.items():
        if name == "perplexity":
            fields[name] = st.floats(0.34, 500.0)
        elif name == "n_neighbors":
            fields[name] = st.integers(2, 200)
        elif name == "pca_dims":
            fields[name] = st.sampled_from([0, 2, 10, 50, 64, 10_000])
        elif name == "threads":
            fields[name] = st.none() | st.integers(1, 64)
        elif p.kind == "int":
            fields[name] = st.integers(int(p.lo or 0), int(p.hi or 0))
        else:
            fields[name] = st.floats(float(p.lo or 0), float(p.hi or 1e6), exclude_min=p.lo_open)
    return st.fixed_dictionaries(fields).map(lambda f: EmbedParams(method, **f))


def _rect(lo: float, hi: float) -> st.SearchStrategy[Rect]:
    edge = st.floats(lo, hi, allow_nan=False)
    return (
        st.tuples(edge, edge, edge, edge)
        .filter(lambda r: abs(r[1] - r[0]) > 1e-3 and abs(r[3] - r[2]) > 1e-3)
        .map(lambda r: Rect(min(r[:2]), max(r[:2]), min(r[2:]), max(r[2:])))
    )


STATES = st.builds(
    State,
    view=_rect(-60, 60),
    box=_rect(-40, 40),
    mode=st.sampled_from(MAP_MODES),
    grid=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    list_mode=st.booleans(),
    sort=st.sampled_from(SORT_KEYS),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The digits as the built-in set and as a flat .npy with --shape, one shared cache."""
    root = tmp_path_factory.mktemp("reproduce")
    digits = load_digits(root / "cache")
    flat = root / "digits flat.npy"  # a space: the command must quote it
    np.save(flat, digits.images.reshape(digits.n, -1))
    np.save(flat.with_name("y.npy"), digits.labels)
    return root, digits, flat


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.sampled_from(available_methods()).flatmap(_params),
    state=STATES,
    flat_file=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_an_exports_command_reproduces_its_points(
    world, params, state, flat_file, seed, monkeypatch, capsys
):
    root, _digits, flat = world
    monkeypatch.setenv("DIGITMAP_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("DIGITMAP_THREADS", "2")

    def elsewhere(*args, **kwargs):
        raise AssertionError("the command names another map: nothing is cached under its key")

    monkeypatch.setattr("digitmap_tui.jobs.compute_embedding", elsewhere)
    flags = ["--data", str(flat), "--labels", str(flat.with_name("y.npy")), "--shape", "8x8"]
    inputs = load_inputs(build_parser().parse_args(["render", *(flags if flat_file else [])]))
    inputs.params = params
    dataset = inputs.dataset
    coords = np.random.default_rng(seed).normal(scale=25, size=(dataset.n, 2))
    EmbeddingCache(root / "cache").store(embedding_key(dataset.fingerprint(), params), coords, {})
    session = Session.from_inputs(inputs, state)
    session.set_coords(coords)
    session.state = state
    chosen = session.selection().sorted(state.sort)
    out = export_selection(
        root / "export.json",
        indices=chosen,
        labels=session.labels,
        coords=coords,
        meta=session.provenance(),
        overwrite=True,
    )
    record = json.loads(Path(out).read_text())
    argv = [*shlex.split(record["command"])[1:], "--json"]
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    assert printed["method"] == record["method"] == params.method
    assert printed["params"] == record["params"] == params.resolved(dataset.n).relevant()
    assert printed["indices"] == record["indices"] == [int(i) for i in chosen]
    assert printed["labels"] == {
        str(k): int(v)
        for k, v in zip(*np.unique(session.labels[chosen], return_counts=True), strict=True)
    }
    assert printed["box"] == record["box"] and printed["view"] == record["view"]
