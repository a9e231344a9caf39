"""True pixels: sequences decoded back to pixels, and the terminal query over a real pty."""

from __future__ import annotations

import base64
import os
import pty
import re
import threading
import time
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitmap_tui.data import load_digits
from digitmap_tui.pixels import (
    DEFAULT_CELL_PX,
    cell_pixels,
    choose,
    detect,
    encode,
    kitty_delete,
    parse_reply,
    pixel_box,
    placed,
    query_sequence,
    reported_cell_pixels,
    tmux_wrap,
    to_rgb8,
)

# --------------------------------------------------------------------------- decoders


def decode_kitty(text: str) -> tuple[dict[str, str], np.ndarray]:
    """The first image of a kitty-protocol stream: (keys of its first chunk, RGB pixels)."""
    chunks = re.findall(r"\x1b_G([^;\x1b]*);([^\x1b]*)\x1b\\", text)
    assert chunks, "no kitty graphics sequence"
    assert "".join(re.findall(r"\x1b_G[^\x1b]*\x1b\\", text)) == text, "stray bytes"
    keys = dict(kv.split("=", 1) for kv in chunks[0][0].split(","))
    payload = ""
    for k, (control, data) in enumerate(chunks):
        more = dict(kv.split("=", 1) for kv in control.split(","))["m"]
        assert more == ("1" if k < len(chunks) - 1 else "0")
        assert len(data) <= 4096
        payload += data
    raw = base64.standard_b64decode(payload)
    if keys.get("o") == "z":
        raw = zlib.decompress(raw)
    assert keys["f"] == "24"
    w, h = int(keys["s"]), int(keys["v"])
    return keys, np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)


def decode_sixel(text: str) -> np.ndarray:
    """A sixel DCS string as (H, W, 3) uint8 pixels (unset pixels: -1 in every channel)."""
    m = re.fullmatch(r"\x1bP([0-9;]*)q(.*)\x1b\\", text, re.S)
    assert m, "not a sixel DCS string"
    body = m.group(2)
    palette: dict[int, tuple[int, int, int]] = {}
    pixels: dict[tuple[int, int], tuple[int, int, int]] = {}
    x = y = 0
    colour = 0
    width = height = 0
    i = 0
    while i < len(body):
        c = body[i]
        if c == '"':
            m2 = re.match(r'"(\d+);(\d+);(\d+);(\d+)', body[i:])
            assert m2
            width, height = int(m2.group(3)), int(m2.group(4))
            i += m2.end()
        elif c == "#":
            m2 = re.match(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?", body[i:])
            assert m2
            colour = int(m2.group(1))
            if m2.group(2) is not None:
                palette[colour] = tuple(round(int(m2.group(k)) * 255 / 100) for k in (2, 3, 4))  # type: ignore[assignment]
            i += m2.end()
        elif c == "!":
            m2 = re.match(r"!(\d+)([?-~])", body[i:])
            assert m2
            for _ in range(int(m2.group(1))):
                _paint(pixels, palette[colour], x, y, ord(m2.group(2)) - 63)
                x += 1
            i += m2.end()
        elif c == "$":
            x = 0
            i += 1
        elif c == "-":
            x = 0
            y += 6
            i += 1
        elif "?" <= c <= "~":
            _paint(pixels, palette[colour], x, y, ord(c) - 63)
            x += 1
            i += 1
        else:
            raise AssertionError(f"unexpected {c!r} in sixel data")
    out = np.full((height, width, 3), -1, dtype=np.int64)
    for (px, py), rgb in pixels.items():
        assert px < width and py < height, "pixel outside the raster"
        out[py, px] = rgb
    return out


def _paint(pixels: dict, rgb: tuple[int, int, int], x: int, y: int, bits: int) -> None:
    for k in range(6):
        if bits >> k & 1:
            pixels[(x, y + k)] = rgb


# --------------------------------------------------------------------------- round trips


def test_kitty_round_trip_of_a_digit_is_exact() -> None:
    digits = load_digits()
    image = digits.images[1118]
    text = encode(image, "kitty", 8, 4, value_range=(0, 16), cell_px=(10, 20), image_id=7)
    keys, rgb = decode_kitty(text)
    # 8x8 pixels in 8x4 cells of 10x20 px: a box of 80x80, enlarged 10 times, pixels repeated
    assert rgb.shape == (80, 80, 3)
    expected = to_rgb8(image, (0, 16))
    assert np.array_equal(rgb[::10, ::10], expected)
    assert np.array_equal(rgb, np.repeat(np.repeat(expected, 10, 0), 10, 1))
    assert keys["c"] == "8" and keys["r"] == "4" and keys["i"] == "7" and keys["C"] == "1"
    assert keys["q"] == "2"  # the terminal must not answer into the app's input


def test_kitty_large_image_is_chunked() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # noise: incompressible
    text = encode(image, "kitty", 64, 32, cell_px=(1, 2))
    _, rgb = decode_kitty(text)
    assert np.array_equal(rgb, image)
    assert text.count("\x1b_G") > 3


@settings(max_examples=40, deadline=None)
@given(
    image=arrays(np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 20), st.just(3))),
    cells=st.tuples(st.integers(1, 30), st.integers(1, 15)),
)
def test_kitty_round_trip_any_image(image: np.ndarray, cells: tuple[int, int]) -> None:
    """Whatever the image and the cells, the decoded pixels are the image at pixel_box."""
    text = encode(image, "kitty", *cells, cell_px=(4, 8))
    _, rgb = decode_kitty(text)
    h, w = pixel_box(image.shape[:2], *cells, (4, 8))
    assert rgb.shape == (h, w, 3)
    if h >= image.shape[0] and h % image.shape[0] == 0 and w % image.shape[1] == 0:
        fy, fx = h // image.shape[0], w // image.shape[1]
        assert np.array_equal(rgb[::fy, ::fx], image)


