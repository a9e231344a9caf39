"""Command line: ``digitmap`` (the explorer), ``digitmap render`` and ``digitmap embed``.

Every bad flag or file ends in one line on stderr (``digitmap: error: ...``) and exit status 2.
Heavy imports (Textual, scikit-learn, umap) happen only on the paths that need them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from digitmap_tui import __version__
from digitmap_tui.errors import InputError

if TYPE_CHECKING:  # the real imports stay lazy: `digitmap --version` must not pay for them
    import numpy as np

    from digitmap_tui.grid import Rect
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.render import RenderRequest

SUBCOMMANDS = ("explore", "render", "embed")
COLOR_CHOICES = ("auto", "16", "256", "truecolor", "none")
#: --colors as a Rich/Textual colour system.
COLOR_SYSTEMS = {"16": "standard", "256": "256", "truecolor": "truecolor"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (never a usage dump)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"digitmap: error: {message} (see digitmap {self._sub()}--help)\n")
        raise SystemExit(2)

    def _sub(self) -> str:
        name = self.prog.split()[-1]
        return f"{name} " if name in SUBCOMMANDS else ""


def _positive_int(flag: str, lo: int, hi: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: must be between {lo} and {hi}")
        return value

    return parse


def _float(flag: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected a finite number")
        return value

    return parse


def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data", metavar="PATH", help="images: .npy, .npz, .csv or IDX (default: built-in digits)"
    )
    g.add_argument(
        "--labels", metavar="PATH", help="labels file (.npy, .csv, .txt or IDX), if not in --data"
    )
    g.add_argument("--shape", metavar="HxW", help="image shape for flat rows, e.g. 28x28")
    g.add_argument("--embedding", metavar="PATH", help="precomputed N×2 coordinates (.npy or .csv)")
    e = p.add_argument_group("embedding")
    e.add_argument(
        "--method",
        default="auto",
        help="auto, pca, tsne, umap or pacmap (default auto: t-SNE for up to 100,000 points, "
        "UMAP above)",
    )
    e.add_argument(
        "--seed",
        type=_positive_int("--seed", 0, 2**32 - 1),
        default=0,
        help="random seed (default 0)",
    )
    e.add_argument(
        "--perplexity",
        type=_float("--perplexity"),
        default=30.0,
        help="t-SNE perplexity (default 30)",
    )
    e.add_argument(
        "--n-neighbors",
        type=_positive_int("--n-neighbors", 2, 10**6),
        default=15,
        help="UMAP n_neighbors (default 15)",
    )
    e.add_argument(
        "--min-dist", type=_float("--min-dist"), default=0.1, help="UMAP min_dist (default 0.1)"
    )
    e.add_argument(
        "--threads",
        type=_positive_int("--threads", 1, 1024),
        help="threads for t-SNE, UMAP and PaCMAP (default: every core this process may use; "
        "the count is part of the cache key, as t-SNE's result depends on it)",
    )
    e.add_argument(
        "--pca-dims",
        type=_positive_int("--pca-dims", 0, 10_000),
        default=50,
        help="reduce wider data to this many principal components before t-SNE, UMAP or "
        "PaCMAP (default 50; 0: off)",
    )
    c = p.add_argument_group("cache")
    c.add_argument(
        "--cache-dir", metavar="DIR", help="cache directory (default: the user cache dir)"
    )
    c.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _add_view_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--view", metavar="X0,X1,Y0,Y1", help="region of the map (default: all points)")
    p.add_argument("--box", metavar="X0,X1,Y0,Y1", help="selection box (default: the middle fifth)")
    p.add_argument(
        "--grid", metavar="ROWSxCOLS", default="4x4", help="grid mode cells (default 4x4)"
    )
    p.add_argument(
        "--list", action="store_true", help="list every point in the box instead of the grid"
    )
    p.add_argument(
        "--sort", choices=("index", "x", "y", "label"), default="x", help="list order (default x)"
    )
    p.add_argument(
        "--mode", choices=("label", "density", "purity"), default="label", help="map mode"
    )
    p.add_argument(
        "--glyphs", choices=("blocks", "shade", "ascii"), help="image glyphs (default: by terminal)"
    )
    p.add_argument(
        "--colors",
        choices=COLOR_CHOICES,
        default="auto",
        help="colour depth: auto (from TERM, COLORTERM, NO_COLOR), 16, 256, truecolor or none",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full parser, subcommands included."""
    parser = _Parser(
        prog="digitmap",
        description="Explore 2-D embeddings (t-SNE, UMAP, PCA) of image datasets in the terminal.",
        epilog="With no subcommand, digitmap opens the explorer (options: digitmap explore --help).",
    )
    parser.add_argument("--version", action="version", version=f"digitmap {__version__}")
    subs = parser.add_subparsers(dest="command", parser_class=_Parser)

    explore = subs.add_parser("explore", help="open the interactive explorer (the default)")
    _add_data_options(explore)
    _add_view_options(explore)
    explore.add_argument(
        "--debug", action="store_true", help="show tracebacks of failed operations"
    )
    explore.add_argument(
        "--print-selection",
        action="store_true",
        help="on exit, print the selection's indices to stdout",
    )
    explore.add_argument(
        "--print-json", action="store_true", help="like --print-selection, as a JSON list"
    )
    explore.add_argument("--bookmark", metavar="NAME", help="open a saved bookmark")

    render = subs.add_parser("render", help="print the map and the images of a region to stdout")
    _add_data_options(render)
    _add_view_options(render)
    render.add_argument(
        "--width", type=_positive_int("--width", 8, 1000), help="map width in cells"
    )
    render.add_argument(
        "--height", type=_positive_int("--height", 4, 1000), help="map height in cells"
    )
    render.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    render.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="colour output"
    )
    render.add_argument(
        "--bookmark", metavar="NAME", help="render a saved bookmark (view, box, grid, mode)"
    )
    render.add_argument(
        "--misfits",
        action="store_true",
        help="list points whose label differs from the majority of their 10 map neighbours",
    )
    render.add_argument(
        "--k", type=_positive_int("--k", 1, 1000), default=10, help="neighbours for --misfits"
    )

    embed = subs.add_parser("embed", help="compute (or load from cache) an embedding")
    _add_data_options(embed)
    embed.add_argument("--out", metavar="PATH", help="write the N×2 coordinates (.npy or .csv)")
    embed.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    _add_fit_sample_options(embed)
    return parser


