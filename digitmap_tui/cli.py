"""Command line: ``digitmap`` (the explorer), ``digitmap render`` and ``digitmap embed``.

Every bad flag or file ends in one line on stderr (``digitmap: error: ...``) and exit status 2.
Heavy imports (Textual, scikit-learn, umap) happen only on the paths that need them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from digitmap_tui import __version__
from digitmap_tui.choices import COLOR_CHOICES, GLYPH_STYLES, IMAGE_CHOICES, MAP_MODES, SORT_KEYS
from digitmap_tui.errors import InputError
from digitmap_tui.methods import registry
from digitmap_tui.text import ascii_int, one_line, safe

# Not `from typing import TYPE_CHECKING`: importing typing (and json, pathlib) costs
# `digitmap --help` a tenth of Python's own start-up; type checkers know this name.
TYPE_CHECKING = False
if TYPE_CHECKING:  # the real imports stay lazy: `digitmap --version` must not pay for them
    from collections.abc import Sequence
    from typing import Any, NoReturn

    import numpy as np

    from digitmap_tui.grid import Rect
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.render import RenderRequest

SUBCOMMANDS = ("explore", "render", "embed", "labels", "plot", "serve", "completion")
#: --colors as a Rich/Textual colour system.
COLOR_SYSTEMS = {"16": "standard", "256": "256", "truecolor": "truecolor"}


def _columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (which imports bz2
    and lzma: a tenth of Python's start-up, for every ``--help``)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, at the terminal's width found as shutil would find it."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: Any = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (never a usage dump)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # argparse quotes stray arguments as typed: escaped, like every other error.
        sys.stderr.write(
            f"digitmap: error: {one_line(message)} (see digitmap {self._sub()}--help)\n"
        )
        raise SystemExit(2)

    def _sub(self) -> str:
        words = self.prog.split()[1:]  # "digitmap labels export" -> "labels export "
        return f"{' '.join(words)} " if words and words[0] in SUBCOMMANDS else ""


def _positive_int(flag: str, lo: int, hi: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        # ASCII digits only: int() would also read other scripts' digits.
        stripped = text.strip()
        digits = ascii_int(stripped[1:] if stripped[:1] in "+-" else stripped)
        if digits is None:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected a whole number")
        value = -digits if stripped.startswith("-") else digits
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


class _DeprecatedColor(argparse.Action):
    """``render --color auto|always|never``: an alias of ``--colors auto|always|none``."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        sys.stderr.write(
            "digitmap: warning: --color is deprecated; use --colors (auto, always, none,"
            " 16, 256 or truecolor)\n"
        )
        namespace.colors = {"never": "none"}.get(values, values)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        metavar="PATH",
        help="images: .npy, .npz, .csv, IDX, or a folder of PNG/JPEG/WebP/BMP with one"
        " subfolder per class (default: built-in digits)",
    )
    g.add_argument(
        "--labels",
        metavar="PATH",
        help="labels file (.npy, .csv, .txt or IDX), if not in --data; 'none' for no labels"
        " (a folder is then read flat)",
    )
    g.add_argument("--shape", metavar="HxW", help="image shape for flat rows, e.g. 28x28")
    g.add_argument(
        "--size",
        metavar="HxW",
        help="image folders: resize every image to this (default: the median size, at most 64x64)",
    )
    g.add_argument("--embedding", metavar="PATH", help="precomputed N×2 coordinates (.npy or .csv)")
    e = p.add_argument_group("embedding")
    e.add_argument("--method", default=registry.AUTO, help=registry.method_help())
    for param in registry.PARAMS.values():  # one flag per parameter of the registry
        if param.kind == "int":
            lo = 0 if param.zero_ok else int(param.lo or 0)
            parse = _positive_int(param.flag, lo, int(param.hi or 0))
        else:
            parse = _float(param.flag)
        e.add_argument(param.flag, type=parse, default=param.default, help=param.help)
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
    p.add_argument("--sort", choices=SORT_KEYS, default="x", help="list order (default x)")
    p.add_argument(
        "--mode",
        choices=MAP_MODES,
        default="label",
        help="map mode (points: every label's own points, 2×4 braille dots a cell)",
    )
    p.add_argument(
        "--tile-scale",
        type=_positive_int("--tile-scale", 1, 8),
        default=1,
        help="enlarge small images in tiles by this factor (1-8, default 1)",
    )
    p.add_argument("--glyphs", choices=GLYPH_STYLES, help="image glyphs (default: by terminal)")
    p.add_argument(
        "--colors",
        choices=COLOR_CHOICES,
        default="auto",
        help="colour: auto (from TERM, COLORTERM, NO_COLOR), always (even into a pipe),"
        " 16, 256, truecolor or none",
    )


