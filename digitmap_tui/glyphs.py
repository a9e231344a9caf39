"""Images as characters: half-block, shade and ASCII tiles, and the label palette.

Rich only (no Textual): a tile is a list of lines, each a list of :class:`rich.segment.Segment`
exactly ``cols`` cells wide, so the same tiles feed the Textual panel (as ``Strip``s) and the
headless ``render`` command (through a plain Rich ``Console``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

# TAB10: matplotlib's tab10, the seed notebook's scatter colours (palette.py fits it to a theme).
from digitmap_tui import choices
from digitmap_tui.palette import TAB10 as TAB10
from digitmap_tui.text import safe

if TYPE_CHECKING:
    from digitmap_tui.palette import Palette

GLYPH_STYLES: tuple[str, ...] = choices.GLYPH_STYLES

SHADE_RAMP = " ░▒▓█"
ASCII_RAMP = " .:-=+*#%@"

#: Lines above the image part of a tile (the "index  L:label" header).
HEADER_ROWS = 1

#: Marks after a tile's label for a label review's decisions (ASCII: legible in 16 colours,
#: without colour and on the Linux console): the label shown is a corrected one, or the image
#: is not a valid sample (its tile is also dimmed).
RELABELLED_FLAG = "*"
INVALID_FLAG = "x"

#: The xterm-256 grey ramp with its two ends, darkest first: black (16), the 24 greys
#: 232-255, white (231). These are exactly the 26 greys Rich maps truecolor greys onto, so
#: a 256-colour terminal shows every level faithfully, and the few distinct styles repeat
#: (and merge) far more often than arbitrary truecolor greys would.
GREY_ANSI: tuple[int, ...] = (16, *range(232, 256), 231)
GREY_LEVELS = len(GREY_ANSI)

#: Rec. 601 luma weights: colour images fall back to this grey on 16 colours and ASCII.
_LUMA = np.array([0.299, 0.587, 0.114])

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


@lru_cache(maxsize=1024)
def palette_label_style(palette: Palette, label: int) -> Style:
    """Bold text in the label's colour on a theme's palette."""
    return Style(bold=True, color=palette.label_color(label))


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


def resample(image: np.ndarray, out_h: int, out_w: int, upsample: bool = False) -> np.ndarray:
    """Area-average resample of an (H, W) or (H, W, C) image to (out_h, out_w), as float64.

    Each output pixel is the area-weighted mean of the input pixels it covers. Without
    ``upsample``, axes already at or below the requested size are left as they are, so the
    result is ``(min(out_h, H), min(out_w, W))``; with it, they are enlarged too (an integer
    factor repeats pixels exactly: nothing is invented).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {img.shape}")
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be positive, got {out_h}x{out_w}")
    h, w = img.shape[:2]
    if out_h < h or (upsample and out_h > h):
        weights = _area_weights(h, out_h)
        img = weights @ img if img.ndim == 2 else np.einsum("oh,hwc->owc", weights, img)
    if out_w < w or (upsample and out_w > w):
        weights = _area_weights(w, out_w)
        img = img @ weights.T if img.ndim == 2 else np.einsum("ow,hwc->hoc", weights, img)
    return img


def luminance(image: np.ndarray) -> np.ndarray:
    """Grey version of an (H, W, 3) RGB image (Rec. 601 weights); a 2-D image unchanged."""
    img = np.asarray(image)
    if img.ndim == 2:
        return img
    return np.asarray(img, dtype=np.float64) @ _LUMA