def _add_fit_sample_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("large data (fit on a sample, place the rest)")
    g.add_argument(
        "--fit-sample",
        metavar="M",
        type=_positive_int("--fit-sample", 5, 10**9),
        help="fit on M random rows (seeded) and place every other row with the method's "
        "transform, in chunks, resumably (needs --data as .npy or IDX, and --out)",
    )
    g.add_argument(
        "--chunk-rows",
        metavar="R",
        type=_positive_int("--chunk-rows", 1, 10**8),
        default=10_000,
        help="rows placed per task with --fit-sample (default 10000)",
    )
    g.add_argument(
        "--dask",
        metavar="tcp://HOST:PORT",
        help="place the chunks on this Dask scheduler instead of local processes "
        "(pip install 'digitmap-tui[dask]')",
    )


def cmd_render(args: argparse.Namespace) -> int:
    from digitmap_tui.grid import Rect, parse_grid
    from digitmap_tui.inputs import (
        apply_bookmark_params,
        describe_source,
        ensure_coords,
        find_bookmark,
        load_inputs,
    )
    from digitmap_tui.render import RenderRequest, render_json, render_text

    # The flags first: a bad --view must not wait for a large file to load.
    request = RenderRequest(
        view=parse_view(args.view) if args.view else None,
        box=Rect.parse(args.box, "--box") if args.box else None,
        grid=parse_grid(args.grid),
        list_mode=args.list,
        sort=args.sort,
        mode=args.mode,
        glyphs=args.glyphs,
        width=args.width,
        height=args.height,
    )
    inputs = load_inputs(args)
    if args.bookmark:
        state = find_bookmark(inputs, args.bookmark)
        apply_bookmark_params(inputs, state)
        request = request_from_bookmark(request, state)
    coords = ensure_coords(inputs, quiet=args.json)
    if args.misfits:
        return print_misfits(inputs, coords, args.k, args.json)
    if args.json:
        sys.stdout.write(
            json.dumps(render_json(inputs.dataset, coords, request, describe_source(inputs))) + "\n"
        )
        return 0
    from rich.console import Console

    color = {"always": True, "never": False}.get(args.color)
    if args.colors == "none":
        color = False
    elif args.colors != "auto":
        color = True  # an explicit depth means colours, even into a pipe
    console = Console(
        file=sys.stdout,
        force_terminal=True if color else None,
        no_color=(color is False) or None,  # type: ignore[arg-type]
        color_system=COLOR_SYSTEMS.get(args.colors, "auto"),  # type: ignore[arg-type]
        highlight=False,
        soft_wrap=True,
    )
    render_text(console, inputs.dataset, coords, request, describe_source(inputs))
    return 0