class _TopParser(_Parser):
    """The top-level parser: its help also lists the explorer's options (plain ``digitmap``)."""

    explore: argparse.ArgumentParser | None = None

    def format_help(self) -> str:
        text = super().format_help()
        if self.explore is None:
            return text
        sections = self.explore.format_help().split("\n\n")[1:]  # without its usage line
        for i, section in enumerate(sections):
            if section.startswith("options:"):
                lines = section.splitlines()[1:]
                lines = [ln for ln in lines if not ln.lstrip().startswith("-h, --help")]
                sections[i] = "\n".join(["view and session:", *lines])
        return (
            f"{text}\nexplorer options (plain `digitmap` is `digitmap explore`):\n\n"
            + "\n\n".join(sections)
        )


class _Sink:
    """Takes any parser-building call and does nothing (see :class:`_OnlyOne`)."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self


class _OnlyOne:
    """The subcommands, each added by name and help, but with its options only for the one
    being run: argparse's ``add_argument`` calls for all seven cost more than a third of
    ``digitmap --help`` (the top-level help shows the explorer's options and the names)."""

    def __init__(self, subs: Any, only: str) -> None:
        self.subs, self.only = subs, only

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        parser = self.subs.add_parser(name, **kwargs)
        return parser if name == self.only else _Sink()


def build_parser(
    defaults: dict[str, str] | None = None, only: str | None = None
) -> argparse.ArgumentParser:
    """The parser, subcommands included; ``defaults`` (from the config file) win over the
    built-in defaults of the options that exist. ``only``: the subcommand being run, the
    only one whose options are built (the others parse nothing); None builds them all
    (shell completion, tests)."""
    parser = _TopParser(
        prog="digitmap",
        usage=f"digitmap [explorer options]\n       digitmap {{{','.join(SUBCOMMANDS)}}} ...",
        description="Explore 2-D embeddings (t-SNE, UMAP, PCA) of image datasets in the terminal.",
        epilog="Defaults come from config.toml in the user config directory (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"digitmap {__version__}")
    subs = parser.add_subparsers(dest="command", parser_class=_Parser, prog="digitmap")
    adder: Any = subs if only is None else _OnlyOne(subs, only)

    explore = adder.add_parser("explore", help="open the interactive explorer (the default)")
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
    explore.add_argument(
        "--images",
        choices=IMAGE_CHOICES,
        default="auto",
        help="how tiles are drawn: true pixels (kitty graphics, sixel) where the terminal"
        " answers that it can, else half blocks (default auto)",
    )

    render = adder.add_parser("render", help="print the map and the images of a region to stdout")
    _add_data_options(render)
    _add_view_options(render)
    render.add_argument(
        "--width", type=_positive_int("--width", 8, 1000), help="map width in cells"
    )
    render.add_argument(
        "--height", type=_positive_int("--height", 4, 1000), help="map height in cells"
    )
    render.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    render.add_argument(  # the one colour flag is --colors; --color stays for old scripts
        "--color",
        choices=("auto", "always", "never"),
        action=_DeprecatedColor,
        help=argparse.SUPPRESS,
    )
    render.add_argument(
        "--bookmark", metavar="NAME", help="render a saved bookmark (view, box, grid, mode)"
    )
    render.add_argument(
        "--misfits",
        action="store_true",
        help="list points whose label differs from the majority of their 10 map neighbours,"
        " most suspicious first (see README: Label review)",
    )
    render.add_argument(
        "--k", type=_positive_int("--k", 1, 1000), default=10, help="neighbours for --misfits"
    )

    embed = adder.add_parser("embed", help="compute (or load from cache) an embedding")
    _add_data_options(embed)
    embed.add_argument("--out", metavar="PATH", help="write the N×2 coordinates (.npy or .csv)")
    embed.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    _add_fit_sample_options(embed)
    _add_labels_parser(adder)
    _add_plot_parser(adder)
    _add_serve_parser(adder)
    _add_completion_parser(adder)
    parser.explore = subs.choices["explore"]
    for sub in subs.choices.values():
        dests = {action.dest for action in sub._actions}
        sub.set_defaults(**{k: v for k, v in (defaults or {}).items() if k in dests})
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


def _add_labels_parser(subs: Any) -> None:
    """``digitmap labels export``: the labels corrected by the review, for a training script."""
    labels = subs.add_parser("labels", help="the labels corrected in a review")
    actions = labels.add_subparsers(dest="action", parser_class=_Parser, required=True)
    export = actions.add_parser(
        "export",
        help="write the corrected labels (and the list of changes)",
        description="Write the dataset's labels with the review's decisions applied, in the "
        "input's order: .npy (int64, -1 = not a valid sample) or .csv (index,label; the label "
        "empty when not valid). --changes writes index,old,new,decision for every point with "
        "a decision. Existing files are never overwritten.",
    )
    g = export.add_argument_group("data")
    g.add_argument(
        "--data", metavar="PATH", help="images: .npy, .npz, .csv or IDX (default: built-in digits)"
    )
    g.add_argument(
        "--labels", metavar="PATH", help="labels file (.npy, .csv, .txt or IDX), if not in --data"
    )
    g.add_argument("--shape", metavar="HxW", help="image shape for flat rows, e.g. 28x28")
    export.add_argument("--out", metavar="FILE", help="corrected labels: .npy or .csv")
    export.add_argument(
        "--changes", metavar="FILE", help="decisions: .csv (index,old,new,decision)"
    )


def cmd_render(args: argparse.Namespace) -> int:
    from digitmap_tui.inputs import apply_bookmark_params, ensure_coords, find_bookmark, load_inputs
    from digitmap_tui.render import render_json, render_text
    from digitmap_tui.session import Session

    # The flags first: a bad --view must not wait for a large file to load.
    request = view_request(args)
    inputs = load_inputs(args)
    print_warnings(inputs)
    if args.bookmark:
        # find_bookmark checks the whole saved state with the flags' rules: a bad one is one
        # line and exit 2 before anything is computed or printed.
        state = find_bookmark(inputs, args.bookmark)
        apply_bookmark_params(inputs, state)
        request = request_from_bookmark(request, state)
    coords = ensure_coords(inputs, quiet=args.json)
    if args.misfits:
        return print_misfits(inputs, coords, args.k, args.json)
    session = Session.from_inputs(inputs, request.state())
    session.set_coords(coords, indexed=False)  # one picture: no index to build
    if args.json:
        import json

        sys.stdout.write(json.dumps(render_json(session)) + "\n")
        return 0
    from rich.console import Console

    color = None
    if args.colors == "none":
        color = False
    elif args.colors != "auto":
        color = True  # "always" or an explicit depth: colours, even into a pipe
    console = Console(
        file=sys.stdout,
        force_terminal=True if color else None,
        no_color=(color is False) or None,  # type: ignore[arg-type]
        color_system=COLOR_SYSTEMS.get(args.colors, "auto"),  # type: ignore[arg-type]
        highlight=False,
        soft_wrap=True,
    )
    render_text(console, session, request)
    return 0


def print_warnings(inputs: Inputs) -> None:
    """What loading noticed (e.g. files a folder skipped), one line each on stderr."""
    for note in inputs.warnings:
        sys.stderr.write(f"digitmap: warning: {note}\n")


def print_misfits(inputs: Inputs, coords: np.ndarray, k: int, as_json: bool) -> int:
    """``render --misfits``: every point unlike its k nearest map neighbours, most suspicious
    first (by the label-review score of :mod:`digitmap_tui.suspects`, which also weighs the
    pixel-space neighbours)."""
    from digitmap_tui.analysis import misfits
    from digitmap_tui.inputs import describe_source
    from digitmap_tui.suspects import cached_suspects

    labels = inputs.dataset.labels
    if labels is None:
        raise InputError("--misfits needs labels (give --labels or data with a label column)")
    found = misfits(coords, labels, k=min(k, inputs.dataset.n - 1))
    scored = cached_suspects(inputs.cache, inputs.dataset, coords)
    rank = scored.rank()
    found.sort(key=lambda f: rank[f.index])
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
                    "score": round(float(scored.score[f.index]), 6),
                    "suggested": int(scored.suggested[f.index]),
                }
                for f in found
            ],
        }
        import json

        sys.stdout.write(json.dumps(record) + "\n")
        return 0
    sys.stdout.write(f"{len(found)} misfits ({describe_source(inputs)}, k={k})\n")
    sys.stdout.write("index  label  neighbours  agreement  score  suggested\n")
    for f in found:
        sys.stdout.write(
            f"{f.index:>5}  {f.label:>5}  {f.neighbour_label:>10}  {f.agreement:>9.0%}"
            f"  {scored.score[f.index]:>5.2f}  {scored.suggested[f.index]:>9}\n"
        )
    return 0


