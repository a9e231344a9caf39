"""Tests for digitmap_tui.glyphs: geometry, exact pictures, headers, merging, palette."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from digitmap_tui import glyphs
from digitmap_tui.glyphs import (
    ASCII_RAMP,
    GLYPH_STYLES,
    GREY_ANSI,
    SHADE_RAMP,
    TAB10,
    TileCache,
    blank_tile,
    fit_tiles,
    glyph_style_for,
    label_color,
    label_glyph,
    label_style,
    resample,
    tile_segments,
    tile_size,
    tile_text,
    tiles_to_lines,
)

DIGITS_RANGE = (0.0, 16.0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target


def grey(level: int) -> Color:
    return Color.from_ansi(GREY_ANSI[level])


def block(fg: int | None, bg: int) -> Style:
    """The style of a half-block run: fg/bg are grey levels 0..25."""
    return Style(color=None if fg is None else grey(fg), bgcolor=grey(bg))


def width(line: list[Segment]) -> int:
    return sum(cell_len(seg.text) for seg in line)


def text(line: list[Segment]) -> str:
    return "".join(seg.text for seg in line)


def render(lines: list[list[Segment]], color_system: str = "256", cols: int = 40) -> str:
    """What a fixed-width Rich console writes for these lines."""

    class Lines:
        def __rich_console__(self, console, options):
            for line in lines:
                yield from line
                yield Segment.line()

    console = Console(
        color_system=color_system,  # type: ignore[arg-type]
        file=io.StringIO(),
        force_terminal=True,
        width=cols,
        legacy_windows=False,
    )
    console.print(Lines())
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def decode_blocks(line: list[Segment]) -> list[tuple[int | None, int | None]]:
    """The (upper, lower) xterm colour numbers each cell shows."""
    cells: list[tuple[int | None, int | None]] = []
    for seg in line:
        assert seg.style is not None
        bg = seg.style.bgcolor.number  # type: ignore[union-attr]
        fg = None if seg.style.color is None else seg.style.color.number
        for ch in seg.text:
            if ch == " ":
                cells.append((bg, bg))
            elif ch == "▀":
                cells.append((fg, bg))
            elif ch == "▄":
                cells.append((bg, fg))
            else:
                raise AssertionError(f"unexpected character {ch!r}")
    return cells


def expected_levels(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Grey levels computed independently of the module: round half up of 25*(v-lo)/(hi-lo)."""
    norm = np.clip((np.asarray(image, dtype=np.float64) - lo) / (hi - lo), 0, 1)
    return np.floor(norm * 25 + 0.5).astype(int)


# --------------------------------------------------------------------------- palette


def test_tab10_is_matplotlib_tab10() -> None:
    assert TAB10 == (
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


def test_label_color_cycles() -> None:
    assert label_color(0) == "#1f77b4"
    assert label_color(3) == "#d62728"
    assert label_color(13) == "#d62728"
    assert label_color(20) == "#1f77b4"
    with pytest.raises(ValueError):
        label_color(-1)


@pytest.mark.parametrize(
    ("label", "glyph"),
    [(0, "0"), (7, "7"), (9, "9"), (10, "a"), (11, "b"), (35, "z"), (36, "#"), (1000, "#")],
)
def test_label_glyph(label: int, glyph: str) -> None:
    assert label_glyph(label) == glyph


def test_label_glyph_rejects_negative() -> None:
    with pytest.raises(ValueError):
        label_glyph(-1)


def test_label_style_is_bold_colour_and_cached() -> None:
    style = label_style(2)
    assert style == Style(bold=True, color="#2ca02c")
    assert label_style(2) is style


def test_glyph_style_for_console() -> None:
    def console(**kw: object) -> Console:
        return Console(file=io.StringIO(), force_terminal=True, **kw)  # type: ignore[arg-type]

    class AsciiFile(io.StringIO):
        encoding = "ascii"

    assert glyph_style_for(console(color_system="256")) == "blocks"
    assert glyph_style_for(console(color_system="truecolor")) == "blocks"
    assert glyph_style_for(console(color_system="standard")) == "shade"
    assert glyph_style_for(console(color_system=None)) == "shade"
    assert glyph_style_for(console(color_system="256", no_color=True)) == "shade"
    ascii_console = Console(file=AsciiFile(), force_terminal=True, color_system="256")
    assert glyph_style_for(ascii_console) == "ascii"


# --------------------------------------------------------------------------- resample


def test_resample_block_means_exact() -> None:
    image = np.arange(16, dtype=np.int64).reshape(4, 4)
    out = resample(image, 2, 2)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[2.5, 4.5], [10.5, 12.5]])