def _percent_exact(rgb: np.ndarray) -> np.ndarray:
    """What a 0..255 channel reads back as after sixel's 0..100 percentages."""
    return np.rint(np.rint(rgb.astype(np.float64) * 100 / 255) * 255 / 100).astype(np.int64)


def test_sixel_round_trip_of_a_digit() -> None:
    image = load_digits().images[1118]
    text = encode(image, "sixel", 8, 4, value_range=(0, 16), cell_px=(10, 20))
    rgb = decode_sixel(text)
    assert rgb.shape == (80, 80, 3)
    assert (rgb >= 0).all(), "every pixel is drawn"
    expected = _percent_exact(to_rgb8(image, (0, 16)))
    assert np.array_equal(rgb[::10, ::10], expected)


@settings(max_examples=40, deadline=None)
@given(
    image=arrays(np.uint8, st.tuples(st.integers(1, 13), st.integers(1, 13), st.just(3))),
)
def test_sixel_round_trip_any_image_up_to_256_colours(image: np.ndarray) -> None:
    """A sixel image of at most 169 colours reads back exactly (to sixel's 1% steps)."""
    text = encode(image, "sixel", image.shape[1], (image.shape[0] + 1) // 2, cell_px=(1, 2))
    rgb = decode_sixel(text)
    assert rgb.shape == image.shape
    assert np.array_equal(rgb, _percent_exact(image))


def test_sixel_with_many_colours_is_close() -> None:
    y, x = np.mgrid[0:48, 0:64]
    image = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    rgb = decode_sixel(encode(image, "sixel", 64, 24, cell_px=(1, 2)))
    assert rgb.shape == image.shape
    # 3072 colours in a 256-colour palette (median cut): close everywhere
    error = np.abs(rgb - image.astype(np.int64))
    assert error.max() <= 40
    assert error.mean() < 6


def test_sixel_height_not_a_multiple_of_six() -> None:
    image = np.arange(7 * 3, dtype=np.uint8).reshape(7, 3) * 10
    rgb = decode_sixel(encode(image, "sixel", 3, 4, cell_px=(1, 2)))
    assert rgb.shape == (7, 3, 3)
    assert np.array_equal(rgb[..., 0], _percent_exact(to_rgb8(image))[..., 0])


def test_pixel_box_keeps_aspect_and_fits() -> None:
    assert pixel_box((8, 8), 8, 4, (10, 20)) == (80, 80)
    assert pixel_box((28, 28), 14, 7, (8, 16)) == (112, 112)
    h, w = pixel_box((600, 800), 10, 5, (10, 20))
    assert w <= 100 and h <= 100 and abs(w / h - 800 / 600) < 0.05


def test_tmux_passthrough_doubles_escapes() -> None:
    inner = encode(np.zeros((2, 2), dtype=np.uint8), "kitty", 2, 1, cell_px=(1, 2))
    wrapped = encode(np.zeros((2, 2), dtype=np.uint8), "kitty", 2, 1, cell_px=(1, 2), tmux=True)
    assert wrapped == tmux_wrap(inner)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b_G") and wrapped.endswith("\x1b\x1b\\\x1b\\")
    assert kitty_delete(5) == "\x1b_Ga=d,d=I,i=5,q=2\x1b\\"


def test_encode_rejects_unknown_protocol() -> None:
    with pytest.raises(ValueError):
        encode(np.zeros((2, 2)), "blocks", 2, 1)


# --------------------------------------------------------------------------- detection


def test_parse_reply() -> None:
    kitty_ok = b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c"
    assert parse_reply(kitty_ok) == "kitty"
    assert parse_reply(b"\x1b_Gi=31;ENOTSUPPORTED:x\x1b\\\x1b[?62;4;22c") == "sixel"
    assert parse_reply(b"\x1b[?62;4;22c") == "sixel"
    assert parse_reply(b"\x1b[?1;2c") == "blocks"
    assert parse_reply(b"\x1b[?64;14c") == "blocks"  # "14" is not "4"
    assert parse_reply(b"\x1b_Gi=31;OK\x1b\\") is None  # wait for DA1


class FakeTerminal:
    """The other end of a real pty: records what the program sends and answers it."""

    def __init__(self, answer: bytes | None) -> None:
        self.master, self.slave = pty.openpty()
        self.answer = answer
        self.received = b""
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select

        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self.received += data
            if self.answer is not None and b"\x1b[c" in self.received:
                os.write(self.master, self.answer)
                self.answer = None

    def close(self) -> None:
        self._stop = True
        self._thread.join(1)
        os.close(self.master)
        os.close(self.slave)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c", "kitty"),
        (b"\x1b[?62;4;22c", "sixel"),
        (b"\x1b[?65;1;9c", "blocks"),
    ],
)
def test_detect_over_a_pty(answer: bytes, expected: str) -> None:
    term = FakeTerminal(answer)
    try:
        got = detect(term.slave, term.slave, env={"TERM": "xterm-256color"}, timeout=2.0)
        time.sleep(0.05)
        assert got == expected
        assert term.received.startswith(query_sequence({"TERM": "xterm-256color"}).encode())
    finally:
        term.close()