def view_request(args: argparse.Namespace) -> RenderRequest:
    """The view, box, grid and modes the flags ask for (``render`` and ``plot``), checked
    before any data is loaded."""
    from digitmap_tui.grid import Rect, parse_grid
    from digitmap_tui.render import RenderRequest

    return RenderRequest(
        view=parse_view(args.view) if args.view else None,
        box=Rect.parse(args.box, "--box") if args.box else None,
        grid=parse_grid(args.grid),
        list_mode=args.list,
        sort=args.sort,
        mode=getattr(args, "mode", "label"),
        glyphs=getattr(args, "glyphs", None),
        width=args.width,
        height=args.height,
        tile_scale=getattr(args, "tile_scale", 1),
    )


def request_from_bookmark(request: RenderRequest, state: dict[str, Any]) -> RenderRequest:
    """A render request showing the bookmark's view, box, grid and modes (--view/--box win).

    The saved state is checked as the flags are (a one-line error, exit 2) before anything
    is printed.
    """
    from dataclasses import replace

    from digitmap_tui.session import State

    saved = State.from_dict(state)
    return replace(
        request,
        view=request.view or saved.view,
        box=request.box or saved.box,
        grid=saved.grid,
        list_mode=saved.list_mode,
        sort=saved.sort,
        mode=saved.mode,
    )


