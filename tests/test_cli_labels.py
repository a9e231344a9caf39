"""``digitmap labels export`` and the scored ``render --misfits``: review decisions out to files."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui.cli import main
from digitmap_tui.data import load_digits
from digitmap_tui.review import ReviewLog
from digitmap_tui.suspects import suspects

FIXTURE = Path(__file__).parent / "fixtures" / "digits_tsne_seed0.npy"
REPO = Path(__file__).resolve().parent.parent


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("digitmap: error: ")
    return lines[0]


def test_review_to_export_end_to_end(tmp_path, capsys):
    """Top suspect -> relabelled to the suggestion -> a fresh process's log -> exported files."""
    digits = load_digits(None)
    coords = np.load(FIXTURE, allow_pickle=False)
    found = suspects(digits.images, coords, digits.labels)
    top, second, third = (int(i) for i in found.flagged[:3])
    log = ReviewLog.for_dataset(digits)
    log.relabel([top], int(found.suggested[top]))
    log.confirm([second])
    log.invalidate([third])
    out, changes = tmp_path / "labels.npy", tmp_path / "changes.csv"
    assert main(["labels", "export", "--out", str(out), "--changes", str(changes)]) == 0
    labels = np.load(out, allow_pickle=False)
    want = digits.labels.copy()
    want[top] = found.suggested[top]
    want[third] = -1
    assert labels.dtype == np.int64 and np.array_equal(labels, want)
    rows = sorted(
        [
            f"{top},{digits.labels[top]},{found.suggested[top]},relabel",
            f"{second},{digits.labels[second]},{digits.labels[second]},confirm",
            f"{third},{digits.labels[third]},,invalid",
        ],
        key=lambda r: int(r.split(",")[0]),
    )
    assert changes.read_text().splitlines() == ["index,old,new,decision", *rows]
    csv = tmp_path / "labels.csv"
    assert main(["labels", "export", "--out", str(csv)]) == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "index,label" and len(lines) == digits.n + 1
    assert lines[1 + third] == f"{third}," and lines[1 + top] == f"{top},{found.suggested[top]}"


def test_user_data_is_never_modified(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (30, 4, 4)).astype(np.uint8)
    data, labels = tmp_path / "images.npy", tmp_path / "labels.npy"
    np.save(data, images)
    np.save(labels, rng.integers(0, 3, 30))
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (data, labels)}
    from digitmap_tui.data import load_dataset

    ds = load_dataset(str(data), labels=str(labels))
    ReviewLog.for_dataset(ds).relabel([0, 1, 2], 2)
    out = tmp_path / "fixed.npy"
    args = ["labels", "export", "--data", str(data), "--labels", str(labels), "--out", str(out)]
    assert main(args) == 0
    assert np.load(out)[:3].tolist() == [2, 2, 2]
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (data, labels)} == before


def test_without_decisions_the_originals_are_written(tmp_path, capsys):
    out = tmp_path / "l.npy"
    assert main(["labels", "export", "--out", str(out)]) == 0
    assert "no review decisions" in capsys.readouterr().err
    assert np.array_equal(np.load(out), load_digits(None).labels)


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        ([], "give --out"),
        (["--out", "{tmp}/l.txt"], "use a .npy or .csv"),
        (["--changes", "{tmp}/c.npy"], "use a .csv"),
        (["--out", "{tmp}/missing/l.npy"], "does not exist"),
        (["--out", "{tmp}"], "is a directory"),
        (["--out", "{tmp}/taken.npy"], "exists"),
        (["--changes", "{tmp}/taken.csv"], "exists"),
        (["--out", "{tmp}/same.csv", "--changes", "{tmp}/same.csv"], "same file"),
        (["--labels", "x.npy", "--out", "{tmp}/l.npy"], "need --data"),
    ],
)
def test_bad_requests_are_one_line_and_exit_2(tmp_path, capsys, extra, expect):
    (tmp_path / "taken.npy").write_bytes(b"keep")
    (tmp_path / "taken.csv").write_bytes(b"keep")
    args = ["labels", "export", *(a.replace("{tmp}", str(tmp_path)) for a in extra)]
    assert main(args) == 2
    assert expect in one_error_line(capsys)
    assert (tmp_path / "taken.npy").read_bytes() == b"keep"
    assert (tmp_path / "taken.csv").read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["taken.csv", "taken.npy"]


def test_labels_needs_an_action():
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "labels"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "digitmap labels --help" in done.stderr


def test_render_misfits_json_is_sorted_by_score(capsys):
    assert main(["render", "--embedding", str(FIXTURE), "--misfits", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    rows = record["misfits"]
    assert rows and record["count"] == len(rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:  # the old fields are all still there
        assert {"index", "label", "neighbour_label", "agreement", "score", "suggested"} <= set(r)
    assert 1118 in [r["index"] for r in rows[:8]]
