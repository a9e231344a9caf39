"""True pixels: the kitty graphics protocol and sixel, and asking the terminal which it draws.

Pure functions (numpy, the standard library, Pillow for palettes of photos; no Textual):
:func:`encode` turns
an image into the escape sequence that draws it, :func:`detect` asks the terminal (once,
before the explorer starts: afterwards Textual reads every reply itself) and :func:`choose`
resolves ``--images``.

Why not textual-image (read for this, version 0.12): importing ``textual_image.renderable``
queries the terminal at import time whenever stdout is a TTY (no ``TERM=dumb`` check, and
the explorer draws on stderr); its kitty renderable writes straight to ``sys.__stdout__``
and places images with Unicode placeholders, which only kitty itself implements; its sixel
encoder is a private module (``textual_image._sixel``). The two encoders here are short,
draw with exact pixel replication (an 8x8 digit stays crisp) and are tested by decoding
their output back to pixels.

tmux: it draws sixel itself (3.4+, when built with it) and says so in its answer to the
device-attributes query, so sixel is detected as in any terminal. The kitty protocol can
only pass through tmux wrapped in ``ESC P tmux; ... ESC \\`` (``set -g allow-passthrough
on``), and tmux does not move or clear such images with its panes, so ``auto`` never picks
kitty inside tmux; an explicit ``--images kitty`` there wraps every sequence (``tmux=True``).
"""

from __future__ import annotations

import base64
import os
import re
import select
import time
import zlib
from collections.abc import Callable, Mapping

import numpy as np

from digitmap_tui import choices

__all__ = [
    "IMAGE_CHOICES",
    "PROTOCOLS",
    "cell_pixels",
    "choose",
    "detect",
    "encode",
    "kitty_delete",
    "parse_reply",
    "pixel_box",
    "placed",
    "query_sequence",
    "reported_cell_pixels",
]

PROTOCOLS = ("kitty", "sixel", "blocks")
IMAGE_CHOICES = choices.IMAGE_CHOICES

#: Pixels of one terminal cell when the terminal does not say (the VT340's, as xterm assumes).
DEFAULT_CELL_PX = (10, 20)
#: Seconds to wait for the terminal's answer: a local terminal answers in about a
#: millisecond, one over SSH in a round trip; a terminal that ignores the query never does.
QUERY_TIMEOUT = 0.25
#: Terminals known to answer nothing useful (and where a query would only print garbage).
_NO_QUERY_TERMS = ("dumb", "linux", "")

_ESC = "\x1b"
_ST = "\x1b\\"
#: Base64 characters per kitty escape sequence (the protocol's limit is 4096).
_KITTY_CHUNK = 4096
_KITTY_QUERY_ID = 31
#: The kitty protocol's question "would you display this 1x1 RGB image?" (a=q: not shown).
_KITTY_QUERY = f"{_ESC}_Gi={_KITTY_QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA{_ST}"
#: Primary device attributes: every VT-compatible terminal answers, "4" in it means sixel.
_DA1 = f"{_ESC}[c"
_DA1_REPLY = re.compile(rb"\x1b\[\?([0-9;]*)c")
_KITTY_REPLY = re.compile(rb"\x1b_Gi=" + str(_KITTY_QUERY_ID).encode() + rb"[^;]*;([^\x1b]*)\x1b\\")


# --------------------------------------------------------------------------- detection


def tmux_wrap(sequence: str) -> str:
    """``sequence`` wrapped for tmux's passthrough (its ESCs doubled)."""
    return f"{_ESC}Ptmux;{sequence.replace(_ESC, _ESC + _ESC)}{_ST}"


def query_sequence(env: Mapping[str, str] | None = None) -> str:
    """What :func:`detect` sends: the kitty query (not inside tmux), then DA1.

    DA1 comes last on purpose: every terminal answers it, so its reply ends the wait
    without a timeout, and a kitty reply, if any, has arrived before it.
    """
    env = os.environ if env is None else env
    return _DA1 if "TMUX" in env else _KITTY_QUERY + _DA1


