"""Images as characters: half-block, shade and ASCII tiles, and the label palette.

Rich only (no Textual): a tile is a list of lines, each a list of :class:`rich.segment.Segment`
exactly ``cols`` cells wide, so the same tiles feed the Textual panel (as ``Strip``s) and the
headless ``render`` command (through a plain Rich ``Console``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

GLYPH_STYLES: tuple[str, ...] = ("blocks", "shade", "ascii")

#: matplotlib's ``tab10`` (the seed notebook colours its scatter plot with ``cm.tab10``).
TAB10: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

SHADE_RAMP = " ░▒▓█"
ASCII_RAMP = " .:-=+*#%@"

#: Lines above the image part of a tile (the "index  L:label" header).
HEADER_ROWS = 1

#: The xterm-256 grey ramp with its two ends, darkest first: black (16), the 24 greys
#: 232-255, white (231). These are exactly the 26 greys Rich maps truecolor greys onto, so
#: a 256-colour terminal shows every level faithfully, and the few distinct styles repeat
#: (and merge) far more often than arbitrary truecolor greys would.
GREY_ANSI: tuple[int, ...] = (16, *range(232, 256), 231)
GREY_LEVELS = len(GREY_ANSI)

_UPPER_HALF = "▀"
_LOWER_HALF = "▄"
_GLYPH_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------- labels


def label_color(label: int) -> str:
    """Colour of a label as ``"#rrggbb"`` (tab10, cycling for labels >= 10)."""
    if label < 0:
        raise ValueError(f"label must be >= 0, got {label}")
    return TAB10[label % len(TAB10)]


def label_glyph(label: int) -> str:
    """One character that names the class even without colour: 0-9, then a-z, then '#'."""
    if label < 0:
        raise ValueError(f"label must be >= 0, got {label}")
    # tab10 cycles after 10 and collapses to 8 colours at 16, so the glyph must carry the class.
    return _GLYPH_CHARS[label] if label < len(_GLYPH_CHARS) else "#"


@lru_cache(maxsize=256)
def label_style(label: int) -> Style:
    """Bold text in the label's colour (cached: one Style object per label)."""
    return Style(bold=True, color=label_color(label))


def glyph_style_for(console: Console) -> str:
    """The glyph style that stays legible on ``console``.

    Half blocks need colours to mean anything, and the greys need 256 colours to be told
    apart, so: 256/truecolor -> "blocks"; 16 colours, ``NO_COLOR`` or no terminal -> "shade";
    an encoding without the block characters -> "ascii".
    """
    if not console.encoding.lower().startswith("utf"):
        return "ascii"
    if console.no_color or console.color_system not in ("256", "truecolor"):
        return "shade"
    return "blocks"


# --------------------------------------------------------------------------- geometry


@lru_cache(maxsize=64)
def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix whose row i averages the inputs that output bin i covers.

    Each output bin spans ``n_in / n_out`` input pixels; a pixel cut by a bin boundary
    contributes the fraction that lies inside, so non-divisible sizes lose no ink and
    divisible ones reduce to plain block means.
    """
    edges = np.arange(n_out + 1, dtype=np.float64) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n_in, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, pixel + 1.0) - np.maximum(lo, pixel), 0.0, None)
    weights = overlap / overlap.sum(axis=1, keepdims=True)
    weights.flags.writeable = False  # shared through the cache
    return weights


def resample(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Area-average downsample of a 2-D image to (out_h, out_w), as float64.

    Axes already at or below the requested size are left as they are (no upsampling), so
    the result is ``(min(out_h, H), min(out_w, W))``.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img.shape}")
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be positive, got {out_h}x{out_w}")
    h, w = img.shape
    if out_h < h:
        img = _area_weights(h, out_h) @ img
    if out_w < w:
        img = img @ _area_weights(w, out_w).T
    return img


def _pixel_grid(image_shape: tuple[int, int], max_cols: int) -> tuple[int, int]:
    """(height, width) in pixels after shrinking the width to ``max_cols``, keeping aspect."""
    h, w = image_shape
    if h < 1 or w < 1:
        raise ValueError(f"image shape must be positive, got {image_shape}")
    if max_cols < 1:
        raise ValueError(f"max_cols must be >= 1, got {max_cols}")
    if w <= max_cols:
        return h, w
    return max(1, round(h * max_cols / w)), max_cols


def tile_size(image_shape: Sequence[int], style: str, max_cols: int) -> tuple[int, int]:
    """(cols, rows) the image part of a tile takes; the header adds ``HEADER_ROWS`` lines.

    All styles share one geometry so that falling back from blocks to shade keeps the
    layout: a half block holds two pixels, and a shade/ASCII cell averages two pixel rows
    because terminal cells are about twice as tall as wide. 8x8 -> 8x4; 28x28 with
    max_cols 14 -> 14x7.
    """
    _check_style(style)
    ph, pw = _pixel_grid((int(image_shape[0]), int(image_shape[1])), max_cols)
    return pw, math.ceil(ph / 2)


def _check_style(style: str) -> None:
    if style not in GLYPH_STYLES:
        raise ValueError(
            f"unknown glyph style {style!r}; expected one of {', '.join(GLYPH_STYLES)}"
        )


# --------------------------------------------------------------------------- styles


@lru_cache(maxsize=1024)
def _block_style(fg: int | None, bg: int) -> Style:
    """Style for a run of half blocks: fg/bg are grey levels; fg None = spaces only."""
    color = None if fg is None else Color.from_ansi(GREY_ANSI[fg])
    return Style(color=color, bgcolor=Color.from_ansi(GREY_ANSI[bg]))


def _normalise(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map values to 0..1 by (lo, hi); NaN and a degenerate range read as background."""
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 1.0 / (hi - lo) if hi > lo else 0.0
    out = (values - lo) * scale
    np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(out, 0.0, 1.0, out=out)


