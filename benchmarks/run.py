"""Every digitmap-tui figure in one table: ``python benchmarks/run.py [--quick] [--json PATH]``.

Each group runs in a fresh Python process (imports, memory and Textual settings never leak
from one into another), and every ratio compares two figures measured in the same run, so
that a noisy machine moves both sides alike. Times are medians of several repeats; see each
module's docstring for its method:

* binning.py    re-binning a view at 1M and 10M points vs np.histogram2d;
* keystrokes.py key to settled screen in a real pseudo-terminal (200x60, Textual's frame cap
                as shipped): a minimal Textual app, the explorer on the digits and on 1M points;
* frames.py     keystroke to finished frame, and bytes written per key, in the headless app
                (frame cap lifted: the work itself, not what a user waits for);
* rendering.py  ``digitmap render`` at 1M and 10M points vs uniplot (and plotext), in
                process and as a whole process;
* commands.py   ``digitmap --help``, ``--version``, a flag error vs ``python -c pass``;
* startup.py    first frame of a fresh ``digitmap`` vs a fresh ``import textual.app``;
* embedding.py  UMAP in a fresh process (empty / filled numba cache), t-SNE on the digits;
* memory.py     peak RSS exploring 1M points;
* folders.py    reading an image folder: one process, the process pool, the cache;
* hostile.py    time and peak memory to refuse each hostile file (bombs, overflows, caps);
* scale.py      a 70,000 x 784 MNIST-like set: first map, PCA and t-SNE against the bare
                libraries, --fit-sample at 70,000 and through a 10M-row file (peak memory).

Every temporary file (data, caches, bytecode, numba) lives in a private temporary directory
that is removed afterwards. ``--quick`` (a few minutes) uses fewer repeats and keys, skips
plotext and 10M in-process repeats beyond two. The comparisons need the ``compare`` extra
(``pip install -e '.[compare]'``: uniplot, plotext).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

#: (key, target, comparison, unit) for the table's verdict column.
TARGETS: list[tuple[str, float, str, str]] = [
    ("rebin_ratio_1m", 25, ">=", "x faster than np.histogram2d"),
    ("rebin_10m_ms", 100, "<=", "ms"),
    ("keys_digits_ratio", 2.5, "<=", "x the minimal Textual app"),
    ("keys_1m_ratio", 2.5, "<=", "x the minimal Textual app"),
    ("keys_digits_bytes_ratio", 1.5, "<=", "x the fewest bytes that redraw the changed cells"),
    ("keys_1m_bytes_ratio", 1.5, "<=", "x the fewest bytes that redraw the changed cells"),
    ("render_1m_ratio", 1, "<", "x uniplot, in process"),
    ("render_10m_ratio", 1, "<", "x uniplot, in process"),
    ("render_1m_process_ratio", 1, "<", "x uniplot, whole process"),
    ("render_10m_process_ratio", 1, "<", "x uniplot, whole process"),
    ("help_ratio", 1.5, "<=", "x python -c pass"),
    ("version_ratio", 1.5, "<=", "x python -c pass"),
    ("flag_error_ratio", 1.5, "<=", "x python -c pass"),
    ("headless_frame_1m_ms", 16, "<=", "ms"),
    ("bytes_map_per_box_move", 1500, "<=", "B"),
    ("bytes_per_box_move", 8000, "<=", "B"),
    ("bytes_per_box_move_ascii", 3000, "<=", "B"),
    ("startup_ratio", 2.5, "<=", "x import textual.app"),
    ("umap_fresh_ratio", 2, "<=", "x warm"),
    ("rss_1m_mb", 400, "<=", "MB"),
    ("hostile_max_s", 5, "<=", "s"),
    ("first_map_s", 5, "<=", "s"),
    ("tsne_ratio", 1.1, "<=", "x bare openTSNE"),
    ("tsne_s", 120, "<=", "s"),
    ("big_peak_mb", 4096, "<=", "MB"),
]


def python_json(module: str, *args: str, timeout: float = 900) -> Any:
    """Run ``python -m benchmarks.MODULE ARGS`` in a fresh process; its JSON output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    from importlib.metadata import version

    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "textual": version("textual"),
        "numpy": version("numpy"),
        "platform": platform.platform(),
    }