# --------------------------------------------------------------------------- digitmap plot


def _add_plot_parser(subs: Any) -> None:
    plot = subs.add_parser(
        "plot",
        help="write a report figure (map, box, images) as .png, .svg or .pdf",
        description="The seed notebook's figures with matplotlib (pip install"
        " 'digitmap-tui[plot]'): the map coloured by label with the box, and the images the"
        " box selects (exactly those `digitmap render --json` lists), each with its index and"
        " L:label.",
    )
    _add_data_options(plot)
    plot.add_argument("--view", metavar="X0,X1,Y0,Y1", help="region of the map (default: all)")
    plot.add_argument("--box", metavar="X0,X1,Y0,Y1", help="selection box (default: middle fifth)")
    plot.add_argument("--grid", metavar="ROWSxCOLS", default="4x4", help="grid cells (default 4x4)")
    plot.add_argument("--list", action="store_true", help="every point in the box, sorted")
    plot.add_argument("--sort", choices=SORT_KEYS, default="x", help="list order (default x)")
    plot.add_argument(
        "--width", type=_positive_int("--width", 8, 1000), help="as render's: sets the default box"
    )
    plot.add_argument(
        "--height",
        type=_positive_int("--height", 4, 1000),
        help="as render's: sets the default box",
    )
    plot.add_argument("--bookmark", metavar="NAME", help="plot a saved bookmark")
    plot.add_argument(
        "--twin",
        nargs="?",
        const="auto",
        metavar="METHOD",
        help="the map of another method beside it, the selection highlighted in both"
        " (default: UMAP beside t-SNE, t-SNE beside anything else)",
    )
    plot.add_argument(
        "--max-images",
        type=_positive_int("--max-images", 1, 10000),
        default=100,
        help="list mode: at most this many images (default 100)",
    )
    plot.add_argument("--out", metavar="FILE", required=True, help="FILE.png, FILE.svg or FILE.pdf")
    plot.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from digitmap_tui.figures import (
        figure_path_format,
        require_matplotlib,
        save_figure,
        selection_figure,
    )
    from digitmap_tui.inputs import apply_bookmark_params, find_bookmark, load_inputs
    from digitmap_tui.text import safe

    # Flags, the output name and the extra first: nothing is computed for a figure not written.
    out = Path(args.out)
    figure_path_format(out)
    if out.is_dir():
        raise InputError(f"--out {safe(args.out)}: is a directory, not a file")
    if out.exists() and not args.force:
        raise InputError(f"--out {safe(args.out)}: file exists (use --force to overwrite)")
    request = view_request(args)
    require_matplotlib()
    inputs = load_inputs(args)
    if args.bookmark:
        state = find_bookmark(inputs, args.bookmark)
        apply_bookmark_params(inputs, state)
        request = request_from_bookmark(request, state)
    fig = selection_figure(inputs, request, twin=args.twin or False, max_images=args.max_images)
    save_figure(fig, out, force=args.force)
    sys.stderr.write(f"digitmap: wrote {safe(args.out)}\n")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    if args.embedding:
        raise InputError("--embedding: `digitmap embed` computes an embedding; drop --embedding")
    if args.dask and not args.fit_sample:
        raise InputError("--dask places the chunks of --fit-sample; add --fit-sample M")
    if args.fit_sample:
        return cmd_fit_sample(args)
    from pathlib import Path

    out = Path(args.out) if args.out else None
    if out is not None:
        flag = f"--out {safe(args.out)}"
        if out.suffix.lower() not in (".npy", ".csv"):
            raise InputError(f"{flag}: use a .npy or .csv file name")
        if out.is_dir():
            raise InputError(f"{flag}: is a directory, not a file")
        if out.exists() and not args.force:
            raise InputError(f"{flag}: file exists (use --force to overwrite)")
        if not out.parent.exists():
            raise InputError(f"{flag}: directory {safe(out.parent)} does not exist")
        if not out.parent.is_dir():
            raise InputError(f"{flag}: {safe(out.parent)} is not a directory")
        from digitmap_tui.fileio import check_writable_dir

        # Before computing: a result that cannot be written must not cost minutes first.
        check_writable_dir(out.parent, flag)
    from digitmap_tui.inputs import describe_source, ensure_coords, load_inputs

    inputs = load_inputs(args)
    print_warnings(inputs)
    coords = ensure_coords(inputs)
    if out is not None:
        from digitmap_tui.fileio import write_atomic_array

        try:
            write_atomic_array(out, coords)
        except InputError as exc:  # names the path already: "<path>: disk full (...)"
            raise InputError(f"--out {exc}") from None
        except OSError as exc:
            raise InputError(f"--out {safe(out)}: cannot write ({exc.strerror or exc})") from None
        sys.stderr.write(f"digitmap: wrote {len(coords)}×2 coordinates to {safe(out)}\n")
    else:
        sys.stderr.write(
            f"digitmap: {describe_source(inputs)}: {len(coords)} points ready (cached)\n"
        )
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    """``digitmap labels export``: corrected labels and the list of decisions, atomically."""
    from digitmap_tui.review import check_out_path

    if not args.out and not args.changes:
        raise InputError("labels export: give --out FILE.{npy,csv} and/or --changes FILE.csv")
    # The paths first: a taken name must not wait for a large file to load.
    out = check_out_path(args.out, (".npy", ".csv")) if args.out else None
    changes = check_out_path(args.changes, (".csv",)) if args.changes else None
    if out is not None and changes is not None and out.resolve() == changes.resolve():
        raise InputError("--out and --changes name the same file")
    from digitmap_tui.data import load_dataset, load_digits, parse_shape
    from digitmap_tui.review import ReviewLog, write_changes, write_labels
    from digitmap_tui.text import safe

    if args.data:
        shape = parse_shape(args.shape) if args.shape else None
        dataset = load_dataset(args.data, labels=args.labels, shape=shape)
    else:
        if args.labels or args.shape:
            raise InputError("--labels and --shape need --data (the built-in digits have both)")
        from digitmap_tui.cache import default_cache_dir

        dataset = load_digits(default_cache_dir())
    if dataset.labels is None:
        raise InputError("labels export needs labels (give --labels or data with a label column)")
    log = ReviewLog.for_dataset(dataset)
    for note in (log.problem, log.warning):
        if note:
            sys.stderr.write(f"digitmap: warning: {safe(note)}\n")
    if not log.decisions:
        sys.stderr.write(
            f"digitmap: no review decisions for {safe(dataset.name)}; the labels are the originals\n"
        )
    if out is not None:
        write_labels(out, log.labels(dataset.labels))
        sys.stderr.write(f"digitmap: wrote {dataset.n} labels to {safe(str(out))}\n")
    if changes is not None:
        rows = log.changes(dataset.labels)
        write_changes(changes, rows)
        sys.stderr.write(f"digitmap: wrote {len(rows)} decisions to {safe(str(changes))}\n")
    return 0


