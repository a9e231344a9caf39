"""The Python API: ``from digitmap_tui import embed, explore, plot``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import digitmap_tui
from digitmap_tui.cache import EmbeddingCache, embedding_key
from digitmap_tui.data import load_digits
from digitmap_tui.errors import InputError
from digitmap_tui.methods.params import EmbedParams
from tests.pty_program import REPO_ROOT, PtyProgram, program_env, seed_cache


def test_the_api_is_exported_lazily():
    assert {"embed", "explore", "plot", "NoTerminalError"} <= set(dir(digitmap_tui))

    from digitmap_tui import api, embed

    assert digitmap_tui.plot is api.plot and digitmap_tui.explore is api.explore
    # `embed` is the API function (the methods live in digitmap_tui.methods).
    assert embed is digitmap_tui.embed is api.embed
    with pytest.raises(AttributeError):
        digitmap_tui.nothing_here  # noqa: B018


def test_embed_shares_the_cli_cache_entry(cache_dir):
    """The same arrays and parameters find what the command line stored, under the same key."""
    dataset = load_digits(cache_dir)
    marker = np.random.default_rng(1).normal(size=(dataset.n, 2))  # no method makes this
    EmbeddingCache(cache_dir).store(
        embedding_key(dataset.fingerprint(), EmbedParams(method="tsne", seed=3)), marker, {}
    )
    got = digitmap_tui.embed(
        np.array(dataset.images), labels=np.array(dataset.labels), seed=3, cache=cache_dir
    )
    assert np.array_equal(got, marker)
    # Flat rows of square images are the same data: the same entry.
    flat = dataset.images.reshape(dataset.n, -1).astype(np.float64)
    got = digitmap_tui.embed(flat, "tsne", 3, labels=dataset.labels, cache=cache_dir)
    assert np.array_equal(got, marker)


def test_embed_computes_stores_and_validates(cache_dir):
    images = load_digits(cache_dir).images[:200]
    coords = digitmap_tui.embed(images, "pca", cache=cache_dir / "api")
    assert coords.shape == (200, 2) and coords.dtype == np.float64
    assert len(list((cache_dir / "api" / "embeddings").glob("*.npz"))) == 1
    again = digitmap_tui.embed(images, "pca", cache=cache_dir / "api")
    assert np.array_equal(coords, again)
    assert digitmap_tui.embed(images, "pca", cache=False).shape == (200, 2)
    with pytest.raises(InputError, match="unknown parameter 'perplexty'"):
        digitmap_tui.embed(images, perplexty=5)
    with pytest.raises(InputError, match="unknown method"):
        digitmap_tui.embed(images, "tsen")
    with pytest.raises(InputError, match=r"give the image size with shape=\(H, W\)"):
        digitmap_tui.embed(np.zeros((10, 10)))
    with pytest.raises(InputError, match="labels"):
        digitmap_tui.embed(images, "pca", labels=np.arange(3))


def test_explore_without_a_terminal_raises_at_once():
    """A notebook kernel or a pipe: a clear error naming serve and plot, never a hang."""
    # "At once" as a rule, not a stopwatch: it raises before loading the data, Textual or
    # any embedding library (a 10-second hang could only come from one of those).
    code = (
        "import sys, digitmap_tui\n"
        "try:\n"
        "    digitmap_tui.explore()\n"
        "except digitmap_tui.NoTerminalError as exc:\n"
        "    heavy = ('textual', 'sklearn', 'openTSNE', 'umap', 'digitmap_tui.data')\n"
        "    print(','.join(m for m in heavy if m in sys.modules) or '-', exc)\n"
    )
    done = subprocess.run(  # the timeout catches a hang
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
    )
    loaded, message = done.stdout.split(" ", 1)
    assert loaded == "-", f"loaded before raising: {loaded}"
    assert "digitmap serve" in message and "digitmap_tui.plot" in message


def test_explore_in_a_terminal_returns_the_selection(cache_dir, tmp_path):
    """A tiny script in a real pseudo-terminal: the explorer opens, q quits, the indices print."""
    from digitmap_tui.grid import Rect, list_select

    seed_cache(cache_dir)
    script = tmp_path / "script.py"
    script.write_text(
        "import json, sys\n"
        "import numpy as np\n"
        "import digitmap_tui\n"
        "from digitmap_tui.data import load_digits\n"
        "from tests.factory import fixed_coords\n"
        f"d = load_digits({str(cache_dir)!r})\n"
        "sel = digitmap_tui.explore(d.images, d.labels, embedding=fixed_coords(),"
        " box=(-55, -20, -30, -5))\n"
        "assert isinstance(sel, np.ndarray)\n"
        f"open({str(tmp_path / 'out.json')!r}, 'w').write(json.dumps(sel.tolist()))\n",
        encoding="utf-8",
    )
    command = [sys.executable, str(script)]
    with PtyProgram([], program_env(cache_dir), command=command) as prog:
        prog.wait_for(lambda p: "images (1797)" in p.lines()[0], 60, "the title")
        prog.read_until_quiet(0.3)
        prog.send("q")
        assert prog.wait_exit(20) == 0
    selected = json.loads((tmp_path / "out.json").read_text())
    coords = np.load(REPO_ROOT / "tests" / "fixtures" / "digits_tsne_seed0.npy")
    # The box is a rectangle in the data: the selection is exactly the seed's rule over it,
    # in the list order (by x).
    box = Rect(-55, -20, -30, -5)
    assert selected == list_select(coords, box, None, "x").tolist()


def test_the_api_takes_every_registry_parameter_the_readme_lists():
    """The README's list of `embed` keywords is the registry's, and each is accepted."""
    import re
    from pathlib import Path

    from digitmap_tui.api import make_params
    from digitmap_tui.methods.registry import PARAMS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    sentence = readme.split("`params` are the other parameters of the method registry:")[1]
    listed = re.findall(r"`(\w+)`", sentence.split("(a test checks")[0])
    assert listed == [name for name in PARAMS if name != "seed"]
    values = {"perplexity": 5.0, "n_neighbors": 5, "min_dist": 0.2, "pca_dims": 10, "threads": 1}
    params = make_params("tsne", 1, {name: values[name] for name in listed})
    assert params.relevant() == {"perplexity": 5.0, "seed": 1, "pca_dims": 10, "threads": 1}
