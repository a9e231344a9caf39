"""The colours of the map, the legend and the panel's labels, for the terminal's background.

The map was designed on a dark background: :data:`DARK` holds those colours (matplotlib's
tab10 for labels, as the seed notebook's scatter; viridis for density; red to green for
purity). :func:`palette_for` fits them to a theme's background and foreground by a
measurable rule (WCAG contrast ratios, :func:`contrast`):

- label and purity glyphs: at least :data:`MIN_CONTRAST` (3:1, WCAG's minimum for graphics
  and large text) against the background; a colour short of it is moved toward the
  foreground until it has it (hue kept, lightness changed);
- density: faint where sparse and strong where dense, on either background (viridis is
  reversed on a light one) with at least :data:`DENSITY_MIN` per level;
- a dimmed cell (another label while some are focused) stays faint: :data:`FAINT`;
- the selection box's tint sets the box apart from the background (:data:`TINT`), from the
  theme's primary colour, and its corners (white or black) keep 4.5:1 against it.

On every dark built-in theme of Textual the designed colours already pass, and are kept
as they are. Plain strings only (no Rich, no Textual): the map painter, the panel and
``digitmap render`` take a :class:`Palette`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: matplotlib's ``tab10`` (the seed notebook colours its scatter plot with ``cm.tab10``).
TAB10: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: A perceptually ordered sequence (viridis, 9 steps) for density, sparse to dense.
DENSITY_COLORS: tuple[str, ...] = (
    "#46327e", "#3b528b", "#2c728e", "#21918c", "#28ae80",
    "#5ec962", "#addc30", "#d8e219", "#fde725",
)  # fmt: skip
#: Mixed (red) to pure (green) for purity mode.
PURITY_COLORS: tuple[str, ...] = ("#d62728", "#e8702a", "#e5ae38", "#bcbd22", "#7cc242", "#2ca02c")
BOX_BG = "#2a3550"
DIMMED = "#4a4a4a"
PROGRESS = "#4ea1d3"

#: Contrast of a label or purity glyph against the background (WCAG 1.4.11, 1.4.3 large).
MIN_CONTRAST = 3.0
#: Contrast of each density level, sparse to dense: sparse cells may be faint, not invisible.
DENSITY_MIN = (1.5, 2.0, 2.5, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0)
#: A dimmed cell: seen, not read first.
FAINT = (1.5, 2.6)
#: The box's tint against the background: visible as a region, never a block of colour.
TINT = (1.15, 2.0)
#: The box's corner characters against its tint.
EDGE_CONTRAST = 4.5

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Palette:
    """Colours as ``"#rrggbb"`` strings; ``dark`` is the background's side."""

    dark: bool
    background: str
    foreground: str
    labels: tuple[str, ...]
    density: tuple[str, ...]
    purity: tuple[str, ...]
    dimmed: str
    box_bg: str
    box_edge: str
    progress: str

    def label_color(self, label: int) -> str:
        """The colour of a label (cycling after the palette's length)."""
        if label < 0:
            raise ValueError(f"label must be >= 0, got {label}")
        return self.labels[label % len(self.labels)]


#: What the map was designed with (a dark terminal); also ``digitmap render``'s colours.
DARK = Palette(
    dark=True, background="#000000", foreground="#ffffff", labels=TAB10,
    density=DENSITY_COLORS, purity=PURITY_COLORS, dimmed=DIMMED, box_bg=BOX_BG,
    box_edge="#ffffff", progress=PROGRESS,
)  # fmt: skip


# ----- colour arithmetic ---------------------------------------------------------------------------
def parse_hex(color: str | None) -> tuple[int, int, int] | None:
    """``"#1f77b4"`` -> (31, 119, 180); None for anything else (``"ansi_default"``...)."""
    if not color:
        return None
    m = _HEX.fullmatch(color.strip())
    if m is None:
        return None
    v = int(m.group(1), 16)
    return v >> 16, (v >> 8) & 255, v & 255