def cmd_fit_sample(args: argparse.Namespace) -> int:
    """``embed --fit-sample M``: fit on a sample, place the rest chunk by chunk (resumable)."""
    from pathlib import Path

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
    from digitmap_tui.inputs import params_from_args
    from digitmap_tui.placement import fit_sample

    params = params_from_args(args)
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
    from digitmap_tui.grid import Rect, check_view

    return check_view(Rect.parse(text, "--view"), f"--view {text!r}")


def has_terminal() -> bool:
    """Whether the explorer can draw: stdin and stderr are a TTY (stdout may be redirected)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def under_web_driver() -> bool:
    """Whether Textual will draw through its web driver (``digitmap serve``, ``textual serve``).

    textual-serve starts the app as a subprocess with pipes, not a terminal, and names the
    driver in ``TEXTUAL_DRIVER``; the browser is the terminal then.
    """
    return "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")


def explorer_settings() -> tuple[dict[str, list[str]], str | None]:
    """The config file's ``[keys]`` (checked against the key table's action names and
    applied to it once, so a clash or a reserved key is an InputError here) and ``theme``."""
    from digitmap_tui import keymap
    from digitmap_tui.config import load_config

    config = load_config(actions=keymap.ids())
    where = safe(str(config.path)) if config.path is not None else "config"
    try:
        keymap.remap(config.keys)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return config.keys, config.theme


def cmd_explore(args: argparse.Namespace) -> int:
    web = under_web_driver()
    if web and (args.print_selection or args.print_json):
        # stdout carries the web driver's protocol: printing on it would corrupt the page.
        raise InputError("--print-selection/--print-json: not available in the browser")
    # Textual draws on stderr on Linux; without a terminal there it would hang writing escape codes.
    if not web and not has_terminal():
        raise InputError(
            "the explorer needs a terminal (stdin and stderr must be a TTY); "
            "for scripts use `digitmap render` (add --json for machine-readable output), "
            "for a browser `digitmap serve`"
        )
    from dataclasses import replace

    # The config's [keys] and theme: a bad entry is one line before anything heavy loads.
    keys, theme = explorer_settings()

    from digitmap_tui.app import DigitmapApp, ExploreOptions
    from digitmap_tui.grid import Rect, parse_grid
    from digitmap_tui.inputs import apply_bookmark_params, find_bookmark, load_inputs

    # The flags first: a bad --view must not wait for a large file to load.
    options = ExploreOptions(
        keys=keys,
        theme=theme,
        view=parse_view(args.view) if args.view else None,
        box=Rect.parse(args.box, "--box") if args.box else None,
        grid=parse_grid(args.grid),
        list_mode=args.list,
        sort=args.sort,
        mode=args.mode,
        glyphs=args.glyphs,
        debug=args.debug,
        color=None if args.colors == "auto" else args.colors != "none",
        color_system="auto" if args.colors == "always" else args.colors,
        tile_scale=args.tile_scale,
    )
    inputs = load_inputs(args)
    if args.bookmark:
        from digitmap_tui.session import State

        state = find_bookmark(inputs, args.bookmark)
        apply_bookmark_params(inputs, state)
        State.from_dict(state, inputs.dataset.n)  # a bad saved state: one line, exit 2
        options = replace(options, bookmark=state)
    options = replace(options, images=explore_images(args, web))
    app = DigitmapApp(inputs, options)
    with stdout_on_terminal(enabled=not web):
        run_until_signalled(app)
    if app.return_code is not None and app.return_code >= 128:
        return int(app.return_code)  # ended by a signal: print nothing
    if args.print_selection or args.print_json:
        from digitmap_tui.export import format_selection

        # The UI drew on stderr; stdout carries only the indices, for `idx=$(digitmap ...)`.
        sys.stdout.write(format_selection(app.selection, as_json=args.print_json))
        sys.stdout.flush()
    return int(app.return_code or 0)


def explore_images(args: argparse.Namespace, web: bool) -> str:
    """``--images``, resolved before the explorer starts: ``auto`` asks the terminal now,
    as Textual's input thread would take the answer for keys once it runs. Not in a
    browser (its terminal draws neither protocol), nor where colour is off."""
    from digitmap_tui import pixels

    setting = getattr(args, "images", "auto")
    if web or args.colors == "none" or (setting == "auto" and args.glyphs == "ascii"):
        return "blocks"
    return pixels.choose(setting, cell_size=pixels.reported_cell_pixels)


class stdout_on_terminal:
    """While the explorer runs, file descriptor 1 is the terminal it draws on.

    ``idx=$(digitmap --print-selection)`` redirects stdout; the UI draws on stderr, but the
    terminal size is read from stdout, which then has none (80x24, and resizes ignored).
    So stdout's descriptor is parked, the terminal put in its place, and the pipe given
    back afterwards for the selection to be printed to it.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled  # not under the web driver: its stdout is the page's channel
        self.parked = -1

    def __enter__(self) -> None:
        try:
            redirected = self.enabled and not os.isatty(1) and os.isatty(2)
        except OSError:
            redirected = False
        if redirected:
            sys.stdout.flush()
            self.parked = os.dup(1)
            os.dup2(2, 1)

    def __exit__(self, *exc: object) -> None:
        if self.parked >= 0:
            sys.stdout.flush()
            os.dup2(self.parked, 1)
            os.close(self.parked)


