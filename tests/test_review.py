"""The review log: decisions appended, replayed, undone; nothing lost when the writer dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitmap_tui.errors import InputError
from digitmap_tui.review import (
    Progress,
    ReviewLog,
    default_review_dir,
    review_path,
    write_changes,
    write_labels,
)

FP = "ab" * 32
N = 12
ORIGINAL = np.arange(N, dtype=np.int64) % 5


def open_log(path: Path, n: int = N, fp: str = FP) -> ReviewLog:
    return ReviewLog(path, fingerprint=fp, n=n, name="test")


# --------------------------------------------------------------------------- a reference model


def model_state(ops: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """(status, label) after ``ops``, computed the plain way: the stack of decisions in force."""
    stack: list[tuple] = []
    for op in ops:
        if op[0] == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(op)
    code = {"confirm": 1, "relabel": 2, "invalid": 3}
    status = np.zeros(N, dtype=np.int8)
    label = np.full(N, -1, dtype=np.int64)
    for kind, indices, lab in stack:
        for i in indices:
            status[i] = code[kind]
            label[i] = lab if kind == "relabel" else -1
    return status, label


def apply(log: ReviewLog, op: tuple) -> bool:
    """Perform ``op`` on ``log``; True if it wrote a record."""
    if op[0] == "undo":
        return log.undo() is not None
    kind, indices, lab = op
    log.record(kind, indices, lab if kind == "relabel" else None)
    return True


def expected_labels(status: np.ndarray, label: np.ndarray) -> np.ndarray:
    out = ORIGINAL.copy()
    out[status == 2] = label[status == 2]
    out[status == 3] = -1
    return out


decision_ops = st.one_of(
    st.tuples(
        st.sampled_from(["confirm", "relabel", "invalid"]),
        st.lists(st.integers(0, N - 1), min_size=1, max_size=4, unique=True),
        st.integers(0, 9),
    ),
    st.just(("undo",)),
)


# --------------------------------------------------------------------------- behaviour


def test_decisions_replay_from_the_file(tmp_path):
    path = tmp_path / "r.jsonl"
    log = open_log(path)
    assert not path.exists()  # opening writes nothing
    log.relabel([1, 2], 4)
    log.confirm([3])
    log.invalidate([4])
    log.relabel([2], 0)
    again = open_log(path)
    assert again.warning is None and again.problem is None
    assert again.labels(ORIGINAL).tolist() == [0, 4, 0, 3, -1, 0, 1, 2, 3, 4, 0, 1]
    assert again.labels(ORIGINAL, invalid=None)[4] == ORIGINAL[4]
    assert again.changed_mask(ORIGINAL).tolist() == [i in (1, 2) for i in range(N)]
    assert again.invalid_mask().tolist() == [i == 4 for i in range(N)]
    assert again.label_of(2) == 0 and again.label_of(3) is None
    assert again.changes(ORIGINAL) == [
        (1, 1, 4, "relabel"),
        (2, 2, 0, "relabel"),
        (3, 3, 3, "confirm"),
        (4, 4, None, "invalid"),
    ]


def test_undo_appends_and_brings_back_the_decision_before(tmp_path):
    path = tmp_path / "r.jsonl"
    log = open_log(path)
    log.relabel([2, 3], 4)
    log.relabel([3], 1)
    size = path.stat().st_size
    undone = log.undo()
    assert undone is not None and undone.label == 1 and undone.indices == (3,)
    assert path.stat().st_size > size  # appended, not rewritten
    assert log.labels(ORIGINAL)[[2, 3]].tolist() == [4, 4]
    assert open_log(path).labels(ORIGINAL)[[2, 3]].tolist() == [4, 4]
    log.undo()
    assert log.undo() is None  # nothing left: nothing written
    assert not log.reviewed_mask().any()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r.get("op") for r in records[1:]] == ["relabel", "relabel", "undo", "undo"]
    assert [r.get("undo") for r in records[3:]] == [2, 1]


def test_a_selection_is_one_decision_and_one_undo(tmp_path):
    log = open_log(tmp_path / "r.jsonl")
    log.confirm([0])
    log.relabel(np.array([5, 3, 5, 7]), 2)
    assert log.decisions[-1].indices == (3, 5, 7)
    log.undo()
    assert log.reviewed_mask().tolist() == [i == 0 for i in range(N)]


def test_progress_counts_suspects_reviewed_and_points_relabelled(tmp_path):
    log = open_log(tmp_path / "r.jsonl")
    log.relabel([1], 3)  # a suspect, changed
    log.relabel([2], int(ORIGINAL[2]))  # relabelled to its own label: not a change
    log.invalidate([9])  # not a suspect
    p = log.progress([1, 2, 3, 4], ORIGINAL)
    assert p == Progress(reviewed=2, total=4, relabelled=1, invalid=1, decided=3)
    assert p.describe() == "2 of 4 reviewed, 1 relabelled, 1 invalid"
    assert Progress(37, 112, 21, 0, 37).describe() == "37 of 112 reviewed, 21 relabelled"


@pytest.mark.parametrize(
    ("op", "indices", "label", "message"),
    [
        ("delete", [1], None, "decision"),
        ("relabel", [1], None, "label"),
        ("relabel", [1], -1, "label"),
        ("confirm", [1], 3, "takes no label"),
        ("confirm", [], None, "at least one"),
        ("confirm", [N], None, "0..11"),
        ("confirm", [-1], None, "0..11"),
        ("confirm", [[1, 2]], None, "1-D"),
    ],
)
def test_bad_decisions_are_refused_and_write_nothing(tmp_path, op, indices, label, message):
    path = tmp_path / "r.jsonl"
    with pytest.raises(ValueError, match=message):
        open_log(path).record(op, indices, label)
    assert not path.exists()


def test_the_default_place_is_the_data_dir_and_the_content_hash(tmp_path, monkeypatch):
    from digitmap_tui.data import Dataset

    monkeypatch.setenv("DIGITMAP_DATA_DIR", str(tmp_path))
    ds = Dataset(np.zeros((3, 2, 2)), np.array([0, 1, 1]), "tiny")
    log = ReviewLog.for_dataset(ds)
    assert default_review_dir() == tmp_path / "reviews"
    assert log.path == tmp_path / "reviews" / f"{ds.fingerprint()}.jsonl"
    log.confirm([0])
    header = json.loads(log.path.read_text().splitlines()[0])
    assert header == {
        "digitmap_review": 1,
        "fingerprint": ds.fingerprint(),
        "n": 3,
        "dataset": "tiny",
    }
    with pytest.raises(ValueError):
        review_path("../etc")


# --------------------------------------------------------------------------- damage


def test_a_damaged_last_line_is_ignored_then_cut_off(tmp_path):
    path = tmp_path / "r.jsonl"
    log = open_log(path)
    log.relabel([1], 3)
    with open(path, "ab") as fh:
        fh.write(b'{"seq": 2, "op": "rel')
    again = open_log(path)
    assert again.warning and "incomplete last decision" in again.warning
    assert again.problem is None
    assert again.labels(ORIGINAL)[1] == 3
    again.confirm([2])
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)
    assert open_log(path).warning is None


@pytest.mark.parametrize(
    "bad_line",
    [
        b"not json at all",
        b'{"seq": 2, "op": "confirm", "indices": [99]}',
        b'{"seq": 2, "op": "undo", "undo": 7}',
        b'{"seq": 2, "op": "relabel", "indices": [1]}',
        b'{"seq": true, "op": "confirm", "indices": [1]}',
        b"[1, 2, 3]",
    ],
)
def test_damage_before_the_last_line_moves_the_file_aside(tmp_path, bad_line):
    path = tmp_path / "r.jsonl"
    log = open_log(path)
    log.relabel([1], 3)
    with open(path, "ab") as fh:
        fh.write(bad_line + b"\n")
        fh.write(b'{"seq": 3, "op": "confirm", "indices": [2]}\n')  # and a good record after it
    original_bytes = path.read_bytes()
    again = open_log(path)
    assert again.problem and "damaged review file" in again.problem
    assert "\n" not in again.problem
    assert not again.reviewed_mask().any()
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == original_bytes  # never lost
    assert not path.exists()


def test_another_datasets_file_is_moved_aside(tmp_path):
    path = tmp_path / "r.jsonl"
    open_log(path, fp="cd" * 32).confirm([0])
    open_log(path, fp="cd" * 32).confirm([1])
    again = open_log(path)
    assert again.problem and "another dataset" in again.problem


def test_a_newer_format_is_left_alone(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"digitmap_review": 99, "fingerprint": FP, "n": N}) + "\n{}\n")
    before = path.read_bytes()
    with pytest.raises(InputError, match="newer digitmap-tui"):
        open_log(path)
    assert path.read_bytes() == before


def test_two_writers_on_one_file_keep_both_decisions(tmp_path):
    path = tmp_path / "r.jsonl"
    a = open_log(path)
    b = open_log(path)
    a.relabel([1], 3)
    b.relabel([2], 4)  # b catches up with a's record before appending
    a.undo()  # a catches up too; its undo takes back b's decision, the latest in force
    final = open_log(path)
    assert final.warning is None and final.problem is None
    assert final.labels(ORIGINAL)[[1, 2]].tolist() == [3, int(ORIGINAL[2])]


# --------------------------------------------------------------------------- invariants


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(decision_ops, max_size=12), data=st.data())
def test_a_kill_at_any_byte_keeps_exactly_the_decisions_written_before_it(tmp_path, ops, data):
    """Truncating the file at any offset replays to the state of the whole records before it;
    the next decision then appends cleanly after them."""
    path = tmp_path / "kill.jsonl"
    path.unlink(missing_ok=True)
    log = open_log(path)
    done: list[tuple] = []  # ops that wrote a record, with the file size after each
    ends: list[int] = []
    for op in ops:
        if apply(log, op):
            done.append(op)
            ends.append(path.stat().st_size)
    status, _ = model_state(done)
    assert np.array_equal(log.status(), status)
    size = path.stat().st_size if path.exists() else 0
    cut = data.draw(st.integers(0, size), label="cut")
    raw = path.read_bytes() if path.exists() else b""
    path.write_bytes(raw[:cut])
    kept = sum(1 for end in ends if end <= cut)
    want_status, want_label = model_state(done[:kept])
    again = open_log(path)
    assert again.problem is None
    assert np.array_equal(again.status(), want_status)
    assert np.array_equal(again.labels(ORIGINAL), expected_labels(want_status, want_label))
    # ... and the log goes on from there.
    again.confirm([0])
    status2, label2 = model_state([*done[:kept], ("confirm", [0], 0)])
    final = open_log(path)
    assert final.problem is None and final.warning is None
    assert np.array_equal(final.status(), status2)
    assert np.array_equal(final.labels(ORIGINAL), expected_labels(status2, label2))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(decision_ops, max_size=15))
def test_replay_equals_the_live_state(tmp_path, ops):
    path = tmp_path / "live.jsonl"
    path.unlink(missing_ok=True)
    log = open_log(path)
    for op in ops:
        apply(log, op)
    again = open_log(path)
    assert np.array_equal(again.status(), log.status())
    assert np.array_equal(again.labels(ORIGINAL), log.labels(ORIGINAL))
    assert again.decisions == log.decisions


# --------------------------------------------------------------------------- a killed writer

WRITER = textwrap.dedent(
    """
    import sys
    from digitmap_tui.review import ReviewLog
    log = ReviewLog(sys.argv[1], fingerprint="ab" * 32, n=1000)
    wait = sys.argv[2] == "wait"
    for i in range(1000):
        if wait:
            sys.stdin.readline()
        log.relabel([i], i % 7)
        sys.stdout.write(f"ok {i}\\n")
        sys.stdout.flush()
    """
)


def _writer(path: Path, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _acked(proc: subprocess.Popen[str], count: int) -> None:
    assert proc.stdout is not None
    for i in range(count):
        assert proc.stdout.readline() == f"ok {i}\n"


def test_sigkill_between_decisions_loses_nothing(tmp_path):
    path = tmp_path / "killed.jsonl"
    proc = _writer(path, "wait")
    assert proc.stdin is not None
    for _ in range(5):
        proc.stdin.write("\n")
        proc.stdin.flush()
    _acked(proc, 5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    log = ReviewLog(path, fingerprint="ab" * 32, n=1000)
    assert log.warning is None and log.problem is None
    assert [d.indices for d in log.decisions] == [(i,) for i in range(5)]
    assert [d.label for d in log.decisions] == [i % 7 for i in range(5)]


def test_sigkill_while_writing_keeps_every_acknowledged_decision(tmp_path):
    path = tmp_path / "racing.jsonl"
    proc = _writer(path, "run")
    _acked(proc, 40)  # the writer keeps going while we read: the kill lands anywhere
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    log = ReviewLog(path, fingerprint="ab" * 32, n=1000)
    assert log.problem is None
    kept = log.decisions
    assert len(kept) >= 40
    assert [d.indices for d in kept] == [(i,) for i in range(len(kept))]
    log.confirm([999])  # a cut-short last line (if any) is dropped before appending
    assert ReviewLog(path, fingerprint="ab" * 32, n=1000).decisions[-1].indices == (999,)


# --------------------------------------------------------------------------- export files


def test_write_labels_npy_and_csv(tmp_path):
    labels = np.array([3, -1, 7])
    npy = write_labels(tmp_path / "l.npy", labels)
    got = np.load(npy, allow_pickle=False)
    assert got.dtype == np.int64 and got.tolist() == [3, -1, 7]
    csv = write_labels(tmp_path / "l.csv", labels)
    assert csv.read_text() == "index,label\n0,3\n1,\n2,7\n"


def test_write_changes_csv(tmp_path):
    rows = [(1, 1, 4, "relabel"), (3, 3, 3, "confirm"), (4, 4, None, "invalid")]
    out = write_changes(tmp_path / "c.csv", rows)
    assert out.read_text() == (
        "index,old,new,decision\n1,1,4,relabel\n3,3,3,confirm\n4,4,,invalid\n"
    )


@pytest.mark.parametrize("name", ["l.npy", "l.csv"])
def test_exports_never_overwrite(tmp_path, name):
    target = tmp_path / name
    target.write_text("keep me")
    with pytest.raises(InputError, match="exists"):
        write_labels(target, np.array([1]))
    if name.endswith(".csv"):
        with pytest.raises(InputError, match="exists"):
            write_changes(target, [])
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


@pytest.mark.parametrize(
    ("name", "message"),
    [("l.txt", "use a"), ("missing/l.npy", "does not exist"), ("", "is a directory")],
)
def test_exports_refuse_bad_paths(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        write_labels(tmp_path / name if name else tmp_path, np.array([1]))
