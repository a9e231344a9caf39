"""What a hostile file costs before it is refused: wall time and peak memory, per file.

Each file of ``tests/hostile_files.py`` (gzip and zip bombs of 3-6 MB that expand to 3 GB,
4 GB or claim 24 GiB; a million distinct labels; values whose squares overflow; images of
2000x2000) is handed to a fresh ``digitmap render --json``; a wrapper process waits for it
and reads the child's peak resident set (``getrusage(RUSAGE_CHILDREN).ru_maxrss``). The
same command on a good 40-image file is the baseline (the cost of starting Python and numpy).

``python -m benchmarks.hostile [REPEATS]`` prints one JSON object: per case the median
seconds and the peak MB, then the worst of each and the baseline.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import REPO

MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(
    [sys.executable, "-m", "digitmap_tui", "render", "--json", "--no-cache", *sys.argv[1:]],
    capture_output=True, text=True, stdin=subprocess.DEVNULL,
)
print(json.dumps({
    "status": done.returncode,
    "err": done.stderr,
    "seconds": time.perf_counter() - start,
    "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def measure(args: list[str]) -> dict[str, object]:
    """``digitmap render --json ARGS`` in a fresh process: status, stderr, seconds, peak MB."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    from tests.hostile_files import BOMBS

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="digitmap-hostile-") as tmp:
        d = Path(tmp)
        good = d / "good.npy"
        np.save(good, np.random.default_rng(0).random((40, 8, 8)))
        emb = d / "good-emb.npy"
        np.save(emb, np.random.default_rng(1).random((40, 2)))
        base = [measure(["--data", str(good), "--embedding", str(emb)]) for _ in range(repeats)]
        out["baseline"] = {
            "seconds": statistics.median(float(r["seconds"]) for r in base),  # type: ignore[arg-type]
            "peak_mb": max(float(r["peak_mb"]) for r in base),  # type: ignore[arg-type]
        }
        cases: dict[str, dict[str, object]] = {}
        for name, build in BOMBS.items():
            args, fragment = build(d)
            runs = [measure(args) for _ in range(repeats)]
            if any(r["status"] != 2 or fragment not in str(r["err"]) for r in runs):
                raise SystemExit(f"{name}: not refused as expected: {runs[0]}")
            cases[name] = {
                "seconds": statistics.median(float(r["seconds"]) for r in runs),  # type: ignore[arg-type]
                "peak_mb": max(float(r["peak_mb"]) for r in runs),  # type: ignore[arg-type]
                "file_mb": sum(Path(a).stat().st_size for a in args if Path(a).exists()) / 2**20,
            }
            for path in d.iterdir():
                if path not in (good, emb):
                    path.unlink()
    out["cases"] = cases
    out["count"] = len(cases)
    out["max_seconds"] = max(float(c["seconds"]) for c in cases.values())  # type: ignore[arg-type]
    out["max_peak_mb"] = max(float(c["peak_mb"]) for c in cases.values())  # type: ignore[arg-type]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