def run_until_signalled(app: Any) -> None:
    """``app.run()`` with SIGHUP, SIGTERM and SIGINT ending it cleanly (status 128 + signal).

    A signal cancels every running embedding at once (lifecycle), then asks the app to exit
    from its own event loop; Textual then restores the terminal as on a normal quit.
    """
    from digitmap_tui.lifecycle import call_soon_in_loop, exit_now, install_signal_handlers

    def on_signal(signum: int) -> None:
        code = 128 + signum
        if not call_soon_in_loop(lambda: app.exit(return_code=code)):
            exit_now(signum)  # no event loop (not started yet, or ended): nothing to save

    uninstall = install_signal_handlers(on_signal)
    try:
        app.run()
    finally:
        uninstall()


# --------------------------------------------------------------------------- digitmap serve

#: Flags of `digitmap serve` itself; every other flag goes to the explorer it serves.
SERVE_FLAGS = {"--host": True, "--port": True, "--public": False, "--debug-server": False}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _add_serve_parser(subs: Any) -> None:
    serve = subs.add_parser(
        "serve",
        help="serve the explorer to a web browser (pip install 'digitmap-tui[serve]')",
        description="Serve the explorer with textual-serve: each browser tab that opens the"
        " page runs its own explorer on this machine. Local only by default; there is no"
        " authentication, so --public is needed to listen on other addresses.",
    )
    _add_data_options(serve)
    _add_view_options(serve)
    serve.add_argument("--bookmark", metavar="NAME", help="open a saved bookmark")
    serve.add_argument("--debug", action="store_true", help="show tracebacks in the explorer")
    net = serve.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    net.add_argument(
        "--port", type=_positive_int("--port", 1, 65535), default=8000, help="port (default 8000)"
    )
    net.add_argument(
        "--public",
        action="store_true",
        help="allow a non-local --host (anyone who reaches it gets the explorer: no login)",
    )


