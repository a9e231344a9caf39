"""A label review's walk: which point comes next, and what the explorer says about it.

:class:`ReviewQueue` joins the ranked suspects (:mod:`digitmap_tui.suspects`) and the review
log (:mod:`digitmap_tui.review`): the next point to look at is the most suspicious suspect
ranked below the current one that has no decision yet (wrapping round to the top), so a
review resumed tomorrow starts where it stopped, and skipped points come round again. Every
decision goes to the log at once. The labels the map and the tiles show are the log's
corrected labels, with invalid points keeping their last label (they are marked instead);
:meth:`ReviewQueue.flags` gives the marks the tiles carry. No Textual here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from digitmap_tui.glyphs import INVALID_FLAG, RELABELLED_FLAG

if TYPE_CHECKING:
    from digitmap_tui.review import Decision, Progress, ReviewLog
    from digitmap_tui.suspects import Suspects


class ReviewQueue:
    """The suspects of one map under review, and the log their decisions go to.

    ``original`` are the dataset's labels (never changed). ``suspects`` may come later
    (:meth:`set_suspects`: they are computed in the background); until then there is nothing
    to walk, but decisions on any point still work.
    """

    def __init__(self, log: ReviewLog, original: np.ndarray) -> None:
        self.log = log
        self.original = np.asarray(original, dtype=np.int64)
        if self.original.shape != (log.n,):
            raise ValueError(f"labels: expected shape ({log.n},), got {self.original.shape}")
        self.suspects: Suspects | None = None
        self._rank: np.ndarray | None = None

    def set_suspects(self, suspects: Suspects | None) -> None:
        """The ranking to walk (``None``: none yet, e.g. while a new map's is computed)."""
        if suspects is not None and suspects.n != self.log.n:
            raise ValueError(f"suspects of {suspects.n} points for a dataset of {self.log.n}")
        self.suspects = suspects
        self._rank = None if suspects is None else suspects.rank()

    @property
    def flagged(self) -> np.ndarray:
        """The suspects (score above 0), most suspicious first; empty before any ranking."""
        if self.suspects is None:
            return np.zeros(0, dtype=np.int64)
        return self.suspects.flagged

    # ----- the walk ------------------------------------------------------------------------
    def next_suspect(self, after: int | None = None) -> int | None:
        """The most suspicious suspect without a decision ranked below ``after`` (from the top
        when ``after`` is None), else the first one from the top; None when all are decided."""
        flagged = self.flagged
        if not len(flagged):
            return None
        open_ = flagged[~self.log.reviewed_mask()[flagged]]
        if not len(open_):
            return None
        if after is None or self._rank is None:
            return int(open_[0])
        later = open_[self._rank[open_] > self._rank[after]]
        return int(later[0]) if len(later) else int(open_[0])

    def position(self, index: int) -> int | None:
        """Where ``index`` stands among the suspects (0 = most suspicious); None if not one."""
        if self._rank is None or self.suspects is None:
            return None
        rank = int(self._rank[index])
        return rank if rank < self.suspects.count else None

    # ----- decisions -----------------------------------------------------------------------
    def decide(
        self, op: str, indices: np.ndarray | list[int], label: int | None = None
    ) -> Decision:
        """One decision (``confirm``, ``relabel`` with ``label``, ``invalid``) on one point or
        a whole selection, on disk when this returns (see :meth:`ReviewLog.record`)."""
        return self.log.record(op, indices, label)

    def undo(self) -> Decision | None:
        """Take back the latest decision in force; the decision undone, or None."""
        return self.log.undo()

    # ----- what is shown -------------------------------------------------------------------
    def labels(self) -> np.ndarray:
        """The labels to show: relabels applied; invalid points keep their last label."""
        return self.log.labels(self.original, invalid=None)

    def flags(self) -> dict[int, str]:
        """Tile marks by point: :data:`RELABELLED_FLAG` where the label shown is a corrected
        one, :data:`INVALID_FLAG` where the point is not a valid sample."""
        changed = np.flatnonzero(self.log.changed_mask(self.original)).tolist()
        out = dict.fromkeys(changed, RELABELLED_FLAG)
        out.update(dict.fromkeys(np.flatnonzero(self.log.invalid_mask()).tolist(), INVALID_FLAG))
        return out

    def progress(self) -> Progress:
        return self.log.progress(self.flagged, self.original)

    def describe(self, index: int) -> str:
        """One point for the status line: ``#1118 L:3 → 7? score 0.61`` while it waits for a
        decision, ``#1118 L:3 → 7 relabelled`` (``confirmed``, ``not a valid sample``) after."""
        old = int(self.original[index])
        text = f"#{index} L:{old}"
        decision = self.log.decision_of(index)
        sus = self.suspects
        if decision == "relabel":
            new = self.log.label_of(index)
            return f"{text} → {new} relabelled" if new != old else f"{text} relabelled as {old}"
        if decision == "confirm":
            return f"{text} confirmed"
        if decision == "invalid":
            return f"{text} not a valid sample"
        if sus is None:
            return text
        score = float(sus.score[index])
        if score > 0:
            return f"{text} → {int(sus.suggested[index])}? score {score:.2f}"
        return f"{text} score {score:.2f} (not a suspect)"


__all__ = ["ReviewQueue"]
