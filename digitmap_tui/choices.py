"""The named choices that several front ends accept: one tuple each.

The command line's ``choices=``, ``config.toml``'s check, bookmarks, the session and the
renderers read them from here. Imports nothing: ``digitmap --help`` reads this module.
"""

from __future__ import annotations

#: Map modes (``--mode``, ``tab`` in the explorer); ``points`` draws every label's own points.
MAP_MODES: tuple[str, ...] = ("label", "density", "purity", "points")

#: List orders (``--sort``).
SORT_KEYS = ("index", "x", "y", "label")

#: Image glyphs (``--glyphs``, ``glyphs =`` in config.toml).
GLYPH_STYLES: tuple[str, ...] = ("blocks", "shade", "ascii")

#: Colour settings (``--colors``, ``colors =`` in config.toml).
COLOR_CHOICES: tuple[str, ...] = ("auto", "always", "16", "256", "truecolor", "none")

#: How tiles are drawn (``--images``).
IMAGE_CHOICES: tuple[str, ...] = ("auto", "blocks", "sixel", "kitty")