def is_local_host(host: str) -> bool:
    """Whether ``host`` names this machine only (loopback), so nobody else can connect."""
    import ipaddress

    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def explorer_command(argv: Sequence[str]) -> list[str]:
    """The explorer's command line for ``serve``: this Python, this package, the same flags."""
    forwarded: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        name = word.split("=", 1)[0]
        if name in SERVE_FLAGS:
            skip = SERVE_FLAGS[name] and "=" not in word
            continue
        forwarded.append(word)
    return [sys.executable, "-m", "digitmap_tui", "explore", *forwarded]


def cmd_serve(args: argparse.Namespace) -> int:
    import shlex
    import signal

    from digitmap_tui.text import safe

    local = is_local_host(args.host)
    if not local and not args.public:
        raise InputError(
            f"--host {safe(args.host)}: not a local address; the server has no authentication,"
            " add --public to serve it to the network anyway"
        )
    try:
        from textual_serve.server import Server
    except ImportError:
        raise InputError(
            "digitmap serve needs textual-serve: pip install 'digitmap-tui[serve]'"
        ) from None
    from digitmap_tui.inputs import find_bookmark, load_inputs

    # Check the data and flags here, once, rather than in every browser tab.
    inputs = load_inputs(args)
    if args.bookmark:
        find_bookmark(inputs, args.bookmark)
    del inputs
    if not local:
        sys.stderr.write(
            f"digitmap: warning: serving on {safe(args.host)}:{args.port} with no authentication:"
            " anyone who can reach it runs the explorer as you\n"
        )
    command = shlex.join(explorer_command(getattr(args, "argv", [])))
    server = Server(command, host=args.host, port=args.port, title="digitmap")
    # A hang-up (a dropped SSH session) stops the server as Ctrl+C does, ending its explorers.
    signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    server.serve()
    return 0


