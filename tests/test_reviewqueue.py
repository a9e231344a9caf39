"""The review's walk: next suspect, marks, labels shown and the status text (no terminal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitmap_tui.review import ReviewLog
from digitmap_tui.reviewqueue import ReviewQueue
from digitmap_tui.suspects import Suspects

FP = "cd" * 32
N = 10
ORIGINAL = np.array([3, 3, 7, 7, 7, 1, 1, 8, 9, 9], dtype=np.int64)


def make_suspects(score: np.ndarray, suggested: np.ndarray | None = None) -> Suspects:
    n = len(score)
    own = np.zeros(n)
    order = np.lexsort((np.arange(n), own, -score)).astype(np.int64)
    if suggested is None:
        suggested = np.full(n, 7, dtype=np.int64)
    return Suspects(score.astype(np.float64), suggested.astype(np.int64), own, order)


def make_queue(path: Path, score: np.ndarray | None = None) -> ReviewQueue:
    q = ReviewQueue(ReviewLog(path / "r.jsonl", fingerprint=FP, n=N), ORIGINAL)
    if score is not None:
        q.set_suspects(make_suspects(score))
    return q


SCORES = np.array([0.61, -0.5, 0.2, -1.0, 0.9, 0.05, -0.2, 0.4, -0.9, 0.0])
#: Suspects (score > 0), most suspicious first.
FLAGGED = [4, 0, 7, 2, 5]


def test_the_walk_goes_down_the_ranking_skipping_decided_points(tmp_path):
    q = make_queue(tmp_path, SCORES)
    assert q.flagged.tolist() == FLAGGED
    assert q.next_suspect() == 4
    assert q.next_suspect(4) == 0
    q.decide("confirm", [0])
    assert q.next_suspect(4) == 7, "a decided point is passed over"
    assert q.next_suspect(5) == 4, "after the last one the walk starts again at the top"
    assert q.next_suspect(9) == 4, "after a point that is no suspect: the top"
    q.decide("relabel", [4, 7, 2], 1)
    assert q.next_suspect(0) == 5
    q.decide("invalid", [5])
    assert q.next_suspect() is None and q.next_suspect(3) is None
    q.undo()
    assert q.next_suspect() == 5


def test_nothing_to_walk_before_the_ranking(tmp_path):
    q = make_queue(tmp_path)
    assert q.next_suspect() is None and q.flagged.tolist() == []
    assert q.position(0) is None
    assert q.describe(0) == "#0 L:3"
    q.decide("relabel", [0], 5)  # decisions work all the same
    assert q.labels()[0] == 5


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    score=st.lists(st.floats(-1, 1), min_size=N, max_size=N),
    decided=st.sets(st.integers(0, N - 1)),
    after=st.none() | st.integers(0, N - 1),
)
def test_next_suspect_is_the_first_open_one_ranked_below(tmp_path_factory, score, decided, after):
    path = tmp_path_factory.mktemp("q")
    q = make_queue(path, np.array(score))
    if decided:
        q.decide("confirm", sorted(decided))
    sus = q.suspects
    assert sus is not None
    rank = sus.rank()
    open_ = [int(i) for i in sus.order if sus.score[i] > 0 and i not in decided]
    got = q.next_suspect(after)
    if not open_:
        assert got is None
        return
    below = [i for i in open_ if after is not None and rank[i] > rank[after]]
    assert got == (below[0] if below else open_[0])
    assert got not in decided and sus.score[got] > 0


def test_marks_labels_and_undo(tmp_path):
    q = make_queue(tmp_path, SCORES)
    q.decide("relabel", [0, 2], 7)  # 0: 3 -> 7 changed; 2: 7 -> 7 unchanged
    q.decide("invalid", [8])
    assert q.flags() == {0: "*", 8: "x"}
    shown = q.labels()
    assert shown[0] == 7 and shown[2] == 7 and shown[8] == 9, "invalid points keep their label"
    assert ORIGINAL.tolist() == [3, 3, 7, 7, 7, 1, 1, 8, 9, 9], "originals untouched"
    q.undo()
    assert q.flags() == {0: "*"}
    q.decide("confirm", [0])  # the latest decision wins
    assert q.flags() == {} and q.labels()[0] == 3


def test_the_status_text(tmp_path):
    q = make_queue(tmp_path, SCORES)
    assert q.describe(0) == "#0 L:3 → 7? score 0.61"
    assert q.describe(3) == "#3 L:7 score -1.00 (not a suspect)"
    assert q.progress().describe() == "0 of 5 reviewed, 0 relabelled"
    q.decide("relabel", [0], 7)
    q.decide("confirm", [4])
    q.decide("invalid", [7])
    assert q.describe(0) == "#0 L:3 → 7 relabelled"
    assert q.describe(4) == "#4 L:7 confirmed"
    assert q.describe(7) == "#7 L:8 not a valid sample"
    assert q.progress().describe() == "3 of 5 reviewed, 1 relabelled, 1 invalid"
    assert q.position(4) == 0 and q.position(0) == 1 and q.position(3) is None


def test_a_resumed_review_shows_the_same(tmp_path):
    q = make_queue(tmp_path, SCORES)
    q.decide("relabel", [4], 2)
    again = make_queue(tmp_path, SCORES)
    assert again.labels()[4] == 2 and again.flags() == {4: "*"}
    assert again.next_suspect() == 0


def test_suspects_of_another_dataset_are_refused(tmp_path):
    q = make_queue(tmp_path)
    with pytest.raises(ValueError):
        q.set_suspects(make_suspects(np.zeros(N + 1)))
    with pytest.raises(ValueError):
        ReviewQueue(ReviewLog(tmp_path / "x.jsonl", fingerprint=FP, n=N), ORIGINAL[:-1])