def test_resample_28_to_14_is_two_by_two_means() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(28, 28)).astype(np.uint8)
    expected = image.reshape(14, 2, 14, 2).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(resample(image, 14, 14), expected, rtol=0, atol=1e-12)


def test_resample_non_divisible_uses_fractional_overlap() -> None:
    # 3 -> 2: each output covers 1.5 input pixels; the middle one is split in half
    out = resample(np.array([[3.0, 6.0, 9.0]]), 1, 2)
    np.testing.assert_allclose(out, [[(3 + 6 / 2) / 1.5, (6 / 2 + 9) / 1.5]])
    # the overall mean survives any downsample (no ink lost or invented)
    rng = np.random.default_rng(1)
    image = rng.random((13, 11))
    assert resample(image, 5, 4).mean() == pytest.approx(image.mean())


def test_resample_never_upsamples() -> None:
    image = np.ones((4, 6))
    assert resample(image, 8, 8).shape == (4, 6)
    assert resample(image, 2, 10).shape == (2, 6)
    assert resample(image, 10, 3).shape == (4, 3)


def test_resample_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        resample(np.ones((2, 2, 2, 2)), 1, 1)  # (H, W) and (H, W, C) only
    with pytest.raises(ValueError):
        resample(np.ones(4), 1, 1)
    with pytest.raises(ValueError):
        resample(np.ones((2, 2)), 0, 1)


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("style", GLYPH_STYLES)
@pytest.mark.parametrize(
    ("shape", "max_cols", "size"),
    [
        ((8, 8), 8, (8, 4)),
        ((8, 8), 14, (8, 4)),
        ((8, 8), 4, (4, 2)),
        ((28, 28), 14, (14, 7)),
        ((28, 28), 28, (28, 14)),
        ((7, 7), 10, (7, 4)),
        ((8, 32), 16, (16, 2)),
    ],
)
def test_tile_size(
    style: str, shape: tuple[int, int], max_cols: int, size: tuple[int, int]
) -> None:
    assert tile_size(shape, style, max_cols) == size


def test_tile_size_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        tile_size((8, 8), "braille", 8)
    with pytest.raises(ValueError):
        tile_size((8, 8), "blocks", 0)


@pytest.mark.parametrize("style", GLYPH_STYLES)
def test_digit_tile_is_8_cols_by_header_plus_4_rows(style: str, digits) -> None:
    images, labels = digits
    tile = tile_segments(
        images[0], index=0, label=int(labels[0]), style=style, value_range=DIGITS_RANGE, cols=8
    )
    assert len(tile) == glyphs.HEADER_ROWS + 4
    assert [width(line) for line in tile] == [8] * 5


def test_mnist_sized_tile_downsamples_to_cols() -> None:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[:, 14:] = 255
    tile = tile_segments(image, index=69999, label=9, style="blocks", value_range=(0, 255), cols=14)
    assert len(tile) == 1 + 7
    assert all(width(line) == 14 for line in tile)
    # left half black, right half white, both exactly representable: one run each
    assert tile[1] == [Segment(" " * 7, block(None, 0)), Segment(" " * 7, block(None, 25))]


# --------------------------------------------------------------------------- exact pictures

# a hand-made 2x2 image: top row dark | bright, bottom row bright | mid grey
TWO_BY_TWO = np.array([[0.0, 16.0], [16.0, 8.0]])