# --------------------------------------------------------------------------- completion


def _add_completion_parser(subs: Any) -> None:
    completion = subs.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script, e.g. `digitmap completion bash >"
        " ~/.local/share/bash-completion/completions/digitmap` or, for zsh, into a"
        " directory on $fpath as _digitmap.",
    )
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell")


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    parser = build_parser()
    _mark_paths(parser, shtab)
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return 0


def _mark_paths(parser: argparse.ArgumentParser, shtab: Any) -> None:
    """Complete file names after --data, --out ... and directories after --cache-dir."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, shtab)
        elif action.metavar in ("PATH", "FILE"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.metavar == "DIR":
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]


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


def config_defaults(command: str) -> dict[str, str]:
    """The config file's defaults for a command that takes them (none for --help, completion)."""
    if command not in ("explore", "render", "embed", "plot", "serve"):
        return {}
    from digitmap_tui.config import load_config

    return load_config().defaults()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``digitmap`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # argparse would import its help formatter (and shutil) for it
        sys.stdout.write(f"digitmap {__version__}\n")
        return 0
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "explore")
    argv = _join_negative_values(argv)
    try:
        defaults = config_defaults(argv[0])
    except InputError as exc:
        sys.stderr.write(f"digitmap: error: {one_line(str(exc))}\n")
        return 2
    only = "explore" if argv[0] in ("-h", "--help", "--version") else argv[0]
    args = build_parser(defaults, only).parse_args(argv)
    args.argv = argv[1:]  # as typed after the subcommand (serve forwards it to the explorer)
    debug = getattr(args, "debug", False) or os.environ.get("DIGITMAP_DEBUG") == "1"
    if not debug:
        _warnings_on_one_line()
    handlers = {
        "explore": cmd_explore,
        "render": cmd_render,
        "embed": cmd_embed,
        "labels": cmd_labels,
        "plot": cmd_plot,
        "serve": cmd_serve,
        "completion": cmd_completion,
    }
    try:
        return handlers[args.command](args)
    except InputError as exc:
        sys.stderr.write(f"digitmap: error: {one_line(str(exc))}\n")
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
            f"digitmap: error: {type(exc).__name__}: {one_line(str(exc))}"
            " (run with --debug for details)\n"
        )
        return 1


def _warnings_on_one_line() -> None:
    """A library's warning is one escaped line on stderr, never its multi-line default form."""
    import warnings

    def show(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        try:
            sys.stderr.write(f"digitmap: warning: {one_line(message)}\n")
        except (OSError, ValueError):
            pass

    warnings.showwarning = show  # type: ignore[assignment]