def print_misfits(inputs: Inputs, coords: np.ndarray, k: int, as_json: bool) -> int:
    """``render --misfits``: every point unlike its k nearest map neighbours, most striking first."""
    from digitmap_tui.analysis import misfits
    from digitmap_tui.inputs import describe_source

    labels = inputs.dataset.labels
    if labels is None:
        raise InputError("--misfits needs labels (give --labels or data with a label column)")
    found = misfits(coords, labels, k=min(k, inputs.dataset.n - 1))
    if as_json:
        record = {
            "k": k,
            "embedding": describe_source(inputs),
            "count": len(found),
            "misfits": [
                {
                    "index": f.index,
                    "label": f.label,
                    "neighbour_label": f.neighbour_label,
                    "agreement": f.agreement,
                }
                for f in found
            ],
        }
        sys.stdout.write(json.dumps(record) + "\n")
        return 0
    sys.stdout.write(f"{len(found)} misfits ({describe_source(inputs)}, k={k})\n")
    sys.stdout.write("index  label  neighbours  agreement\n")
    for f in found:
        sys.stdout.write(
            f"{f.index:>5}  {f.label:>5}  {f.neighbour_label:>10}  {f.agreement:>9.0%}\n"
        )
    return 0


def request_from_bookmark(request: RenderRequest, state: dict[str, Any]) -> RenderRequest:
    """A render request showing the bookmark's view, box, grid and modes (--view/--box win)."""
    from dataclasses import replace

    from digitmap_tui.grid import Rect

    def rect(value: Any) -> Rect | None:
        try:
            return Rect(*(float(v) for v in value))
        except (TypeError, ValueError, InputError):
            return None

    grid = state.get("grid") or (4, 4)
    return replace(
        request,
        view=request.view or rect(state.get("view")),
        box=request.box or rect(state.get("box")),
        grid=(int(grid[0]), int(grid[1])),
        list_mode=bool(state.get("list_mode", False)),
        sort=str(state.get("sort", "x")),
        mode=str(state.get("mode", "label")),
    )


def cmd_embed(args: argparse.Namespace) -> int:
    if args.embedding:
        raise InputError("--embedding: `digitmap embed` computes an embedding; drop --embedding")
    if args.dask and not args.fit_sample:
        raise InputError("--dask places the chunks of --fit-sample; add --fit-sample M")
    if args.fit_sample:
        return cmd_fit_sample(args)
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix.lower() not in (".npy", ".csv"):
            raise InputError(f"--out {args.out}: use a .npy or .csv file name")
        if out.is_dir():
            raise InputError(f"--out {args.out}: is a directory, not a file")
        if out.exists() and not args.force:
            raise InputError(f"--out {args.out}: file exists (use --force to overwrite)")
        if not out.parent.exists():
            raise InputError(f"--out {args.out}: directory {out.parent} does not exist")
        if not out.parent.is_dir():
            raise InputError(f"--out {args.out}: {out.parent} is not a directory")
    from digitmap_tui.inputs import describe_source, ensure_coords, load_inputs

    inputs = load_inputs(args)
    coords = ensure_coords(inputs)
    if out is not None:
        from digitmap_tui.export import write_atomic_array

        write_atomic_array(out, coords)
        sys.stderr.write(f"digitmap: wrote {len(coords)}×2 coordinates to {out}\n")
    else:
        sys.stderr.write(
            f"digitmap: {describe_source(inputs)}: {len(coords)} points ready (cached)\n"
        )
    return 0