def test_two_by_two_blocks_exact() -> None:
    tile = tile_segments(
        TWO_BY_TWO, index=None, label=None, style="blocks", value_range=DIGITS_RANGE, cols=6
    )
    assert len(tile) == 2
    # 8/16 * 25 = 12.5 -> level 13 (round half up) -> xterm 244
    assert GREY_ANSI[0] == 16 and GREY_ANSI[25] == 231 and GREY_ANSI[13] == 244
    # left cell: dark over white -> '▄' in white on black (darker grey as background);
    # right cell: white over mid grey -> '▀' white on grey; image centred in 6 columns
    assert tile[1] == [
        Segment("  "),
        Segment("▄", block(25, 0)),
        Segment("▀", block(25, 13)),
        Segment("  "),
    ]
    assert decode_blocks(tile[1][1:3]) == [(16, 231), (231, 244)]
    assert render(tile[1:], cols=6) == (
        "  \x1b[38;5;231;48;5;16m▄\x1b[0m\x1b[38;5;231;48;5;244m▀\x1b[0m  \n"
    )


def test_two_by_two_shade_and_ascii_exact() -> None:
    # column means 8 and 12 of 16 -> 0.5, 0.75
    for style, expected in [("shade", "▒▓"), ("ascii", "+#")]:
        tile = tile_segments(
            TWO_BY_TWO, index=None, label=None, style=style, value_range=DIGITS_RANGE, cols=4
        )
        # no colour at all, padding merged into the one run
        assert tile[1] == [Segment(f" {expected} ")]
    assert SHADE_RAMP[2] == "▒" and ASCII_RAMP[5] == "+"


def test_blocks_without_colour_fall_back_to_shade() -> None:
    kw = {"index": 3, "label": 1, "value_range": DIGITS_RANGE, "cols": 8}
    plain = tile_segments(TWO_BY_TWO, style="blocks", color=False, **kw)  # type: ignore[arg-type]
    assert plain == tile_segments(TWO_BY_TWO, style="shade", color=False, **kw)  # type: ignore[arg-type]
    assert all(seg.style is None for line in plain for seg in line)
    assert tile_text(TWO_BY_TWO, style="blocks", **kw) == ["3    L:1", "   ▒▓   "]  # type: ignore[arg-type]


def test_shade_and_ascii_are_plain_in_a_no_colour_terminal(digits) -> None:
    images, _ = digits
    for style in ("shade", "ascii"):
        tile = tile_segments(
            images[5], index=None, label=None, style=style, value_range=DIGITS_RANGE, cols=8
        )
        out = render(tile, color_system="256", cols=8)
        assert "\x1b" not in out


def test_upper_brighter_uses_upper_half_block() -> None:
    image = np.array([[16.0], [0.0]])
    tile = tile_segments(
        image, index=None, label=None, style="blocks", value_range=DIGITS_RANGE, cols=1
    )
    assert tile[1] == [Segment("▀", block(25, 0))]


# --------------------------------------------------------------------------- value range


def test_value_range_normalisation_and_clipping() -> None:
    image = np.array([[5.0, 10.0, 15.0, 20.0, 25.0, np.nan]] * 2)
    tile = tile_segments(
        image, index=None, label=None, style="blocks", value_range=(10.0, 20.0), cols=6
    )
    # below lo and NaN -> black background, above hi -> white; uniform cells are spaces
    assert decode_blocks(tile[1]) == [
        (16, 16),
        (16, 16),
        (GREY_ANSI[13], GREY_ANSI[13]),
        (231, 231),
        (231, 231),
        (16, 16),
    ]
    assert text(tile[1]) == "      "


def test_degenerate_value_range_is_background() -> None:
    tile = tile_segments(
        np.full((2, 3), 7.0), index=None, label=None, style="blocks", value_range=(7, 7), cols=3
    )
    assert tile[1] == [Segment("   ", block(None, 0))]


def test_blocks_picture_matches_pixels_for_every_digit(digits) -> None:
    """Merging and half-block flipping never change what each cell shows."""
    images, _ = digits
    for image in images:
        levels = expected_levels(image, *DIGITS_RANGE)
        tile = tile_segments(
            image, index=None, label=None, style="blocks", value_range=DIGITS_RANGE, cols=8
        )
        for r, line in enumerate(tile[1:]):
            want = [
                (GREY_ANSI[u], GREY_ANSI[lo])
                for u, lo in zip(levels[2 * r], levels[2 * r + 1], strict=True)
            ]
            assert decode_blocks(line) == want


