"""The session model: state in data coordinates, its operations, and its round trip to a dict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitmap_tui.data import load_digits
from digitmap_tui.errors import InputError
from digitmap_tui.grid import SORT_KEYS, Rect, inside
from digitmap_tui.maprender import MAP_MODES
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.selection import default_box, initial_view
from digitmap_tui.session import Session, State
from tests.factory import fixed_coords

finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def rects(draw):
    x0, y0 = draw(finite), draw(finite)
    return Rect(x0, x0 + draw(st.floats(1e-3, 1e6)), y0, y0 + draw(st.floats(1e-3, 1e6)))


@st.composite
def states(draw):
    return State(
        view=draw(st.none() | rects()),
        box=draw(st.none() | rects()),
        mode=draw(st.sampled_from(MAP_MODES)),
        grid=(draw(st.integers(1, 64)), draw(st.integers(1, 64))),
        list_mode=draw(st.booleans()),
        sort=draw(st.sampled_from(SORT_KEYS)),
        page=draw(st.integers(0, 1000)),
        focus=draw(st.none() | st.frozensets(st.integers(0, 9), min_size=1)),
        mark=draw(st.none() | st.integers(0, 1796)),
        mean_grid=draw(st.booleans()),
    )


@given(states())
def test_state_round_trips_through_json(state):
    data = json.loads(json.dumps(state.to_dict()))
    assert State.from_dict(data, 1797) == state


BAD = [
    ({"grid": ["a", "b"]}, "grid"),
    ({"grid": [1e5, 1e5]}, "grid"),
    ({"grid": [100000, 2]}, "grid"),
    ({"grid": [0, 0]}, "grid"),
    ({"grid": [True, 2]}, "grid"),
    ({"view": [0, 1, 2]}, "view"),
    ({"view": [1, 0, 0, 1]}, "view"),
    ({"box": [0, "x", 0, 1]}, "box"),
    ({"box": [0, float("inf"), 0, 1]}, "box"),
    ({"view": [0, 1e-320, 0, 1]}, "view"),
    ({"mode": "rainbow"}, "mode"),
    ({"sort": "\x1b]52;c;x\x07"}, "sort"),
    ({"page": -1}, "page"),
    ({"mark": 5000}, "mark"),
    ({"focus": "3"}, "focus"),
    ({"list_mode": "yes"}, "list_mode"),
]


@pytest.mark.parametrize(("data", "field"), BAD)
def test_bad_state_is_one_line_naming_the_field(data, field):
    with pytest.raises(InputError) as info:
        State.from_dict(data, 1797)
    message = str(info.value)
    assert message.startswith(field) and "\n" not in message and "\x1b" not in message


@given(
    st.dictionaries(
        st.sampled_from(
            ["view", "box", "grid", "mode", "sort", "page", "mark", "focus", "list_mode", "other"]
        ),
        st.none() | st.integers() | st.floats() | st.text() | st.lists(finite),
    )
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_state_is_accepted_or_refused_in_one_line(data):
    try:
        State.from_dict(data, 10)
    except InputError as exc:
        assert "\n" not in str(exc)


def _session(state: State | None = None) -> Session:
    import tempfile
    from pathlib import Path

    from tests.factory import TSNE_FIXTURE  # noqa: F401  (the fixture file the coords come from)

    ds = load_digits(Path(tempfile.mkdtemp()))
    return Session.of(ds, fixed_coords(), state)


def test_a_new_session_opens_at_the_initial_view_with_the_middle_fifth():
    s = _session()
    assert s.view == s.home == initial_view(fixed_coords())
    assert s.box == default_box(s.home)
    assert s.selection().indices.tolist() == inside(fixed_coords(), s.box).tolist()


def test_view_operations_never_change_the_box():
    s = _session()
    box = s.box
    s.zoom(0.5)
    s.pan(3, -2, (80, 30))
    s.zoom_to_box()
    s.zoom(3.0, (100.0, 100.0))
    s.reset_view()
    s.cycle_mode()
    s.change_grid(2, -1)
    s.toggle_list()
    s.cycle_sort()
    assert s.box == box


def test_a_method_switch_moves_the_box_to_its_points():
    s = _session()
    before = s.selection().indices
    flipped = fixed_coords() * np.array([-2.0, 0.5])
    note = s.set_coords(flipped, EmbedParams(method="umap"))
    assert note and "box moved" in note
    assert s.view == initial_view(flipped)
    after = set(s.selection().indices.tolist())
    assert len(after & set(before.tolist())) > 0.8 * len(before)


def test_clusters_are_found_on_the_embedding_alone():
    s = _session()
    a = s.clusters(1)
    s.zoom(0.25)
    s.pan(5, 5, (50, 20))
    assert s.clusters(1) == a
    found = s.go_to_cluster(1, 0)
    assert found is not None
    labels = s.dataset.labels
    assert np.bincount(labels[s.selection().indices], minlength=10).argmax() == 1


def test_apply_dict_restores_what_to_dict_wrote():
    s = _session()
    s.move_box(3, 2, (100, 30))
    s.zoom(0.5)
    s.cycle_mode()
    saved = json.loads(json.dumps(s.to_dict()))
    other = _session()
    other.apply_dict(saved)
    assert other.state == s.state
    assert other.selection().indices.tolist() == s.selection().indices.tolist()


def test_render_command_reproduces_the_box_exactly():
    import shlex

    s = _session()
    s.move_box(7, -3, (97, 31))
    words = shlex.split(s.render_command())
    box = next(w for w in words if w.startswith("--box=")).split("=", 1)[1]
    assert Rect.parse(box, "--box") == s.box


def test_page_of_finds_the_page_of_a_listed_point():
    s = _session()
    s.toggle_list()
    listed = s.sorted(s.selection().indices)
    assert len(listed) > 5
    assert s.page_of(int(listed[5]), 4) == 1
    assert s.page_of(-1, 4) is None


def test_corrected_labels_show_everywhere_and_keep_the_state():
    """set_labels: map bins, the selection's histogram and label order use the corrected
    labels; the view, box and mark stay; the dataset is never changed; back to None."""
    from digitmap_tui.grid import bin_points, label_histogram, list_select

    s = _session()
    s.center_on(1118)
    s.zoom(0.5)
    state = s.state
    original = s.dataset.labels.copy()
    corrected = original.copy()
    box = s.selection().indices
    corrected[box] = 7  # relabel the whole box
    corrected[1118] = 7
    assert s.set_labels(corrected) is True
    assert s.state == state
    assert np.array_equal(s.dataset.labels, original), "the input stays as it was"
    sel = s.selection()
    assert np.array_equal(sel.histogram, label_histogram(corrected, box, 10))
    assert sel.pairs == ((7, len(box)),)
    assert np.array_equal(sel.page("label"), list_select(s.coords, s.box, corrected, "label"))
    binned = s.bin(s.view, 40, 20)
    assert np.array_equal(binned.majority, bin_points(s.coords, corrected, s.view, 40, 20).majority)
    assert s.set_labels(corrected) is False, "the same labels again: nothing to redo"
    assert s.set_labels(original.copy()) is True and s.corrected is None
    assert np.array_equal(s.selection().histogram, label_histogram(original, box, 10))


def test_a_new_label_widens_the_label_count_and_bad_labels_are_refused():
    s = _session()
    corrected = s.dataset.labels.copy()
    corrected[0] = 12
    s.set_labels(corrected)
    assert s.n_labels == 13 and s.selection().histogram.shape == (13,)
    with pytest.raises(ValueError):
        s.set_labels(corrected[:-1])
    corrected[0] = -1
    with pytest.raises(ValueError):
        s.set_labels(corrected)
    corrected[0] = 256  # above what the map's label counts allow
    with pytest.raises(ValueError):
        s.set_labels(corrected)


def test_the_content_hash_is_worked_out_only_when_asked_for():
    """A render without a cache never hashes the images (0.55 s for 10M of them)."""
    import tempfile
    from pathlib import Path

    dataset = load_digits(Path(tempfile.mkdtemp()))
    session = Session.of(dataset, fixed_coords())
    session.selection()
    assert "fingerprint" not in dataset._memo
    assert session.source.fingerprint == dataset.fingerprint()
