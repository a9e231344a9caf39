"""Peak memory exploring a million points: a fresh process loads the files, opens the app
headless, moves the box, and reports its peak resident set (``ru_maxrss``).

The data are written first, by another process, as a user would have them: ``images.npy``
(N x 8 x 8 uint8), ``labels.npy`` and a precomputed ``embedding.npy`` (N x 2 float64). The
measuring process goes through the same loaders as ``digitmap --data ... --embedding ...``
(large ``.npy`` files are memory-mapped). ``ru_maxrss`` counts the pages of mapped files that
were touched too, so reading every image once (the fingerprint, the value range) shows up.

``python -m benchmarks.memory write DIR N`` writes the files;
``python -m benchmarks.memory explore DIR [--no-quality]`` prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path

import numpy as np

from benchmarks._common import clustered_points, synthetic_images


def write(directory: Path, n: int) -> None:
    """The three files of an n-point dataset in ``directory``."""
    xy, labels = clustered_points(n)
    np.save(directory / "embedding.npy", xy)
    np.save(directory / "labels.npy", labels)
    np.save(directory / "images.npy", synthetic_images(labels))


async def _explore(app: object, moves: int) -> None:
    async with app.run_test(size=(120, 40)) as pilot:  # type: ignore[attr-defined]
        await pilot.pause()
        for i in range(moves):
            await pilot.press("right" if (i // 4) % 2 == 0 else "left")
        await pilot.press("ctrl+right", "minus", "plus")
        await pilot.pause()
        await app.workers.wait_for_complete()  # type: ignore[attr-defined]
        await pilot.pause()


def explore(directory: Path, quality: bool) -> dict[str, float]:
    """Open the app on the files in ``directory``; peak RSS (MB) before and after."""
    from digitmap_tui.app import DigitmapApp, ExploreOptions
    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.data import load_dataset, load_embedding
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.methods.params import EmbedParams

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dataset = load_dataset(directory / "images.npy", labels=str(directory / "labels.npy"))
    coords = load_embedding(directory / "embedding.npy", dataset.n)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inputs = Inputs(
        dataset, EmbedParams(method="pca"), EmbeddingCache(None), coords, "embedding.npy"
    )
    app = DigitmapApp(inputs, ExploreOptions(color=True, quality=quality))
    asyncio.run(_explore(app, 16))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_mb": peak, "rss_before_mb": before, "rss_loaded_mb": loaded}


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        print(json.dumps(explore(Path(sys.argv[2]), "--no-quality" not in sys.argv)))