def _pixel_grid(image_shape: Sequence[int], max_cols: int, scale: int = 1) -> tuple[int, int]:
    """(height, width) in pixels: the image enlarged ``scale`` times, then shrunk (keeping
    its aspect) to at most ``max_cols`` pixels wide."""
    h, w = int(image_shape[0]), int(image_shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"image shape must be positive, got {tuple(image_shape)}")
    if max_cols < 1:
        raise ValueError(f"max_cols must be >= 1, got {max_cols}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    h, w = h * scale, w * scale
    if w <= max_cols:
        return h, w
    return max(1, round(h * max_cols / w)), max_cols


def tile_size(
    image_shape: Sequence[int], style: str, max_cols: int, scale: int = 1
) -> tuple[int, int]:
    """(cols, rows) the image part of a tile takes; the header adds ``HEADER_ROWS`` lines.

    All styles share one geometry so that falling back from blocks to shade keeps the
    layout: a half block holds two pixels, and a shade/ASCII cell averages two pixel rows
    because terminal cells are about twice as tall as wide. 8x8 -> 8x4; 28x28 with
    max_cols 14 -> 14x7; 8x8 at ``scale`` 2 -> 16x8.
    """
    _check_style(style)
    ph, pw = _pixel_grid(image_shape, max_cols, scale)
    return pw, math.ceil(ph / 2)


#: The narrowest tile worth drawing: a 4-digit index still fits its header.
MIN_TILE_COLS = 4


def fit_tiles(
    image_shape: Sequence[int],
    panel_w: int,
    panel_h: int,
    rows: int,
    cols: int,
    style: str,
    scale: int = 1,
    *,
    gap: int = 1,
    max_cols: int | None = None,
) -> tuple[int, int, int, int]:
    """The tile size that lets a ``rows x cols`` grid of tiles fill a panel without cutting one.

    Returns ``(tile_cols, tile_rows, hidden_rows, hidden_cols)``: each tile's image part is
    ``tile_cols x tile_rows`` cells (plus ``HEADER_ROWS``; tiles sit ``gap`` columns apart,
    rows of tiles directly below each other), and ``hidden_rows``/``hidden_cols`` grid rows
    and columns do not fit even at the smallest legible tile (``MIN_TILE_COLS`` wide, as
    tall as the image's aspect makes it): show them as "+N rows/cols not shown", never as
    half a tile. A panel too small for one such tile still gets one, smaller.

    The image is shown at its own size times ``scale`` (``scale`` 2 draws an 8x8 image 16
    columns x 8 rows) unless the panel is smaller, when it is shrunk, aspect kept, by area
    averaging. ``max_cols`` caps the width as the fixed tile width of old did. Pass the
    result's ``tile_cols`` and ``scale`` to :func:`tile_segments` / :class:`TileCache`.
    """
    _check_style(style)
    if rows < 1 or cols < 1:
        raise ValueError(f"grid must be at least 1x1, got {rows}x{cols}")
    h, w = int(image_shape[0]), int(image_shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"image shape must be positive, got {tuple(image_shape)}")
    panel_w, panel_h = max(0, panel_w), max(0, panel_h)
    # the smallest legible tile: MIN_TILE_COLS wide (or the image's own width, if smaller)
    min_w = min(MIN_TILE_COLS, w * scale)
    min_rows = math.ceil(_scaled_height(h, w, scale, min_w) / 2)
    visible_cols = min(cols, max(1, (panel_w + gap) // (min_w + gap)))
    visible_rows = min(rows, max(1, panel_h // (HEADER_ROWS + min_rows)))
    room_w = max(1, (panel_w + gap) // visible_cols - gap)
    room_h = max(1, panel_h // visible_rows - HEADER_ROWS)
    want = w * scale if max_cols is None else min(w * scale, max_cols)
    width = max(1, min(want, room_w))
    # the widest image whose height (two pixel rows a cell) also fits
    while width > 1 and math.ceil(_scaled_height(h, w, scale, width) / 2) > room_h:
        width -= 1
    tile_rows = math.ceil(_scaled_height(h, w, scale, width) / 2)
    return width, tile_rows, rows - visible_rows, cols - visible_cols


def _scaled_height(h: int, w: int, scale: int, width: int) -> int:
    """Pixel rows of an (h, w) image shown ``width`` pixels wide (as _pixel_grid computes)."""
    return _pixel_grid((h, w), width, scale)[0]


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


@lru_cache(maxsize=8192)
def _rgb_block_style(fg: int | None, bg: int) -> Style:
    """Style for a run of colour half blocks: fg/bg are packed ``0xRRGGBB``; fg None = spaces.

    Truecolor as it is; Rich maps it to the nearest of 256 colours on such a terminal.
    """
    color = None if fg is None else Color.from_rgb(fg >> 16, (fg >> 8) & 255, fg & 255)
    return Style(color=color, bgcolor=Color.from_rgb(bg >> 16, (bg >> 8) & 255, bg & 255))


def _normalise(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map values to 0..1 by (lo, hi); NaN and a degenerate range read as background."""
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 1.0 / (hi - lo) if hi > lo else 0.0
    out = (values - lo) * scale
    np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(out, 0.0, 1.0, out=out)


# --------------------------------------------------------------------------- header


def _header(
    index: int | None,
    label: int | None,
    cols: int,
    color: bool,
    name: str | None = None,
    palette: Palette | None = None,
    flag: str = "",
) -> list[Segment]:
    """The tile's first line: index at the left, ``L:label`` at the right, ``cols`` wide.

    When both do not fit: ``1118:3``, then the index alone (it is what ``goto`` takes),
    then the index cut with an ellipsis. ``name`` (a class name) is shown instead of the
    label's number, escaped and cut to fit. ``flag`` (a review mark, one character) follows
    the label (``L:7*``, ``1118:7*``), or the index when the label does not fit.
    """
    idx = "" if index is None else str(index)
    shown = None if label is None else (str(label) if name is None else safe(name))
    room = max(1, cols - len(idx) - 3 - len(flag))  # keep room for "idx L:" and the flag
    if shown is not None and name is not None and idx and len(shown) > room:
        shown = _ellipsis(shown, room)
    if shown is not None:
        shown += flag
    elif flag:
        idx += flag
    lab = "" if shown is None else f"L:{shown}"
    lstyle = None
    if color and label is not None:
        lstyle = label_style(label) if palette is None else palette_label_style(palette, label)
    left, right = idx, lab
    if idx and lab and len(idx) + 1 + len(lab) > cols:
        compact = f"{idx}:{shown}"
        if len(compact) <= cols:
            # index plain, ":label" in the label's colour, so the class still stands out
            line = [Segment(idx), Segment(compact[len(idx) :], lstyle)]
            return _pad_right(line, cols - len(compact))
        left, right = idx, ""
        if flag and len(idx) + len(flag) <= cols:
            left = idx + flag
    elif not idx and len(lab) > cols:
        text = str(shown)
        right = text if len(text) <= cols else _ellipsis(text, cols)
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


def _block_runs(
    upper: list[int],
    lower: list[int],
    block_style: Callable[[int | None, int], Style] = _block_style,
) -> list[Segment]:
    """One row of half blocks as the fewest practical runs of one style each.

    A cell whose two pixels are equal is a space that only needs a background, so it joins
    any run with that background whatever the run's foreground. A cell with two greys can
    be drawn as '▀' (fg upper, bg lower) or '▄' (fg lower, bg upper); either picture is
    the same, so pick the one that continues the current run, or, starting a run, the one
    the next cell can continue (else the darker grey as background, as the image's
    background is usually dark). Fewer runs mean fewer escape codes sent over SSH.
    Values are grey levels, or packed RGB for colour (``block_style`` makes their style).
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
                    out.append(Segment("".join(chars), block_style(fg, bg)))
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
            out.append(Segment("".join(chars), block_style(fg, bg)))
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
        out.append(Segment("".join(chars), block_style(fg, bg)))
    return out


def _image_rows(
    img: np.ndarray,
    style: str,
    value_range: tuple[float, float],
    cols: int,
    color: bool,
    scale: int = 1,
) -> tuple[int, list[list[Segment]]]:
    """(width, rows) of the image part, each row a list of segments ``width`` cells wide."""
    ph, pw = _pixel_grid(img.shape, cols, scale)
    up = scale > 1
    if style == "blocks" and color and img.ndim == 3:
        return pw, _color_block_rows(img, ph, pw, value_range, up)
    if img.ndim == 3:
        img = luminance(img)  # shade, ASCII and no colour: the picture's brightness
    if style == "blocks" and color:
        px = _normalise(resample(img, ph, pw, up), value_range)
        # round half up (values are >= 0, so truncation after +0.5 is the floor)
        levels = (px * (GREY_LEVELS - 1) + 0.5).astype(np.intp)
        if ph % 2:
            # an odd pixel height leaves the last half row empty: background, not stretch
            levels = np.vstack([levels, np.zeros((1, pw), dtype=np.intp)])
        grid = levels.tolist()
        return pw, [_block_runs(grid[r], grid[r + 1]) for r in range(0, len(grid), 2)]
    # shade/ascii (and blocks without colour): one character averages two pixel rows
    ramp = ASCII_RAMP if style == "ascii" else SHADE_RAMP
    cells = _normalise(resample(img, math.ceil(ph / 2), pw, up), value_range)
    idx = (cells * (len(ramp) - 1) + 0.5).astype(np.intp).tolist()
    return pw, [[Segment("".join([ramp[k] for k in row]))] for row in idx]


def _color_block_rows(
    img: np.ndarray, ph: int, pw: int, value_range: tuple[float, float], up: bool
) -> list[list[Segment]]:
    """Colour half blocks: fg = the upper pixel's RGB, bg = the lower one's."""
    px = _normalise(resample(img, ph, pw, up), value_range)
    rgb = (px * 255.0 + 0.5).astype(np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    if ph % 2:
        packed = np.vstack([packed, np.zeros((1, pw), dtype=np.int64)])  # black, as grey does
    grid = packed.tolist()
    return [_block_runs(grid[r], grid[r + 1], _rgb_block_style) for r in range(0, len(grid), 2)]


def tile_segments(
    image: np.ndarray,
    *,
    index: int | None,
    label: int | None,
    style: str,
    value_range: tuple[float, float],
    cols: int,
    color: bool = True,
    label_name: str | None = None,
    scale: int = 1,
    palette: Palette | None = None,
    flag: str = "",
) -> list[list[Segment]]:
    """One image as a tile: a header line then the image rows, every line ``cols`` cells.

    blocks: half blocks in 26 greys (low values dark, high values white, as the digits are
    ink-high), or for an (H, W, 3) image in its own colours (fg = upper pixel, bg = lower);
    shade ``' ░▒▓█'`` and ascii ``' .:-=+*#%@'`` carry no colour (a colour image is shown
    by its luminance) so they read with ``NO_COLOR``/``TERM=dumb``. ``color=False`` turns
    blocks into shade (half blocks mean nothing without colours) and drops the label colour.
    Adjacent cells of one style are merged into one segment. The image is enlarged
    ``scale`` times, then shrunk (area averaging) if wider than ``cols``; narrower is
    centred. ``label_name`` (a class name; shown escaped) replaces the number in ``L:``;
    ``flag`` is a review mark after the label (:data:`RELABELLED_FLAG`, :data:`INVALID_FLAG`).
    ``palette`` colours the label for a theme (default: the dark terminal's tab10).
    """
    _check_style(style)
    img = np.asarray(image)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")
    width, rows = _image_rows(img, style, value_range, cols, color, scale)
    left = (cols - width) // 2
    right = cols - width - left
    header = _header(index, label, cols, color, label_name, palette, flag)
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
    """Rendered tiles of one dataset, keyed by (index, style, cols, color, scale); LRU-bounded.

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
        label_names: Sequence[str] | None = None,
        palette: Palette | None = None,
        flags: Mapping[int, str] | None = None,
    ) -> None:
        self._images = images
        self._palette = palette
        self._labels = labels
        self._value_range = value_range
        self._maxsize = maxsize
        self._names = label_names
        self._flags: Mapping[int, str] = flags or {}
        self._tiles: OrderedDict[tuple[int, str, int, bool, int], list[list[Segment]]] = (
            OrderedDict()
        )

    def get(
        self, index: int, style: str, cols: int, color: bool = True, scale: int = 1
    ) -> list[list[Segment]]:
        """The tile of image ``index`` (rendered on first use)."""
        key = (index, style, cols, color, scale)
        tile = self._tiles.get(key)
        if tile is None:
            label = None if self._labels is None else int(self._labels[index])
            name = None
            if label is not None and self._names is not None and label < len(self._names):
                name = self._names[label]
            flag = self._flags.get(index, "")
            tile = tile_segments(
                self._images[index],
                index=index,
                label=label,
                style=style,
                value_range=self._value_range,
                cols=cols,
                color=color,
                label_name=name,
                scale=scale,
                palette=self._palette,
                flag=flag,
            )
            if flag == INVALID_FLAG:
                tile = [
                    tile[0],
                    *([Segment(s.text, _dimmed(s.style)) for s in line] for line in tile[1:]),
                ]
            self._tiles[key] = tile
            if len(self._tiles) > self._maxsize:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(key)
        return [list(line) for line in tile]

    def clear(self) -> None:
        """Forget every tile (e.g. when the value range or dataset changes)."""
        self._tiles.clear()

    def set_labels(self, labels: np.ndarray | None, flags: Mapping[int, str] | None = None) -> None:
        """Other labels (corrected in a review) and review marks by point; forgets every tile."""
        self._labels = labels
        self._flags = flags or {}
        self._tiles.clear()


def _dimmed(style: Style | None) -> Style:
    return Style(dim=True) if style is None else style + Style(dim=True)