def cmd_fit_sample(args: argparse.Namespace) -> int:
    """``embed --fit-sample M``: fit on a sample, place the rest chunk by chunk (resumable)."""
    if not args.data:
        raise InputError("--fit-sample needs --data (an .npy or IDX file of images)")
    if not args.out:
        raise InputError("--fit-sample needs --out (where the coordinates go)")
    out = Path(args.out)
    if out.suffix.lower() not in (".npy", ".csv"):
        raise InputError(f"--out {args.out}: use a .npy or .csv file name")
    if out.exists() and not args.force:
        raise InputError(f"--out {args.out}: file exists (use --force to overwrite)")
    if not out.parent.is_dir():
        raise InputError(f"--out {args.out}: directory {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"--out {args.out}: directory {out.parent} is not writable")
    from digitmap_tui.embed import EmbedParams
    from digitmap_tui.placement import fit_sample

    params = EmbedParams(
        method=args.method.lower(),
        seed=args.seed,
        perplexity=args.perplexity,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        pca_dims=args.pca_dims,
        threads=args.threads,
    )
    show = sys.stderr.isatty()

    def progress(done: int, total: int, phase: str) -> None:
        if show:
            share = f" ({done / total:.1%})" if phase == "placing" else ""
            sys.stderr.write(f"\r\x1b[2Kdigitmap: {phase} {done}/{total} chunks{share}")
            sys.stderr.flush()

    result = fit_sample(
        args.data,
        out,
        params,
        args.fit_sample,
        chunk_rows=args.chunk_rows,
        dask=args.dask,
        force=args.force,
        progress=progress,
    )
    if show:
        sys.stderr.write("\r\x1b[2K")
    sys.stderr.write(
        f"digitmap: wrote {result.n:,}×2 coordinates to {out} ({result.params.describe()}, "
        f"fitted on {result.sample_size:,} rows; {result.computed} of {result.chunks} chunks "
        f"computed now, {result.seconds:.1f} s)\n"
    )
    return 0


def parse_view(text: str) -> Rect:
    """``--view``: a region with room for a map's cells (an absurdly thin one cannot be drawn)."""
    from digitmap_tui.grid import Rect

    rect = Rect.parse(text, "--view")
    for lo, hi in ((rect.x0, rect.x1), (rect.y0, rect.y1)):
        if hi - lo < max(1e-300, 1e-9 * max(abs(lo), abs(hi))):
            raise InputError(
                f"--view {text!r}: too small to draw (width and height must be at least"
                " a billionth of the coordinates)"
            )
    return rect


def has_terminal() -> bool:
    """Whether the explorer can draw: stdin and stderr are a TTY (stdout may be redirected)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def cmd_explore(args: argparse.Namespace) -> int:
    # Textual draws on stderr on Linux; without a terminal there it would hang writing escape codes.
    if not has_terminal():
        raise InputError(
            "the explorer needs a terminal (stdin and stderr must be a TTY); "
            "for scripts use `digitmap render` (add --json for machine-readable output)"
        )
    from dataclasses import replace

    from digitmap_tui.app import DigitmapApp, ExploreOptions
    from digitmap_tui.grid import Rect, parse_grid
    from digitmap_tui.inputs import apply_bookmark_params, find_bookmark, load_inputs

    # The flags first: a bad --view must not wait for a large file to load.
    options = ExploreOptions(
        view=parse_view(args.view) if args.view else None,
        box=Rect.parse(args.box, "--box") if args.box else None,
        grid=parse_grid(args.grid),
        list_mode=args.list,
        sort=args.sort,
        mode=args.mode,
        glyphs=args.glyphs,
        debug=args.debug,
        color=None if args.colors == "auto" else args.colors != "none",
        color_system=args.colors,
    )
    inputs = load_inputs(args)
    if args.bookmark:
        state = find_bookmark(inputs, args.bookmark)
        apply_bookmark_params(inputs, state)
        options = replace(options, bookmark=state)
    app = DigitmapApp(inputs, options)
    app.run()
    if args.print_selection or args.print_json:
        from digitmap_tui.export import format_selection

        # The UI drew on stderr; stdout carries only the indices, for `idx=$(digitmap ...)`.
        sys.stdout.write(format_selection(app.selection, as_json=args.print_json))
        sys.stdout.flush()
    return int(app.return_code or 0)


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--box -55,-20,-30,-5`` as typed: argparse would take ``-55,...`` for a flag.

    t-SNE coordinates are often negative, so a value right after a flag that takes numbers
    is joined to it (``--box=-55,...``) when it looks like a number.
    """
    takes_numbers = {"--view", "--box", "--perplexity", "--min-dist", "--seed", "--n-neighbors"}
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if (
            word in takes_numbers
            and len(nxt) > 1
            and nxt[0] == "-"
            and (nxt[1].isdigit() or nxt[1] == ".")
        ):
            out.append(f"{word}={nxt}")
            i += 2
            continue
        out.append(word)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``digitmap`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "explore")
    args = build_parser().parse_args(_join_negative_values(argv))
    debug = getattr(args, "debug", False) or os.environ.get("DIGITMAP_DEBUG") == "1"
    handlers = {"explore": cmd_explore, "render": cmd_render, "embed": cmd_embed}
    try:
        return handlers[args.command](args)
    except InputError as exc:
        sys.stderr.write(f"digitmap: error: {_one_line(str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("digitmap: interrupted\n")
        return 130
    except BrokenPipeError:
        # `digitmap render | head`: the reader left; not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(
            f"digitmap: error: {type(exc).__name__}: {_one_line(str(exc))}"
            " (run with --debug for details)\n"
        )
        return 1


def _one_line(text: str) -> str:
    """Errors are one line on stderr, whatever a file name or a library put in them."""
    return text.strip().replace("\r", "\\r").replace("\n", "\\n")