# --------------------------------------------------------------------------- header


def _header(index: int | None, label: int | None, cols: int, color: bool) -> list[Segment]:
    """The tile's first line: index at the left, ``L:label`` at the right, ``cols`` wide.

    When both do not fit: ``1118:3``, then the index alone (it is what ``goto`` takes),
    then the index cut with an ellipsis.
    """
    idx = "" if index is None else str(index)
    lab = "" if label is None else f"L:{label}"
    lstyle = label_style(label) if (color and label is not None) else None
    left, right = idx, lab
    if idx and lab and len(idx) + 1 + len(lab) > cols:
        compact = f"{idx}:{label}"
        if len(compact) <= cols:
            # index plain, ":label" in the label's colour, so the class still stands out
            line = [Segment(idx), Segment(compact[len(idx) :], lstyle)]
            return _pad_right(line, cols - len(compact))
        left, right = idx, ""
    elif not idx and len(lab) > cols:
        right = str(label) if len(str(label)) <= cols else _ellipsis(str(label), cols)
    left = _ellipsis(left, cols) if len(left) > cols else left
    gap = cols - len(left) - len(right)
    line = []
    if left or gap:
        line.append(Segment(left + " " * gap))
    if right:
        line.append(Segment(right, lstyle))
    return line


def _ellipsis(text: str, cols: int) -> str:
    return text[: cols - 1] + "…"


def _pad_right(line: list[Segment], n: int) -> list[Segment]:
    if n > 0:
        line.append(Segment(" " * n))
    return line


# --------------------------------------------------------------------------- image rows


def _block_runs(upper: list[int], lower: list[int]) -> list[Segment]:
    """One row of half blocks as the fewest practical runs of one style each.

    A cell whose two pixels are equal is a space that only needs a background, so it joins
    any run with that background whatever the run's foreground. A cell with two greys can
    be drawn as '▀' (fg upper, bg lower) or '▄' (fg lower, bg upper); either picture is
    the same, so pick the one that continues the current run, or, starting a run, the one
    the next cell can continue (else the darker grey as background, as the image's
    background is usually dark). Fewer runs mean fewer escape codes sent over SSH.
    """
    out: list[Segment] = []
    chars: list[str] = []
    fg: int | None = None
    bg = -1
    n = len(upper)
    for i in range(n):
        u = upper[i]
        lo = lower[i]
        if u == lo:
            if u != bg:
                if chars:
                    out.append(Segment("".join(chars), _block_style(fg, bg)))
                chars, fg, bg = [], None, u
            chars.append(" ")
            continue
        if lo == bg and (fg is None or fg == u):
            chars.append(_UPPER_HALF)
            fg = u
            continue
        if u == bg and (fg is None or fg == lo):
            chars.append(_LOWER_HALF)
            fg = lo
            continue
        if chars:
            out.append(Segment("".join(chars), _block_style(fg, bg)))
        upper_fits = lower_fits = False
        if i + 1 < n:
            nu, nl = upper[i + 1], lower[i + 1]
            if nu == nl:
                upper_fits, lower_fits = nu == lo, nu == u
            else:
                both = {nu, nl} == {u, lo}
                upper_fits = lower_fits = both
        if upper_fits == lower_fits:
            upper_fits = u > lo
        if upper_fits:
            chars, fg, bg = [_UPPER_HALF], u, lo
        else:
            chars, fg, bg = [_LOWER_HALF], lo, u
    if chars:
        out.append(Segment("".join(chars), _block_style(fg, bg)))
    return out


def _image_rows(
    img: np.ndarray, style: str, value_range: tuple[float, float], cols: int, color: bool
) -> tuple[int, list[list[Segment]]]:
    """(width, rows) of the image part, each row a list of segments ``width`` cells wide."""
    ph, pw = _pixel_grid(img.shape, cols)
    if style == "blocks" and color:
        px = _normalise(resample(img, ph, pw), value_range)
        # round half up (values are >= 0, so truncation after +0.5 is the floor)
        levels = (px * (GREY_LEVELS - 1) + 0.5).astype(np.intp)
        if ph % 2:
            # an odd pixel height leaves the last half row empty: background, not stretch
            levels = np.vstack([levels, np.zeros((1, pw), dtype=np.intp)])
        grid = levels.tolist()
        return pw, [_block_runs(grid[r], grid[r + 1]) for r in range(0, len(grid), 2)]
    # shade/ascii (and blocks without colour): one character averages two pixel rows
    ramp = ASCII_RAMP if style == "ascii" else SHADE_RAMP
    cells = _normalise(resample(img, math.ceil(ph / 2), pw), value_range)
    idx = (cells * (len(ramp) - 1) + 0.5).astype(np.intp).tolist()
    return pw, [[Segment("".join([ramp[k] for k in row]))] for row in idx]


