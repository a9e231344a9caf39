"""The label-noise benchmark in its quick form: the suspect ranking must beat the plain baseline.

This is an assertion on quality (precision at k on flipped digits labels), never on time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.label_noise import (
    BASELINE,
    KINDS,
    LOOKALIKES,
    OURS,
    evaluate,
    flip_labels,
    margins,
    precision_at_k,
    summary,
)

FIXTURE = Path(__file__).parent / "fixtures" / "digits_tsne_seed0.npy"


@pytest.mark.parametrize("kind", KINDS)
def test_flips_are_what_they_say(kind):
    labels = np.repeat(np.arange(10), 50)
    noisy, flipped = flip_labels(labels, seed=3, rate=0.1, kind=kind)
    assert len(flipped) == 50 and len(np.unique(flipped)) == 50
    changed = np.flatnonzero(noisy != labels)
    assert np.array_equal(changed, flipped)
    if kind == "lookalike":
        for i in flipped:
            assert noisy[i] in LOOKALIKES[int(labels[i])]
    again, _ = flip_labels(labels, seed=3, rate=0.1, kind=kind)
    assert np.array_equal(again, noisy)  # the seed fixes the noise


def test_precision_at_k_counts_short_rankings_as_misses():
    flipped = np.array([1, 2, 3, 4])
    assert precision_at_k(np.array([1, 9, 2, 3, 4]), flipped) == 0.75
    assert precision_at_k(np.array([4, 3]), flipped) == 0.5


def test_quick_run_beats_the_plain_baseline():
    """One seed, both kinds of noise, on the explorer's t-SNE map of the digits."""
    pytest.importorskip("cleanlab")
    result = evaluate([0], 0.05, list(KINDS), "shuffled", str(FIXTURE))
    rows = {r["kind"]: r for r in result["runs"]}
    ours = {k: rows[k][OURS]["precision_at_k"] for k in KINDS}
    base = {k: rows[k][BASELINE]["precision_at_k"] for k in KINDS}
    # Never worse than the baseline, and better where labels are confused with look-alikes.
    assert all(ours[k] >= base[k] for k in KINDS), (ours, base)
    assert ours["lookalike"] > base["lookalike"] + 0.03, (ours, base)
    assert ours["uniform"] >= 0.94
    # Above every cleanlab variant on look-alike noise, level or above on uniform noise.
    m = margins(result)
    assert m["lookalike"]["best cleanlab"] > 0
    assert m["uniform"]["best cleanlab"] >= 0
    assert rows["uniform"][OURS]["recall"] >= 0.95  # the flagged set holds the flips
    assert OURS in summary(result)