def test_detect_gives_up_after_the_timeout_and_restores_the_mode() -> None:
    import termios

    term = FakeTerminal(None)  # a terminal that never answers
    try:
        before = termios.tcgetattr(term.slave)
        started = time.monotonic()
        assert detect(term.slave, term.slave, env={"TERM": "xterm"}, timeout=0.2) == "blocks"
        assert time.monotonic() - started < 1.5
        assert termios.tcgetattr(term.slave) == before
    finally:
        term.close()


@pytest.mark.parametrize("term_name", ["dumb", "linux", ""])
def test_detect_sends_nothing_to_dumb_terminals(term_name: str) -> None:
    term = FakeTerminal(b"\x1b[?62;4c")
    try:
        assert detect(term.slave, term.slave, env={"TERM": term_name}, timeout=0.5) == "blocks"
        time.sleep(0.1)
        assert term.received == b""
    finally:
        term.close()


def test_detect_inside_tmux_asks_only_for_sixel() -> None:
    env = {"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0"}
    term = FakeTerminal(b"\x1b[?62;4;22c")
    try:
        assert detect(term.slave, term.slave, env=env, timeout=2.0) == "sixel"
        time.sleep(0.05)
        assert b"\x1b_G" not in term.received
    finally:
        term.close()


def test_detect_without_a_terminal(tmp_path) -> None:
    with open(tmp_path / "f", "w+b") as f:
        assert detect(f.fileno(), f.fileno(), env={"TERM": "xterm"}) == "blocks"
        f.seek(0)
        assert f.read() == b""


def test_choose() -> None:
    calls = []

    def fake() -> str:
        calls.append(1)
        return "sixel"

    assert choose("kitty", fake, env={}) == "kitty"
    assert choose("blocks", fake, env={}) == "blocks"
    assert calls == []
    assert choose("auto", fake, env={}) == "sixel"
    assert choose("auto", fake, env={"NO_COLOR": "1"}) == "blocks"
    with pytest.raises(ValueError):
        choose("png", fake, env={})
    # sixel is drawn at its own pixel size: auto takes it only where the cell size is known
    assert choose("auto", fake, env={}, cell_size=lambda: None) == "blocks"
    assert choose("auto", fake, env={}, cell_size=lambda: (9, 18)) == "sixel"
    assert choose("sixel", fake, env={}, cell_size=lambda: None) == "sixel"
    assert choose("auto", lambda: "kitty", env={}, cell_size=lambda: None) == "kitty"


def test_placed_draws_at_a_cell_and_puts_the_cursor_back() -> None:
    image = load_digits().images[0]
    text = encode(image, "sixel", 8, 4, value_range=(0, 16))
    out = placed(text, (85, 5), (120, 8))
    assert out == f"\x1b[6;86H{text}\x1b[9;121H"  # CUP is 1-based, row first
    kitty = encode(image, "kitty", 8, 4, value_range=(0, 16), image_id=9, z=-1)
    keys, _ = decode_kitty(kitty)
    assert keys["z"] == "-1" and keys["i"] == "9"


def test_reported_cell_pixels_without_a_terminal(tmp_path) -> None:
    with open(tmp_path / "f", "w") as fh:
        assert reported_cell_pixels(fh.fileno()) is None
        assert cell_pixels(fh.fileno()) == DEFAULT_CELL_PX


def test_reported_cell_pixels_from_the_window_size() -> None:
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 1080, 800))
        assert reported_cell_pixels(slave) == (9, 20)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        assert reported_cell_pixels(slave) is None
    finally:
        os.close(master)
        os.close(slave)