# --------------------------------------------------------------------------- merging


@pytest.mark.parametrize("style", GLYPH_STYLES)
@pytest.mark.parametrize("color", [True, False])
def test_constant_image_is_one_segment_per_row(style: str, color: bool) -> None:
    tile = tile_segments(
        np.full((8, 8), 16.0),
        index=None,
        label=None,
        style=style,
        value_range=DIGITS_RANGE,
        cols=8,
        color=color,
    )
    assert all(len(line) == 1 for line in tile[1:])


def test_space_run_absorbs_following_half_block() -> None:
    # uniform black cells, then a cell white over black: one run, fg set by the half block
    image = np.array([[0.0, 0.0, 16.0], [0.0, 0.0, 0.0]])
    tile = tile_segments(
        image, index=None, label=None, style="blocks", value_range=DIGITS_RANGE, cols=3
    )
    assert tile[1] == [Segment("  ▀", block(25, 0))]


def test_upper_and_lower_half_blocks_share_a_run() -> None:
    # white/black alternating between top and bottom: '▀▄▀' in one white-on-black run
    image = np.array([[16.0, 0.0, 16.0], [0.0, 16.0, 0.0]])
    tile = tile_segments(
        image, index=None, label=None, style="blocks", value_range=DIGITS_RANGE, cols=3
    )
    assert tile[1] == [Segment("▀▄▀", block(25, 0))]


def test_merging_saves_bytes_on_a_digit(digits) -> None:
    images, _ = digits
    tile = tile_segments(
        images[1118], index=1118, label=3, style="blocks", value_range=DIGITS_RANGE, cols=8
    )
    per_cell = [tile[0]] + [
        [Segment(ch, seg.style) for seg in line for ch in seg.text] for line in tile[1:]
    ]
    assert sum(len(line) for line in tile) < sum(len(line) for line in per_cell)
    assert len(render(tile, cols=8)) < len(render(per_cell, cols=8))


# --------------------------------------------------------------------------- header


@pytest.mark.parametrize(
    ("index", "label", "cols", "header"),
    [
        (1118, 3, 8, "1118 L:3"),
        (1118, 3, 10, "1118   L:3"),
        (1118, 3, 7, "1118:3 "),
        (1118, 3, 6, "1118:3"),
        (1118, 3, 5, "1118 "),
        (1118, 3, 4, "1118"),
        (1118, 3, 3, "11…"),
        (1118, 3, 1, "…"),
        (69999, 9, 8, "69999:9 "),
        (69999, 9, 14, "69999      L:9"),
        (0, 12, 8, "0   L:12"),
        (5, None, 4, "5   "),
        (None, 3, 8, "     L:3"),
        (None, 12, 2, "12"),
        (None, 123, 2, "1…"),
        (None, None, 3, "   "),
    ],
)
def test_header_layout(index: int | None, label: int | None, cols: int, header: str) -> None:
    lines = tile_text(
        np.zeros((1, 1)),
        index=index,
        label=label,
        style="ascii",
        value_range=(0, 1),
        cols=cols,
    )
    assert lines[0] == header
    assert cell_len(lines[0]) == cols


def test_header_colours_the_label_only() -> None:
    tile = tile_segments(
        TWO_BY_TWO, index=1118, label=3, style="blocks", value_range=DIGITS_RANGE, cols=8
    )
    assert tile[0] == [Segment("1118 "), Segment("L:3", label_style(3))]
    compact = tile_segments(
        TWO_BY_TWO, index=1118, label=3, style="blocks", value_range=DIGITS_RANGE, cols=7
    )
    assert compact[0] == [Segment("1118"), Segment(":3", label_style(3)), Segment(" ")]
    plain = tile_segments(
        TWO_BY_TWO,
        index=1118,
        label=3,
        style="blocks",
        value_range=DIGITS_RANGE,
        cols=8,
        color=False,
    )
    assert plain[0] == [Segment("1118 L:3")]


# --------------------------------------------------------------------------- every digit


