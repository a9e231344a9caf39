"""Small commands: ``digitmap --help``, ``--version`` and a flag error against ``python -c pass``.

Method. Each command is a fresh process, started the way a user starts it: the installed
``digitmap`` script where there is one (else ``python -m digitmap_tui``), its output into a
pipe. Bytecode is cached as an installed package has it: every process shares a private
``PYTHONPYCACHEPREFIX`` (and ``PYTHONDONTWRITEBYTECODE`` is dropped), and one unmeasured run
of each command fills it first. The commands and the floor alternate, so a noisy machine
slows them alike; figures are medians with min and max, and each ratio is the median over
rounds of the command's time over the floor's in the same round. ``-X importtime`` tells which
heavy modules each command imported (there should be none: no numpy, Textual or Rich).

Run as ``python -m benchmarks.commands REPEATS`` (one JSON object on stdout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import REPO, exit_on_hangup

COMMANDS = {"help": ["--help"], "version": ["--version"], "flag_error": ["--no-such-flag"]}
HEAVY = ("numpy", "textual", "rich", "sklearn", "scipy", "umap", "numba", "openTSNE")


def entry_point() -> list[str]:
    """The ``digitmap`` script beside this interpreter (an install), else ``-m``."""
    script = Path(sys.executable).parent / "digitmap"
    if script.exists():
        return [str(script)]
    found = shutil.which("digitmap")
    return [found] if found else [sys.executable, "-m", "digitmap_tui"]


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """Heavy top-level packages the command imports, from ``-X importtime``."""
    done = subprocess.run(
        argv, env=env | {"PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True
    )
    names = re.findall(r"import time:\s+\d+ \|\s+\d+ \| *(\S+)", done.stderr)
    return sorted({n.split(".")[0] for n in names if n.split(".")[0] in HEAVY})


def measure(repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="digitmap-cmds-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
            DIGITMAP_CACHE_DIR=str(Path(tmp) / "cache"),
            DIGITMAP_DATA_DIR=str(Path(tmp) / "data"),
            PYTHONPATH=str(REPO),
        )
        base = entry_point()
        runs = {name: base + args for name, args in COMMANDS.items()}
        runs["python"] = [sys.executable, "-c", "pass"]

        def run(argv: list[str]) -> float:
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, cwd=tmp, capture_output=True, check=False)
            return time.perf_counter() - t0

        for argv in runs.values():  # fill the bytecode cache
            run(argv)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, argv in runs.items():
                times[name].append(run(argv))
        heavy = {name: heavy_imports(base + args, env) for name, args in COMMANDS.items()}
    out: dict[str, object] = {"entry_point": Path(base[0]).name, "repeats": repeats}
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        out[f"{name}_ms"] = statistics.median(ms)
        out[f"{name}_min_ms"] = min(ms)
        out[f"{name}_max_ms"] = max(ms)
        if name != "python":
            # Each round's command against the floor run right after it: load moves both.
            ratios = [v / p for v, p in zip(values, times["python"], strict=True)]
            out[f"{name}_ratio"] = statistics.median(ratios)
            out[f"{name}_ratio_min"] = min(ratios)
            out[f"{name}_ratio_max"] = max(ratios)
    out["heavy_imports"] = heavy
    return out


if __name__ == "__main__":
    exit_on_hangup()
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 15)))
