"""digitmap-tui: a keyboard-first terminal explorer for 2-D embeddings of image datasets.

The Python API, ``from digitmap_tui import embed, explore, plot``, is loaded on first use:
``import digitmap_tui`` itself stays as cheap as ``digitmap --version`` needs it to be.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Not `from typing import ...`: importing typing costs `digitmap --version` a tenth of
# Python's own start-up (the same rule as cli.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from digitmap_tui.api import NoTerminalError, embed, explore, plot

_API = ("embed", "explore", "plot", "NoTerminalError")
__all__ = ["NoTerminalError", "__version__", "embed", "explore", "plot"]


def __getattr__(name: str) -> Any:
    if name in _API:
        from digitmap_tui import api

        return getattr(api, name)
    raise AttributeError(f"module 'digitmap_tui' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