@pytest.mark.parametrize("style", GLYPH_STYLES)
def test_every_digit_every_style_is_exactly_cols_wide(style: str, digits) -> None:
    images, labels = digits
    for cols in (4, 8, 11):
        _, rows = tile_size(images.shape[1:], style, cols)
        for i, image in enumerate(images):
            for color in (True, False):
                tile = tile_segments(
                    image,
                    index=i,
                    label=int(labels[i]),
                    style=style,
                    value_range=DIGITS_RANGE,
                    cols=cols,
                    color=color,
                )
                assert len(tile) == 1 + rows
                for line in tile:
                    assert width(line) == cols
                    assert all(seg.text for seg in line)


def test_console_output_has_exact_line_count_and_widths(digits) -> None:
    """Four tiles side by side fill a 35-column console exactly: no wrapping, no ragged lines."""
    images, labels = digits
    tiles = [
        tile_segments(
            images[i],
            index=i,
            label=int(labels[i]),
            style="blocks",
            value_range=DIGITS_RANGE,
            cols=8,
        )
        for i in range(4)
    ]
    out = render(tiles_to_lines(tiles), cols=35)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out).split("\n")
    assert lines[-1] == ""
    assert [cell_len(line) for line in lines[:-1]] == [35] * 5
    assert lines[0] == "0    L:0 1    L:1 2    L:2 3    L:3"


# --------------------------------------------------------------------------- layout helpers


def test_blank_tile() -> None:
    assert blank_tile(3, 2) == [[Segment("   ")], [Segment("   ")]]


def test_tiles_to_lines_side_by_side() -> None:
    kw = {"label": 1, "style": "shade", "value_range": DIGITS_RANGE, "cols": 5, "color": False}
    a = tile_segments(TWO_BY_TWO, index=1, **kw)  # type: ignore[arg-type]
    b = tile_segments(TWO_BY_TWO, index=2, **kw)  # type: ignore[arg-type]
    lines = tiles_to_lines([a, blank_tile(5, 3), b], gap=2)
    # shorter tiles padded; unstyled runs merged into one segment per line
    assert [text(line) for line in lines] == [
        "1 L:1" + " " * 9 + "2 L:1",
        " ▒▓  " + " " * 9 + " ▒▓  ",
        " " * 19,
    ]
    assert all(len(line) == 1 for line in lines)
    assert tiles_to_lines([]) == []


def test_tiles_to_lines_keeps_styles() -> None:
    kw = {"index": None, "label": None, "style": "blocks", "value_range": DIGITS_RANGE}
    tile = tile_segments(np.zeros((2, 2)), cols=2, **kw)  # type: ignore[arg-type]
    lines = tiles_to_lines([tile, tile])
    assert lines[1] == [
        Segment("  ", block(None, 0)),
        Segment(" "),
        Segment("  ", block(None, 0)),
    ]


# --------------------------------------------------------------------------- cache


def test_tile_cache(digits) -> None:
    images, labels = digits
    cache = TileCache(images, labels, DIGITS_RANGE, maxsize=2)
    first = cache.get(7, "blocks", 8)
    assert first == tile_segments(
        images[7], index=7, label=int(labels[7]), style="blocks", value_range=DIGITS_RANGE, cols=8
    )
    first[0].append(Segment("junk"))  # callers may extend lines without harming the cache
    assert cache.get(7, "blocks", 8)[0] == first[0][:-1]
    cache.get(8, "blocks", 8)
    cache.get(9, "blocks", 8)  # evicts 7 (least recently used)
    assert (7, "blocks", 8, True) not in cache._tiles
    unlabelled = TileCache(images, None, DIGITS_RANGE)
    assert text(unlabelled.get(7, "ascii", 8)[0]) == "7       "


# --------------------------------------------------------------------------- bad input