def parse_reply(reply: bytes) -> str | None:
    """The protocol a terminal's reply to :func:`query_sequence` offers, or None if the reply
    is not complete yet (no DA1 answer in it)."""
    da1 = _DA1_REPLY.search(reply)
    if da1 is None:
        return None
    kitty = _KITTY_REPLY.search(reply, 0, da1.start())
    if kitty is not None and kitty.group(1) == b"OK":
        return "kitty"
    if b"4" in da1.group(1).split(b";"):
        return "sixel"
    return "blocks"


def detect(
    fd_in: int | None = None,
    fd_out: int | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = QUERY_TIMEOUT,
) -> str:
    """Ask the terminal on ``fd_in``/``fd_out`` (default: stdin and stderr, where the explorer
    draws) whether it draws kitty graphics or sixel: ``"kitty"``, ``"sixel"`` or ``"blocks"``.

    Nothing is sent unless both are TTYs and ``TERM`` is a real terminal (never under
    ``TERM=dumb`` or on the Linux console); at most ``timeout`` seconds are spent, the
    terminal's mode is restored, and anything short of a clear answer means ``"blocks"``.
    Call it before Textual starts: afterwards Textual's input thread reads the reply.
    """
    env = os.environ if env is None else env
    fd_in = 0 if fd_in is None else fd_in
    fd_out = 2 if fd_out is None else fd_out
    if env.get("TERM", "") in _NO_QUERY_TERMS:
        return "blocks"
    try:
        if not (os.isatty(fd_in) and os.isatty(fd_out)):
            return "blocks"
        import termios
    except (OSError, ImportError):
        return "blocks"
    try:
        saved = termios.tcgetattr(fd_in)
    except termios.error:
        return "blocks"
    try:
        mode = termios.tcgetattr(fd_in)
        mode[3] &= ~(termios.ICANON | termios.ECHO)  # answers arrive unbuffered, unechoed
        mode[6][termios.VMIN] = 0
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(fd_in, termios.TCSANOW, mode)
        os.write(fd_out, query_sequence(env).encode("ascii"))
        reply = _read_reply(fd_in, timeout)
    except OSError:
        return "blocks"
    finally:
        try:
            termios.tcsetattr(fd_in, termios.TCSAFLUSH, saved)
        except termios.error:
            pass
    return parse_reply(reply) or "blocks"


