"""Search (``/``, ``n``, ``N``): what a query names, and the order its hits are visited in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitmap_tui.data import Dataset, load_digits
from digitmap_tui.errors import InputError
from digitmap_tui.grid import Rect
from digitmap_tui.search import (
    READING_ROWS,
    Query,
    find,
    first_from,
    matches,
    parse_query,
    reading_keys,
    reading_order,
    reorder,
)
from digitmap_tui.selection import initial_view
from digitmap_tui.session import Session
from tests.factory import fixed_coords

NAMES = ("cat", "dog", "Hotdog", "bird")


# ----- queries -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "values"),
    [
        ("1118", "index", (1118,)),
        ("#1118", "index", (1118,)),
        ("  0 ", "index", (0,)),
        ("L:3", "label", (3,)),
        ("l:3", "label", (3,)),
        ("L: 3", "label", (3,)),
        ("L:dog", "label", (1,)),  # exact (any case) wins over "Hotdog" containing it
        ("DOG", "label", (1,)),
        ("do", "label", (1, 2)),  # no exact name: every name containing it
        ("BIRD", "label", (3,)),
    ],
)
def test_a_query_names_an_index_or_labels(text, kind, values):
    q = parse_query(text, n=2000, n_labels=4 if kind == "label" else 10, label_names=NAMES)
    assert (q.kind, q.values) == (kind, values)


@pytest.mark.parametrize(
    ("text", "names", "message"),
    [
        ("", None, "an empty search"),
        ("2000", None, "no point 2000: indices go from 0 to 1999"),
        ("#99999", None, "no point 99999"),
        ("L:10", None, "no label 10: labels go from 0 to 9"),
        ("L:", None, "L: needs a label"),
        ("cat", None, "the classes have no names"),
        ("fish", NAMES, "no class named fish"),
        ("L:fish", NAMES, "no class named fish"),
        ("\x1b[31mred", NAMES, "no class named \\x1b[31mred"),  # shown escaped
    ],
)
def test_a_query_that_names_nothing_says_why_in_one_line(text, names, message):
    with pytest.raises(InputError) as info:
        parse_query(text, n=2000, n_labels=10, label_names=names)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_labels_are_needed_for_a_label_search():
    with pytest.raises(InputError, match="no labels"):
        parse_query("L:1", n=10, n_labels=0)


@settings(max_examples=60, deadline=None)
@given(
    labels=arrays(np.int64, st.integers(1, 200), elements=st.integers(0, 6)),
    label=st.integers(0, 6),
)
def test_a_label_search_finds_exactly_the_points_of_that_label(labels, label):
    q = Query(f"L:{label}", "label", (label,))
    found = matches(q, len(labels), labels)
    assert np.array_equal(found, np.flatnonzero(labels == label))  # all of them, nothing else


# ----- reading order -------------------------------------------------------------------------
points = arrays(
    np.float64, st.tuples(st.integers(1, 120), st.just(2)),
    elements=st.floats(-50, 50, allow_nan=False, width=32),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(xy=points, data=st.data())
def test_hits_are_visited_in_reading_order(xy, data):
    """Every hit once; by band from the top of the map, then left to right; ties by index."""
    hits = np.array(
        sorted(data.draw(st.sets(st.integers(0, len(xy) - 1), min_size=1), label="hits")),
        dtype=np.int64,
    )
    region = initial_view(xy)
    order = reading_order(xy, hits, region)
    assert sorted(order.tolist()) == sorted(hits.tolist())
    band, x = reading_keys(xy[order], region)
    keys = list(zip(band.tolist(), x.tolist(), order.tolist(), strict=True))
    assert keys == sorted(keys)
    assert band.min() >= 0 and band.max() < READING_ROWS


@settings(max_examples=80, deadline=None)
@given(xy=points, data=st.data())
def test_a_search_starts_at_the_first_hit_at_or_after_the_box(xy, data):
    hits = np.arange(len(xy), dtype=np.int64)
    region = initial_view(xy)
    order = reading_order(xy, hits, region)
    px = data.draw(st.floats(-60, 60), label="x")
    py = data.draw(st.floats(-60, 60), label="y")
    pos = first_from(xy, order, region, (px, py))
    band, x = reading_keys(xy[order], region)
    (pb,), (ppx,) = reading_keys(np.array([[px, py]]), region)
    after = [(b, v) >= (pb, ppx) for b, v in zip(band.tolist(), x.tolist(), strict=True)]
    if any(after):
        assert after[pos] and not any(after[:pos])
    else:
        assert pos == 0  # past the last hit: wrap to the first, as vim does


@settings(max_examples=60, deadline=None)
@given(xy=points, start=st.integers(0, 10**6), steps=st.lists(st.sampled_from([1, -1])))
def test_n_and_N_undo_each_other_and_go_round(xy, start, steps):
    labels = np.zeros(len(xy), dtype=np.int64)
    hits = find(Query("L:0", "label", (0,)), xy, labels, initial_view(xy), (0.0, 0.0))
    assert hits is not None
    hits = hits.step(start)
    here = hits.current
    for step in steps:
        hits = hits.step(step)
    for step in reversed(steps):
        hits = hits.step(-step)
    assert hits.current == here
    for _ in range(len(hits)):
        hits = hits.step(1)
    assert hits.current == here


def test_status_counts_from_one():
    xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    hits = find(Query("L:0", "label", (0,)), xy, np.zeros(3, np.int64), Rect(0, 2, 0, 2), (-9, 9))
    assert hits is not None and hits.status().startswith("hit 1/3 · L:0")


# ----- the session ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def session_digits(tmp_path_factory):
    ds = load_digits(tmp_path_factory.mktemp("data"))
    return ds


def test_searching_a_label_centres_the_box_on_a_hit_and_marks_it(session_digits):
    s = Session.of(session_digits, fixed_coords())
    hits = s.search_for("L:3")
    assert hits is not None and len(hits) == int((session_digits.labels == 3).sum())
    assert s.state.mark == hits.current
    cx, cy = s.box.center
    assert np.allclose((cx, cy), s.coords[hits.current])
    first = hits.current
    nxt = s.step_search(1)
    assert nxt is not None and nxt.position == (hits.position + 1) % len(hits)
    assert s.state.mark == nxt.current != first
    back = s.step_search(-1)
    assert back is not None and back.current == first


def test_an_index_search_is_that_point(session_digits):
    s = Session.of(session_digits, fixed_coords())
    hits = s.search_for("#1118")
    assert hits is not None and hits.order.tolist() == [1118] and s.state.mark == 1118
    assert s.step_search(1).current == 1118  # type: ignore[union-attr]


def test_a_failed_search_forgets_the_last_one(session_digits):
    s = Session.of(session_digits, fixed_coords())
    s.search_for("L:1")
    with pytest.raises(InputError):
        s.search_for("L:42")
    assert s.search is None and s.step_search(1) is None


def test_hits_keep_their_place_on_a_new_embedding(session_digits):
    s = Session.of(session_digits, fixed_coords())
    s.search_for("L:7")
    s.step_search(1)
    here = s.search.current  # type: ignore[union-attr]
    s.set_coords(fixed_coords() * np.array([-1.0, 1.0]))  # another map of the same points
    moved = reorder(s.search, s.coords, s.world())  # type: ignore[arg-type]
    assert moved.current == here
    after = s.step_search(1)
    assert after is not None and after.xy is s.coords
    assert after.order.tolist() == reading_order(s.coords, after.order, s.world()).tolist()


def test_a_class_name_searches_an_image_folder():
    images = np.zeros((6, 4, 4), dtype=np.float32)
    labels = np.array([0, 1, 1, 2, 0, 1], dtype=np.int64)
    ds = Dataset(images, labels, "pets", label_names=("cat", "dog", "hotdog"))
    xy = np.arange(12, dtype=np.float64).reshape(6, 2)
    s = Session.of(ds, xy)
    hits = s.search_for("Dog")
    assert hits is not None and sorted(hits.order.tolist()) == [1, 2, 5]