def collect(quick: bool, log: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Run every group (but those in ``skip``: only ``scale``, hours long, can be left out);
    one flat dict of figures."""
    out: dict[str, Any] = {}
    reps = 9 if quick else 21

    log("binning (1M, 10M) ...")
    binning = python_json("binning", "1000000", "10000000")
    b1, b10 = binning["1000000"], binning["10000000"]
    out.update(
        rebin_1m_ms=b1["rebin_ms"],
        rebin_1m_full_view_ms=b1["rebin_full_view_ms"],
        histogram2d_1m_ms=b1["histogram2d_ms"],
        bin_points_1m_ms=b1["bin_points_ms"],
        rebin_ratio_1m=b1["histogram2d_ms"] / b1["rebin_ms"],
        rebin_10m_ms=b10["rebin_ms"],
        histogram2d_10m_ms=b10["histogram2d_ms"],
        index_build_1m_s=b1["index_build_s"],
        index_build_10m_s=b10["index_build_s"],
        index_1m_mb=b1["index_mb"],
    )

    log("key to settled screen in a pseudo-terminal (floor app, digits, 1M) ...")
    keys = python_json("keystrokes", "--moves", "18" if quick else "42", timeout=1800)
    for name, prefix in (("floor", "keys_floor"), ("digits", "keys_digits"), ("1m", "keys_1m")):
        got = keys[name]
        out[f"{prefix}_ms"] = got["ms"]["median"]
        out[f"{prefix}_min_ms"] = got["ms"]["min"]
        out[f"{prefix}_max_ms"] = got["ms"]["max"]
        out[f"{prefix}_bytes"] = got["bytes"]["median"]
        out[f"{prefix}_changed_cells"] = got["changed_cells"]["median"]
        out[f"{prefix}_late_redraws"] = got["late_redraws"]
        if name != "floor":
            out[f"{prefix}_ratio"] = got["ratio_to_floor"]
            # bytes over the changed-cell minimum (pyte: the fewest bytes any redraw of the
            # cells that changed needs, keystrokes.minimal_bytes), per key, median
            out[f"{prefix}_min_bytes"] = got["min_bytes"]["median"]
            out[f"{prefix}_bytes_ratio"] = got["bytes_ratio"]["median"]

    log("render at 1M and 10M vs uniplot (in process, whole process) ...")
    render = python_json("rendering", "1000000", "10000000", *(["--quick"] if quick else []))
    for n, tag in (("1000000", "1m"), ("10000000", "10m")):
        inproc, whole = render[n]["in_process"], render[n]["whole_process"]
        out[f"render_{tag}_ms"] = inproc["digitmap"]["ms"]
        out[f"render_{tag}_min_ms"] = inproc["digitmap"]["min_ms"]
        out[f"render_{tag}_max_ms"] = inproc["digitmap"]["max_ms"]
        out[f"uniplot_{tag}_ms"] = inproc["uniplot"]["ms"]
        if "plotext" in inproc:
            out[f"plotext_{tag}_ms"] = inproc["plotext"]["ms"]
        out[f"render_{tag}_ratio"] = inproc["ratio"]["median"]
        out[f"render_{tag}_ratio_max"] = inproc["ratio"]["max"]
        out[f"render_{tag}_process_ms"] = whole["digitmap"]["ms"]
        out[f"uniplot_{tag}_process_ms"] = whole["uniplot"]["ms"]
        out[f"render_{tag}_process_ratio"] = whole["ratio"]["median"]
        out[f"render_{tag}_process_ratio_max"] = whole["ratio"]["max"]

    log("small commands (--help, --version, a flag error) vs python -c pass ...")
    commands = python_json("commands", "9" if quick else "25")
    for key in ("help", "version", "flag_error"):
        out[f"{key}_ms"] = commands[f"{key}_ms"]
        out[f"{key}_ratio"] = commands[f"{key}_ratio"]
    out["python_pass_ms"] = commands["python_ms"]
    out["small_command_heavy_imports"] = commands["heavy_imports"]

    log("headless frames and bytes (digits: blocks, shade, ascii, pan; 1M) ...")
    digits = python_json("frames", "digits", str(reps))
    shade = python_json("frames", "digits-shade", str(reps))
    ascii_ = python_json("frames", "digits-ascii", str(reps))
    pans = python_json("frames", "digits-pan", str(max(6, reps // 2)))
    large = python_json("frames", "large:1000000", str(reps))
    large_pans = python_json("frames", "large-pan:1000000", str(max(6, reps // 2)))
    out.update(
        headless_frame_digits_ms=digits["ms"],
        headless_frame_digits_cpu_ms=digits["cpu_ms"],
        headless_frame_1m_ms=large["ms"],
        headless_frame_1m_cpu_ms=large["cpu_ms"],
        bytes_map_per_box_move=digits["bytes_map"],
        bytes_panel_per_box_move=digits["bytes_panel"],
        bytes_per_box_move=digits["bytes"],
        bytes_per_box_move_shade=shade["bytes"],
        bytes_per_box_move_ascii=ascii_["bytes"],
        bytes_per_pan=pans["bytes"],
        headless_frame_pan_digits_ms=pans["ms"],
        headless_frame_pan_1m_ms=large_pans["ms"],
        bytes_per_box_move_1m=large["bytes"],
    )

    log("bytes in a real pseudo-terminal (cross-check) ...")
    out["bytes_per_box_move_pty"] = pty_bytes(["right", "right", "right", "left", "left", "left"])

    log("start-up ...")
    start = python_json("startup", str(3 if quick else 7))
    out.update(start)

    log("embeddings (UMAP warm" + ("" if quick else ", UMAP fresh") + ", t-SNE) ...")
    embed = python_json("embedding", "all", *(["--quick"] if quick else []), timeout=1800)
    out.update(embed)
    fresh, warm = out.get("umap_fresh_s"), out.get("umap_warm_s")
    out["umap_fresh_ratio"] = fresh / warm if fresh and warm else None

    log("image folders (400 photos, 400 28x28 PNGs) ...")
    folders = python_json("folders", "400", "3" if quick else "5")
    for kind in ("photos", "tiles"):
        f = folders[kind]
        out[f"folder_{kind}_one_process_s"] = f["one_process_s"]
        out[f"folder_{kind}_pool_s"] = f["pool_s"]
        out[f"folder_{kind}_default_s"] = f["default_s"]
        out[f"folder_{kind}_cached_s"] = f["cached_s"]

    log("peak memory at 1M points ...")
    with tempfile.TemporaryDirectory(prefix="digitmap-mem-") as tmp:
        python_json_write = [sys.executable, "-m", "benchmarks.memory", "write", tmp, "1000000"]
        subprocess.run(python_json_write, cwd=REPO, check=True)
        default = python_json("memory", "explore", tmp)
        bare = python_json("memory", "explore", tmp, "--no-quality")
    out["rss_1m_mb"] = default["rss_mb"]
    out["rss_1m_no_quality_mb"] = bare["rss_mb"]

    log("hostile files refused ...")
    hostile = python_json("hostile", "1" if quick else "3")
    out.update(
        hostile_cases=hostile["count"],
        hostile_max_s=hostile["max_seconds"],
        hostile_max_peak_mb=hostile["max_peak_mb"],
        hostile_baseline_s=hostile["baseline"]["seconds"],
        hostile_baseline_peak_mb=hostile["baseline"]["peak_mb"],
    )
    if "scale" in skip:
        return out
    log("scale (MNIST-sized embeddings vs bare libraries, --fit-sample, 10M rows) ...")
    out.update(python_json("scale", *(["--quick"] if quick else []), timeout=4 * 3600))
    return out


def pty_bytes(keys: list[str]) -> float:
    """Median bytes per key written to a real pseudo-terminal (tests.pty_program)."""
    import statistics

    sys.path.insert(0, str(REPO))
    from tests.pty_program import measure_bytes

    with tempfile.TemporaryDirectory(prefix="digitmap-pty-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        return float(statistics.median(measure_bytes(keys, cache)))


def verdict(figures: dict[str, Any], key: str, target: float, op: str) -> str:
    value = figures.get(key)
    if value is None:
        return "n/a"
    ok = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return "met" if ok else "MISSED"


def table(figures: dict[str, Any]) -> str:
    """The figures as an aligned text table, targets and verdicts where there are any."""
    targets = {k: (t, op, unit) for k, t, op, unit in TARGETS}
    lines = [f"{'figure':34} {'value':>12}  target"]
    for key, value in figures.items():
        if key in ("machine", "notes") or isinstance(value, (list, dict)):
            continue
        if value is None:
            text = "null"
        elif isinstance(value, float):
            text = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        else:
            text = str(value)
        goal = ""
        if key in targets:
            t, op, unit = targets[key]
            goal = f"{op} {t:g} {unit}  {verdict(figures, key, t, op)}"
        lines.append(f"{key:34} {text:>12}  {goal}".rstrip())
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a few minutes)")
    parser.add_argument("--json", metavar="PATH", help="write the figures as one JSON object")
    parser.add_argument(
        "--skip-scale",
        action="store_true",
        help="leave out the MNIST-to-10M group (hours on 2 cores; run it on its own)",
    )
    args = parser.parse_args()

    def log(text: str) -> None:
        sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")

    t0 = time.perf_counter()
    figures = collect(args.quick, log, frozenset({"scale"} if args.skip_scale else ()))
    figures["machine"] = machine()
    notes: dict[str, Any] = {
        "quick": args.quick,
        "seconds": round(time.perf_counter() - t0, 1),
        "keys_*": "key to settled screen in a real pty, 200x60, Textual's frame cap as shipped"
        " (benchmarks/keystrokes.py); medians, *_min_ms/*_max_ms the spread",
        "headless_frame_ms": "headless app, frame cap lifted: wall ms from the key to the last"
        " update it causes (benchmarks/frames.py); not what a user waits for",
        "render_*": "digitmap render vs uniplot, same run (benchmarks/rendering.py)",
        "rss_1m_mb": "app defaults, quality figures included; rss_1m_no_quality_mb without",
    }
    figures["notes"] = notes
    m = figures["machine"]
    print(f"digitmap-tui benchmarks{' (quick)' if args.quick else ''}")
    print(f"{m['nproc']} cores, {m['cpu']}, Python {m['python']}, Textual {m['textual']}")
    print(table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
