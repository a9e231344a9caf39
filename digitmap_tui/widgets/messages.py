"""What background work tells the explorer: past-tense messages posted by workers.

Workers (the embedding job's watcher, analysis threads) never touch a widget: they post one
of these to the explorer screen, whose handlers update the session and redraw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from textual.message import Message


class EmbeddingProgressed(Message):
    """The running embedding reported progress (``fraction`` in [0, 1])."""

    def __init__(self, description: str, fraction: float, phase: str) -> None:
        super().__init__()
        self.description = description
        self.fraction = fraction
        self.phase = phase


class EmbeddingFinished(Message):
    """An embedding is ready: for the main map, or for the twin map."""

    def __init__(
        self, params: Any, coords: np.ndarray, target: str, note: str | None = None
    ) -> None:
        super().__init__()
        self.params = params
        self.coords = coords
        self.target = target
        self.note = note  # one line: why the result was not cached, or numba's cache unused


class EmbeddingFailed(Message):
    """The embedding failed (``message`` is one line) or was cancelled (``cancelled``)."""

    def __init__(self, description: str, message: str, cancelled: bool = False) -> None:
        super().__init__()
        self.description = description
        self.message = message
        self.cancelled = cancelled


class AnalysisFinished(Message):
    """A background analysis (misfits, quality, a split …) finished with ``result``."""

    def __init__(self, kind: str, key: Any, result: Any) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self.result = result


class AnalysisFailed(Message):
    """A background analysis raised; ``message`` is one line for the user."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__()
        self.kind = kind
        self.message = message