def to_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{min(255, max(0, round(c))):02x}" for c in rgb)


@lru_cache(maxsize=4096)
def luminance(color: str) -> float:
    """WCAG relative luminance of ``"#rrggbb"``."""
    rgb = parse_hex(color)
    if rgb is None:
        raise ValueError(f"not a #rrggbb colour: {color!r}")

    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 (same) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def mix(a: str, b: str, t: float) -> str:
    """``a`` moved a fraction ``t`` of the way to ``b``."""
    ra, rb = parse_hex(a), parse_hex(b)
    assert ra is not None and rb is not None
    return to_hex(tuple(x + (y - x) * t for x, y in zip(ra, rb, strict=True)))  # type: ignore[arg-type]


def ensure_contrast(color: str, background: str, toward: str, minimum: float) -> str:
    """``color`` unchanged when it has ``minimum`` contrast against ``background``, else the
    least mix of it toward ``toward`` (the foreground) that has it."""
    if contrast(color, background) >= minimum:
        return color
    lo, hi = 0.0, 1.0
    if contrast(mix(color, toward, hi), background) < minimum:
        return toward
    for _ in range(24):
        mid = (lo + hi) / 2
        if contrast(mix(color, toward, mid), background) >= minimum:
            hi = mid
        else:
            lo = mid
    return mix(color, toward, hi)


def toward_contrast(background: str, toward: str, target: float) -> str:
    """The mix of ``background`` toward ``toward`` whose contrast against the background
    is ``target`` (or ``toward`` itself if it has less)."""
    if contrast(toward, background) <= target:
        return toward
    lo, hi = 0.0, 1.0
    for _ in range(24):
        mid = (lo + hi) / 2
        if contrast(mix(background, toward, mid), background) >= target:
            hi = mid
        else:
            lo = mid
    return mix(background, toward, hi)


# ----- a theme's palette ---------------------------------------------------------------------------
@lru_cache(maxsize=64)
def palette_for(
    background: str | None, foreground: str | None, primary: str | None, dark: bool
) -> Palette:
    """The map's colours on a theme: ``background``, ``foreground`` and ``primary`` as
    ``#rrggbb`` (None, or a colour that is not one, such as an ANSI theme's terminal
    default: black and white by ``dark``). See the module docstring for the rules."""
    bg = to_hex(parse_hex(background) or ((0, 0, 0) if dark else (255, 255, 255)))
    fg = to_hex(parse_hex(foreground) or ((255, 255, 255) if dark else (0, 0, 0)))
    accent = to_hex(parse_hex(primary) or parse_hex(fg) or (128, 128, 128))
    labels = tuple(ensure_contrast(c, bg, fg, MIN_CONTRAST) for c in TAB10)
    ramp = DENSITY_COLORS if dark else tuple(reversed(DENSITY_COLORS))
    density = tuple(ensure_contrast(c, bg, fg, m) for c, m in zip(ramp, DENSITY_MIN, strict=True))
    purity = tuple(ensure_contrast(c, bg, fg, MIN_CONTRAST) for c in PURITY_COLORS)
    dimmed = (
        DIMMED if FAINT[0] <= contrast(DIMMED, bg) <= FAINT[1] else toward_contrast(bg, fg, 2.0)
    )
    lighter = luminance(BOX_BG) > luminance(bg)
    if dark and lighter and TINT[0] <= contrast(BOX_BG, bg) <= TINT[1]:
        box_bg = BOX_BG
    else:
        # the primary colour if it stands apart from the background, else the foreground
        tint_toward = accent if contrast(accent, bg) >= 1.5 else fg
        box_bg = toward_contrast(bg, tint_toward, 1.3)
    edge = max(("#ffffff", "#000000"), key=lambda c: contrast(c, box_bg))
    progress = ensure_contrast(PROGRESS if dark else accent, bg, fg, MIN_CONTRAST)
    return Palette(dark, bg, fg, labels, density, purity, dimmed, box_bg, edge, progress)
