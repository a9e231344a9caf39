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

SUBCOMMANDS = ("explore", "render", "embed", "plot", "serve", "completion")
COLOR_CHOICES = ("auto", "always", "16", "256", "truecolor", "none")
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
        "--data", metavar="PATH", help="images: .npy, .npz, .csv or IDX (default: built-in digits)"
    )
    g.add_argument(
        "--labels", metavar="PATH", help="labels file (.npy, .csv, .txt or IDX), if not in --data"
    )
    g.add_argument("--shape", metavar="HxW", help="image shape for flat rows, e.g. 28x28")
    g.add_argument("--embedding", metavar="PATH", help="precomputed N×2 coordinates (.npy or .csv)")
    e = p.add_argument_group("embedding")
    e.add_argument("--method", default="tsne", help="pca, tsne or umap (default: tsne)")
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


def build_parser(defaults: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The full parser, subcommands included; ``defaults`` (from the config file) win over
    the built-in defaults of the options that exist."""
    parser = _TopParser(
        prog="digitmap",
        usage=f"digitmap [explorer options]\n       digitmap {{{','.join(SUBCOMMANDS)}}} ...",
        description="Explore 2-D embeddings (t-SNE, UMAP, PCA) of image datasets in the terminal.",
        epilog="Defaults come from config.toml in the user config directory (see the README).",
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
        help="list points whose label differs from the majority of their 10 map neighbours",
    )
    render.add_argument(
        "--k", type=_positive_int("--k", 1, 1000), default=10, help="neighbours for --misfits"
    )

    embed = subs.add_parser("embed", help="compute (or load from cache) an embedding")
    _add_data_options(embed)
    embed.add_argument("--out", metavar="PATH", help="write the N×2 coordinates (.npy or .csv)")
    embed.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    _add_plot_parser(subs)
    _add_serve_parser(subs)
    _add_completion_parser(subs)
    parser.explore = explore
    for sub in subs.choices.values():
        dests = {action.dest for action in sub._actions}
        sub.set_defaults(**{k: v for k, v in (defaults or {}).items() if k in dests})
    return parser


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
    plot.add_argument(
        "--sort", choices=("index", "x", "y", "label"), default="x", help="list order (default x)"
    )
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
    from digitmap_tui.figures import (
        figure_path_format,
        require_matplotlib,
        save_figure,
        selection_figure,
    )
    from digitmap_tui.grid import Rect, parse_grid
    from digitmap_tui.inputs import apply_bookmark_params, find_bookmark, load_inputs
    from digitmap_tui.render import RenderRequest
    from digitmap_tui.text import safe

    # Flags, the output name and the extra first: nothing is computed for a figure not written.
    out = Path(args.out)
    figure_path_format(out)
    if out.is_dir():
        raise InputError(f"--out {safe(args.out)}: is a directory, not a file")
    if out.exists() and not args.force:
        raise InputError(f"--out {safe(args.out)}: file exists (use --force to overwrite)")
    request = RenderRequest(
        view=parse_view(args.view) if args.view else None,
        box=Rect.parse(args.box, "--box") if args.box else None,
        grid=parse_grid(args.grid),
        list_mode=args.list,
        sort=args.sort,
        width=args.width,
        height=args.height,
    )
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


def under_web_driver() -> bool:
    """Whether Textual will draw through its web driver (``digitmap serve``, ``textual serve``).

    textual-serve starts the app as a subprocess with pipes, not a terminal, and names the
    driver in ``TEXTUAL_DRIVER``; the browser is the terminal then.
    """
    return "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")


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
        color_system="auto" if args.colors == "always" else args.colors,
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
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "explore")
    argv = _join_negative_values(argv)
    try:
        defaults = config_defaults(argv[0])
    except InputError as exc:
        sys.stderr.write(f"digitmap: error: {_one_line(str(exc))}\n")
        return 2
    args = build_parser(defaults).parse_args(argv)
    args.argv = argv[1:]  # as typed after the subcommand (serve forwards it to the explorer)
    debug = getattr(args, "debug", False) or os.environ.get("DIGITMAP_DEBUG") == "1"
    handlers = {
        "explore": cmd_explore,
        "render": cmd_render,
        "embed": cmd_embed,
        "plot": cmd_plot,
        "serve": cmd_serve,
        "completion": cmd_completion,
    }
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