def tile_segments(
    image: np.ndarray,
    *,
    index: int | None,
    label: int | None,
    style: str,
    value_range: tuple[float, float],
    cols: int,
    color: bool = True,
) -> list[list[Segment]]:
    """One image as a tile: a header line then the image rows, every line ``cols`` cells.

    blocks: half blocks in 26 greys (low values dark, high values white, as the digits are
    ink-high); shade ``' ░▒▓█'`` and ascii ``' .:-=+*#%@'`` carry no colour so they read
    with ``NO_COLOR``/``TERM=dumb``. ``color=False`` turns blocks into shade (half blocks
    mean nothing without colours) and drops the label colour. Adjacent cells of one style
    are merged into one segment. Image wider than ``cols`` is downsampled; narrower is
    centred.
    """
    _check_style(style)
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img.shape}")
    width, rows = _image_rows(img, style, value_range, cols, color)
    left = (cols - width) // 2
    right = cols - width - left
    header = _header(index, label, cols, color)
    lines = [header if color else _merge(header)]
    lpad = Segment(" " * left) if left else None
    rpad = Segment(" " * right) if right else None
    # Only shade/ascii rows are unstyled like the padding, so only they can merge with it.
    plain = not (color and style == "blocks")
    for row in rows:
        line = [lpad, *row] if lpad else list(row)
        if rpad:
            line.append(rpad)
        lines.append(_merge(line) if plain else line)
    return lines


def _merge(line: list[Segment]) -> list[Segment]:
    return list(Segment.simplify(line))


def tile_text(
    image: np.ndarray,
    *,
    index: int | None,
    label: int | None,
    style: str,
    value_range: tuple[float, float],
    cols: int,
) -> list[str]:
    """A tile as plain text lines (blocks fall back to shade, as they need colours)."""
    tile = tile_segments(
        image,
        index=index,
        label=label,
        style=style,
        value_range=value_range,
        cols=cols,
        color=False,
    )
    return ["".join(seg.text for seg in line) for line in tile]


def blank_tile(cols: int, rows: int) -> list[list[Segment]]:
    """An empty tile (a grid cell with no point): ``rows`` lines of ``cols`` spaces."""
    return [[Segment(" " * cols)] for _ in range(rows)]


def tiles_to_lines(tiles: Sequence[list[list[Segment]]], gap: int = 1) -> list[list[Segment]]:
    """Lay tiles side by side, ``gap`` blank columns apart; shorter tiles are padded."""
    if not tiles:
        return []
    widths = [sum(cell_len(s.text) for s in t[0]) if t else 0 for t in tiles]
    height = max(len(t) for t in tiles)
    spacer = Segment(" " * gap) if gap > 0 else None
    lines: list[list[Segment]] = []
    for y in range(height):
        line: list[Segment] = []
        for k, (tile, width) in enumerate(zip(tiles, widths, strict=True)):
            if k and spacer:
                line.append(spacer)
            if y < len(tile):
                line.extend(tile[y])
            elif width:
                line.append(Segment(" " * width))
        # unstyled gaps and paddings of neighbouring tiles join into one segment
        lines.append(_merge(line))
    return lines


class TileCache:
    """Rendered tiles of one dataset, keyed by (index, style, cols, color); LRU-bounded.

    Moving the selection box re-renders mostly the same tiles, so the panel looks them up
    here instead of converting the images again. Returned lines are fresh lists (the
    segments are shared, and immutable), so callers may append to them.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        value_range: tuple[float, float],
        maxsize: int = 2048,
    ) -> None:
        self._images = images
        self._labels = labels
        self._value_range = value_range
        self._maxsize = maxsize
        self._tiles: OrderedDict[tuple[int, str, int, bool], list[list[Segment]]] = OrderedDict()

    def get(self, index: int, style: str, cols: int, color: bool = True) -> list[list[Segment]]:
        """The tile of image ``index`` (rendered on first use)."""
        key = (index, style, cols, color)
        tile = self._tiles.get(key)
        if tile is None:
            label = None if self._labels is None else int(self._labels[index])
            tile = tile_segments(
                self._images[index],
                index=index,
                label=label,
                style=style,
                value_range=self._value_range,
                cols=cols,
                color=color,
            )
            self._tiles[key] = tile
            if len(self._tiles) > self._maxsize:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(key)
        return [list(line) for line in tile]

    def clear(self) -> None:
        """Forget every tile (e.g. when the value range or dataset changes)."""
        self._tiles.clear()