def test_tile_segments_rejects_bad_input() -> None:
    kw = {"index": 0, "label": 0, "value_range": DIGITS_RANGE, "cols": 8}
    with pytest.raises(ValueError):
        tile_segments(np.zeros((2, 2, 2)), style="blocks", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tile_segments(np.zeros((2, 2)), style="sixel", **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- colour tiles

_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _console_cells(lines: list[list[Segment]], color_system: str) -> list[list[tuple]]:
    """Print tile lines on a fixed-width Console and read back, per cell, (char, fg, bg)."""
    out = io.StringIO()
    console = Console(
        file=out, width=200, color_system=color_system, force_terminal=True, legacy_windows=False
    )
    for line in lines:
        console.print(Segments(line), soft_wrap=True)
    cells: list[list[tuple]] = []
    for text in out.getvalue().split("\n")[: len(lines)]:
        row: list[tuple] = []
        fg = bg = None
        pos = 0
        for m in _SGR.finditer(text):
            row.extend((ch, fg, bg) for ch in text[pos : m.start()])
            pos = m.end()
            codes = [int(c) for c in m.group(1).split(";") if c] or [0]
            k = 0
            while k < len(codes):
                c = codes[k]
                if c == 0:
                    fg = bg = None
                elif c in (38, 48) and codes[k + 1] == 2:
                    rgb = tuple(codes[k + 2 : k + 5])
                    fg, bg = (rgb, bg) if c == 38 else (fg, rgb)
                    k += 4
                elif c in (38, 48) and codes[k + 1] == 5:
                    fg, bg = (("256", codes[k + 2]), bg) if c == 38 else (fg, ("256", codes[k + 2]))
                    k += 2
                k += 1
        row.extend((ch, fg, bg) for ch in text[pos:])
        cells.append(row)
    return cells


class Segments:
    """A list of segments as a renderable (what the panel and `render` print)."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments

    def __rich_console__(self, console, options):  # type: ignore[no-untyped-def]
        yield from self.segments
        yield Segment.line()


def _expect_half_blocks(cells: list[list[tuple]], image: np.ndarray) -> None:
    h, w = image.shape[:2]
    padded = np.vstack([image, np.zeros((1, w, 3), np.uint8)]) if h % 2 else image
    for r, row in enumerate(cells):
        assert len(row) == w
        for c, (ch, fg, bg) in enumerate(row):
            upper = tuple(int(v) for v in padded[2 * r, c])
            lower = tuple(int(v) for v in padded[2 * r + 1, c])
            if ch == "▀":
                assert (fg, bg) == (upper, lower)
            elif ch == "▄":
                assert (fg, bg) == (lower, upper)
            else:
                assert ch == " " and bg == upper == lower


@settings(max_examples=50, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 12), st.just(3))))
def test_colour_half_blocks_are_the_pixels(image: np.ndarray) -> None:
    """Truecolor: every cell's fg/bg are exactly its upper/lower pixel's RGB."""
    tile = tile_segments(
        image, index=None, label=None, style="blocks", value_range=(0, 255), cols=image.shape[1]
    )
    _expect_half_blocks(_console_cells(tile[1:], "truecolor"), image)


def test_colour_tile_at_256_colours_is_downgraded_by_rich() -> None:
    image = np.random.default_rng(5).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    tile = tile_segments(image, index=1, label=2, style="blocks", value_range=(0, 255), cols=6)
    cells = _console_cells(tile[1:], "256")
    colours = {c for row in cells for _, fg, bg in row for c in (fg, bg) if c is not None}
    assert colours and all(isinstance(c, tuple) and c[0] == "256" for c in colours)


@pytest.mark.parametrize("style", ["shade", "ascii"])
def test_colour_falls_back_to_luminance(style: str) -> None:
    x = np.mgrid[0:8, 0:8][1]
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 1] = (x * 36).astype(np.uint8)  # green ramp, left dark to right bright
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    got = tile_text(rgb, index=None, label=None, style=style, value_range=(0, 255), cols=8)
    want = tile_text(grey, index=None, label=None, style=style, value_range=(0, 255), cols=8)
    assert got == want
    ramp = SHADE_RAMP if style == "shade" else ASCII_RAMP
    assert got[1][0] == ramp[0] and got[1][-1] != ramp[0]


def test_grey_tiles_unchanged_by_the_colour_path(digits) -> None:
    """A grey image as (H, W) and the same greys as RGB draw the same shapes and greys."""
    images, _ = digits
    img = images[1118]
    grey_tile = tile_segments(img, index=1, label=3, style="blocks", value_range=(0, 16), cols=8)
    as_rgb = np.repeat(np.rint(img * 255 / 16).astype(np.uint8)[..., None], 3, axis=2)
    rgb_tile = tile_segments(as_rgb, index=1, label=3, style="blocks", value_range=(0, 255), cols=8)
    assert ["".join(s.text for s in line) for line in grey_tile] == [
        "".join(s.text for s in line) for line in rgb_tile
    ]


# --------------------------------------------------------------------------- scale and fitting


def test_scale_enlarges_small_images_exactly() -> None:
    image = np.arange(64, dtype=np.float64).reshape(8, 8)
    assert tile_size((8, 8), "blocks", 100, scale=2) == (16, 8)
    tile = tile_segments(
        image, index=0, label=None, style="blocks", value_range=(0, 63), cols=16, scale=2
    )
    assert len(tile) == 1 + 8
    assert all(sum(cell_len(s.text) for s in line) == 16 for line in tile)
    # each source pixel becomes a 2x2 block: a cell's two halves are the same pixel
    cells = _console_cells(tile[1:], "truecolor")
    for row in cells:
        assert all(ch == " " for ch, _, _ in row)
        assert [bg for _, _, bg in row][::2] == [bg for _, _, bg in row][1::2]


def test_resample_upsample_repeats_pixels() -> None:
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert np.array_equal(resample(image, 4, 4, upsample=True), np.kron(image, np.ones((2, 2))))
    rgb = np.random.default_rng(1).random((3, 5, 3))
    assert np.allclose(resample(rgb, 6, 10, upsample=True)[::2, ::2], rgb)
    assert resample(rgb, 2, 3).shape == (2, 3, 3)


def test_fit_tiles_keeps_the_old_default() -> None:
    # a roomy panel: digits stay 8x4 at scale 1, as tile_size made them
    assert fit_tiles((8, 8), 60, 40, 4, 4, "blocks") == (8, 4, 0, 0)
    assert fit_tiles((8, 8), 80, 60, 4, 4, "blocks", 2) == (16, 8, 0, 0)
    assert fit_tiles((28, 28), 200, 100, 4, 4, "blocks", max_cols=14) == (14, 7, 0, 0)


def test_fit_tiles_shrinks_to_the_panel() -> None:
    # 28x28 in a 33-column panel, 4 columns: 7 columns each, the whole grid fits
    tc, tr, hr, hc = fit_tiles((28, 28), 33, 40, 4, 4, "blocks")
    assert (hr, hc) == (0, 0)
    assert 4 * tc + 3 <= 33 and 4 * (tr + 1) <= 40
    assert tc == 7


def test_fit_tiles_reports_what_does_not_fit() -> None:
    tc, tr, hr, hc = fit_tiles((8, 8), 20, 6, 4, 6, "shade")
    assert tc == glyphs.MIN_TILE_COLS and hc == 2  # 4 columns of 4 + gaps = 19 <= 20
    assert tr == 2 and hr == 2  # a 4-wide 8x8 is 2 rows + header: 2 of them in 6 lines


@settings(max_examples=300, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 200), st.integers(1, 200)),
    panel=st.tuples(st.integers(0, 250), st.integers(0, 80)),
    grid=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    scale=st.integers(1, 8),
)
def test_fit_tiles_always_fits(
    shape: tuple[int, int], panel: tuple[int, int], grid: tuple[int, int], scale: int
) -> None:
    """The visible grid fits the panel (when the panel holds one smallest tile), tiles are never
    larger than the image at ``scale``, and nothing is hidden that could have been shown."""
    pw, ph = panel
    rows, cols = grid
    tc, tr, hr, hc = fit_tiles(shape, pw, ph, rows, cols, "blocks", scale)
    vr, vc = rows - hr, cols - hc
    assert 1 <= vr <= rows and 1 <= vc <= cols
    assert 1 <= tc <= shape[1] * scale
    assert tr == tile_size(shape, "blocks", tc, scale)[1]
    if pw >= glyphs.MIN_TILE_COLS:
        assert vc * tc + (vc - 1) <= pw
    if ph >= 1 + glyphs.HEADER_ROWS and tc > 1:  # a 1-pixel-wide tile cannot get shorter
        assert vr * (tr + glyphs.HEADER_ROWS) <= ph
    min_w = min(glyphs.MIN_TILE_COLS, shape[1] * scale)
    if hc:
        assert (vc + 1) * min_w + vc > pw
    if hr:
        min_rows = tile_size(shape, "blocks", min_w, scale)[1]
        assert (vr + 1) * (min_rows + glyphs.HEADER_ROWS) > ph
    # and the tile drawn at that size is exactly tc x (header + tr)
    image = np.zeros(shape)
    tile = tile_segments(
        image, index=1, label=1, style="blocks", value_range=(0, 1), cols=tc, scale=scale
    )
    assert len(tile) == 1 + tr
    assert all(sum(cell_len(s.text) for s in line) == tc for line in tile)


# --------------------------------------------------------------------------- class names


def test_header_shows_the_class_name_escaped_and_cut() -> None:
    img = np.zeros((8, 8))
    kw = {"style": "shade", "value_range": (0, 1), "color": False}
    assert tile_segments(img, index=12, label=0, cols=8, label_name="cat", **kw)[0] == [
        Segment("12 L:cat")
    ]
    head = tile_segments(img, index=12, label=0, cols=8, label_name="elephant", **kw)[0]
    assert "".join(s.text for s in head) == "12 L:el…"
    head = tile_segments(img, index=3, label=0, cols=16, label_name="a\x1b[31mb", **kw)[0]
    text = "".join(s.text for s in head)
    assert "\x1b" not in text and "\\x1b" in text and cell_len(text) == 16


def test_tile_cache_uses_names_and_scale() -> None:
    images = np.zeros((2, 8, 8))
    cache = TileCache(images, np.array([0, 1]), (0.0, 1.0), label_names=("cat", "dog"))
    one = cache.get(1, "shade", 16, color=False, scale=2)
    assert "".join(s.text for s in one[0]).endswith("L:dog")
    assert len(one) == 1 + 8
    assert len(cache.get(1, "shade", 16, color=False)) == 1 + 4  # scale is part of the key


@settings(max_examples=200)
@given(
    index=st.integers(0, 10**7),
    label=st.integers(0, 255),
    cols=st.integers(1, 24),
    flag=st.sampled_from(["", glyphs.RELABELLED_FLAG, glyphs.INVALID_FLAG]),
)
def test_a_review_flag_follows_the_label_whenever_the_index_fits(index, label, cols, flag):
    """Every header is exactly ``cols`` wide; the review flag is shown whenever the index and
    the flag fit, right after the label (or after the index when the label does not fit)."""
    text = "".join(seg.text for seg in glyphs._header(index, label, cols, False, flag=flag))
    assert cell_len(text) == cols
    if flag and len(str(index)) + len(flag) <= cols:
        assert flag in text
        assert text.rstrip().endswith(f"{label}{flag}") or text.rstrip() == f"{index}{flag}"


def test_tiles_carry_the_review_marks_and_invalid_ones_are_dimmed():
    images = np.arange(3 * 64, dtype=np.float64).reshape(3, 8, 8) % 16
    labels = np.array([3, 7, 1])
    cache = glyphs.TileCache(images, labels, (0.0, 16.0))
    assert "".join(s.text for s in cache.get(0, "blocks", 8)[0]) == "0    L:3"
    cache.set_labels(np.array([7, 7, 1]), {0: glyphs.RELABELLED_FLAG, 2: glyphs.INVALID_FLAG})
    assert "".join(s.text for s in cache.get(0, "blocks", 8)[0]) == "0   L:7*"
    invalid = cache.get(2, "blocks", 8)
    assert "".join(s.text for s in invalid[0]) == "2   L:1x"
    assert all(seg.style and seg.style.dim for line in invalid[1:] for seg in line)
    assert not any(
        seg.style and seg.style.dim for line in cache.get(1, "blocks", 8)[1:] for seg in line
    )