def _read_reply(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    reply = b""
    while parse_reply(reply) is None and len(reply) < 4096:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        reply += chunk
    return reply


def choose(
    setting: str,
    detector: Callable[[], str] = detect,
    env: Mapping[str, str] | None = None,
    cell_size: Callable[[], tuple[int, int] | None] | None = None,
) -> str:
    """``--images``: ``blocks``/``sixel``/``kitty`` as given; ``auto`` asks the terminal.

    With ``cell_size`` (e.g. :func:`reported_cell_pixels`), ``auto`` takes sixel only where
    the terminal says how large its cells are: a sixel image is drawn at its own pixel
    size, and one made for guessed cells can spill out of its place (kitty scales its
    images to the cells it is given, so it needs no such care).
    """
    if setting not in IMAGE_CHOICES:
        raise ValueError(f"--images {setting!r}: choose one of {', '.join(IMAGE_CHOICES)}")
    env = os.environ if env is None else env
    if setting != "auto":
        return setting
    if env.get("NO_COLOR") is not None and env.get("NO_COLOR") != "":
        return "blocks"  # the user asked for no colour: pictures in colour would defy it
    found = detector()
    if found == "sixel" and cell_size is not None and cell_size() is None:
        return "blocks"
    return found


def reported_cell_pixels(fd: int = 2) -> tuple[int, int] | None:
    """(width, height) in pixels of one cell of the terminal on ``fd`` (TIOCGWINSZ), or
    None when it does not say (many terminals over SSH do not)."""
    try:
        import fcntl
        import struct
        import termios

        raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        rows, cols, xpix, ypix = struct.unpack("HHHH", raw)
    except (OSError, ImportError):
        return None
    if rows and cols and xpix and ypix:
        return max(1, xpix // cols), max(1, ypix // rows)
    return None


def cell_pixels(fd: int = 2) -> tuple[int, int]:
    """:func:`reported_cell_pixels`, or :data:`DEFAULT_CELL_PX` when the terminal does not say."""
    return reported_cell_pixels(fd) or DEFAULT_CELL_PX


# --------------------------------------------------------------------------- pixels


def to_rgb8(image: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """An (H, W) or (H, W, 3) image as (H, W, 3) uint8, ``value_range`` mapped to 0..255.

    The default range is 0..255 for uint8 data, else the image's own min..max. Low values
    are dark, as the tiles draw them.
    """
    img = np.asarray(image)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")
    if value_range is None:
        if img.dtype == np.uint8:
            value_range = (0.0, 255.0)
        else:
            value_range = (float(np.nanmin(img)), float(np.nanmax(img)))
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    px = np.nan_to_num((np.asarray(img, dtype=np.float64) - lo) * scale, nan=0.0)
    out = np.clip(np.rint(px), 0, 255).astype(np.uint8)
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return np.ascontiguousarray(out)


def pixel_box(
    image_shape: tuple[int, int],
    cell_w: int,
    cell_h: int,
    cell_px: tuple[int, int] = DEFAULT_CELL_PX,
) -> tuple[int, int]:
    """(height, width) in pixels an image is drawn at in ``cell_w x cell_h`` cells.

    Its aspect is kept; it is enlarged by the largest whole factor that fits (pixels stay
    square and crisp), or shrunk to fit when it is larger than the box.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    box_w, box_h = cell_w * cell_px[0], cell_h * cell_px[1]
    if h < 1 or w < 1 or box_w < 1 or box_h < 1:
        raise ValueError(f"nothing to draw: image {h}x{w} in {cell_w}x{cell_h} cells")
    factor = min(box_w // w, box_h // h)
    if factor >= 1:
        return h * factor, w * factor
    shrink = min(box_w / w, box_h / h)
    return max(1, int(h * shrink)), max(1, int(w * shrink))


def _fit(rgb: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Whole-factor enlargement repeats pixels; shrinking averages areas."""
    h, w = rgb.shape[:2]
    if (out_h, out_w) == (h, w):
        return rgb
    if out_h % h == 0 and out_w % w == 0 and out_h >= h:
        return np.repeat(np.repeat(rgb, out_h // h, axis=0), out_w // w, axis=1)
    from digitmap_tui.glyphs import resample

    return np.clip(np.rint(resample(rgb, out_h, out_w, upsample=True)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- encoders


def encode(
    image: np.ndarray,
    protocol: str,
    cell_w: int,
    cell_h: int,
    *,
    value_range: tuple[float, float] | None = None,
    cell_px: tuple[int, int] = DEFAULT_CELL_PX,
    image_id: int | None = None,
    tmux: bool = False,
    z: int | None = None,
) -> str:
    """The escape sequence that draws ``image`` in ``cell_w x cell_h`` cells at the cursor.

    ``protocol`` is ``"kitty"`` (RGB, zlib-compressed, in 4096-byte base64 chunks; the cursor
    does not move, ``q=2`` silences replies; ``image_id`` makes a later image with the same
    id replace this one) or ``"sixel"`` (a DCS string: at most 256 colours, exact when the
    image has no more; the cursor ends below the image, so callers save and restore it).
    ``cell_px`` is the cell size in pixels (:func:`cell_pixels`). ``tmux`` wraps each
    sequence for tmux's passthrough. ``z`` (kitty) stacks the image: below 0 it is drawn
    under the text, so text drawn over its cells later (a notification) stays readable.
    """
    rgb = to_rgb8(image, value_range)
    out_h, out_w = pixel_box(rgb.shape[:2], cell_w, cell_h, cell_px)
    rgb = _fit(rgb, out_h, out_w)
    if protocol == "kitty":
        parts = _kitty(rgb, cell_w, cell_h, image_id, z)
    elif protocol == "sixel":
        parts = [_sixel(rgb)]
    else:
        raise ValueError(f"unknown pixel protocol {protocol!r}; expected kitty or sixel")
    return "".join(tmux_wrap(p) for p in parts) if tmux else "".join(parts)


def placed(sequence: str, at: tuple[int, int], back: tuple[int, int]) -> str:
    """``sequence`` (from :func:`encode`) drawn with its top-left corner at the screen cell
    ``at`` (x, y, from 0), then the cursor put at ``back``: what a widget that draws lines
    of text appends to a line to put an image somewhere on the screen, leaving the cursor
    where the rest of the line expects it (sixel moves it, kitty does not)."""
    return f"{_ESC}[{at[1] + 1};{at[0] + 1}H{sequence}{_ESC}[{back[1] + 1};{back[0] + 1}H"


def kitty_delete(image_id: int | None = None, tmux: bool = False) -> str:
    """Delete one image (``image_id``) or every image the kitty protocol placed."""
    seq = f"{_ESC}_Ga=d,d=I,i={image_id},q=2{_ST}" if image_id else f"{_ESC}_Ga=d,d=A,q=2{_ST}"
    return tmux_wrap(seq) if tmux else seq


def _kitty(
    rgb: np.ndarray, cell_w: int, cell_h: int, image_id: int | None, z: int | None = None
) -> list[str]:
    h, w = rgb.shape[:2]
    payload = base64.standard_b64encode(zlib.compress(rgb.tobytes(), 6)).decode("ascii")
    ident = f",i={image_id}" if image_id else ""
    if z is not None:
        ident += f",z={int(z)}"
    head = f"a=T,f=24,o=z,s={w},v={h},c={cell_w},r={cell_h},C=1,q=2{ident}"
    chunks = [payload[k : k + _KITTY_CHUNK] for k in range(0, len(payload), _KITTY_CHUNK)]
    out = []
    for k, chunk in enumerate(chunks):
        more = 1 if k < len(chunks) - 1 else 0
        keys = f"{head},m={more}" if k == 0 else f"m={more}"
        out.append(f"{_ESC}_G{keys};{chunk}{_ST}")
    return out


_SIXEL_RUN = re.compile(r"(.)\1{3,}")


def _palette(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(palette (K, 3) uint8, index per pixel (H, W)); K <= 256, exact when the image has
    no more colours, else Pillow's median cut (no dithering: tiles are small)."""
    packed = (
        (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    )
    colours, index = np.unique(packed.ravel(), return_inverse=True)
    if len(colours) <= 256:
        palette = np.stack(
            [(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1
        ).astype(np.uint8)
        return palette, index.reshape(rgb.shape[:2])
    from PIL import Image

    quantized = Image.fromarray(rgb, mode="RGB").quantize(
        256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    index = np.asarray(quantized, dtype=np.int64)
    flat = quantized.getpalette() or []
    palette = np.asarray(flat[: 3 * (int(index.max()) + 1)], dtype=np.uint8).reshape(-1, 3)
    return palette, index


def _sixel(rgb: np.ndarray) -> str:
    h, w = rgb.shape[:2]
    palette, index = _palette(rgb)
    out = [f"{_ESC}P0;1;0q", f'"1;1;{w};{h}']
    for k, (r, g, b) in enumerate(palette.tolist()):
        # sixel colours are percentages
        out.append(f"#{k};2;{round(r * 100 / 255)};{round(g * 100 / 255)};{round(b * 100 / 255)}")
    weights = (1 << np.arange(6, dtype=np.int64))[:, None]
    for top in range(0, h, 6):
        band = index[top : top + 6]
        rows = band.shape[0]
        used = np.unique(band)
        lines = []
        for colour in used.tolist():
            bits = ((band == colour) * weights[:rows]).sum(axis=0)
            text = "".join(chr(63 + int(v)) for v in bits.tolist()).rstrip("?")
            text = _SIXEL_RUN.sub(lambda m: f"!{len(m.group(0))}{m.group(1)}", text)
            lines.append(f"#{colour}{text}")
        out.append("$".join(lines))
        out.append("-" if top + 6 < h else "")
    out.append(_ST)
    return "".join(out)
