"""The method registry is the one source: a method registered there appears everywhere.

A throw-away method ("jitter": the PCA map plus seeded noise, a runner outside the package)
is registered the way a plugin would be, before the rest of the package is imported, and
each derivation is looked for: the command line's choices, flags and help, config.toml's
check, the Python API, bookmark validation, the cache key and library versions, the title,
the reproducing command, placement, and the explorer's keys and palette.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from digitmap_tui.methods import registry
from digitmap_tui.methods.compute import runner
from digitmap_tui.methods.params import EmbedParams, check_value
from digitmap_tui.methods.registry import PARAMS, Method

ROOT = Path(__file__).resolve().parents[2]

RUNNER = """
import numpy as np
from digitmap_tui.methods.pca import fit_pca

CALLS = []

def run(features, params, progress, stop, limit=None):
    CALLS.append(params.seed)
    progress(0.0, "jittering")
    xy = fit_pca(features, 2).project(features, np.float64, width=2)
    return xy + np.random.default_rng(params.seed).normal(scale=1e-3, size=xy.shape)
"""

SCRIPT = """
import io, json, os, sys
from contextlib import redirect_stdout, redirect_stderr
from digitmap_tui.methods import registry
registry.METHODS["jitter"] = registry.Method(
    "jitter", "Jitter", ("seed",), "jitter_runner:run",
    distributions=("numpy",), key="ctrl+g",
)
import numpy as np
found = {}

from digitmap_tui.cli import build_parser, main
parser = build_parser()
found["cli_parses"] = parser.parse_args(["render", "--method", "jitter"]).method == "jitter"
found["cli_help"] = "jitter" in parser.format_help()

from digitmap_tui.config import load_config
path = os.path.join(os.environ["WORK"], "config.toml")
open(path, "w").write('method = "jitter"\\n')
found["config"] = load_config(__import__("pathlib").Path(path)).method == "jitter"

import digitmap_tui
from digitmap_tui.data import load_digits
images = load_digits().images[:200]
coords = digitmap_tui.embed(images, "jitter", seed=3, cache=False)
import jitter_runner
found["api_runs_the_runner"] = coords.shape == (200, 2) and jitter_runner.CALLS == [3]

from digitmap_tui.bookmarks import validate_state
found["bookmark"] = validate_state({"method": "jitter", "params": {"seed": 3}})["method"]

from digitmap_tui.cache import embedding_key, embedding_meta
from digitmap_tui.methods.params import EmbedParams, library_version
p = EmbedParams("jitter", seed=3)
found["key_differs"] = len({
    embedding_key("f", p), embedding_key("f", EmbedParams("jitter", seed=4)),
    embedding_key("f", EmbedParams("pca")),
}) == 3
found["relevant"] = p.relevant()
found["library"] = library_version("jitter")
found["describe"] = p.describe()

from digitmap_tui.export import render_command
found["command"] = render_command(
    data=None, labels=None, shape=None, embedding=None, params=p,
    view=[0.0, 1.0, 0.0, 1.0], box=[0.0, 1.0, 0.0, 1.0], grid=(4, 4),
    list_mode=False, sort="x", mode="label",
)

from digitmap_tui.placement import placeable_methods
found["placeable"] = list(placeable_methods())

from digitmap_tui import keymap
found["keys"] = [
    (k.keys, k.action, k.title) for row in keymap.TABLE for k in row.keys
    if "jitter" in k.action
]
found["help_row"] = [row.text for row in keymap.TABLE if "Jitter" in row.text]

out, err = io.StringIO(), io.StringIO()
with redirect_stdout(out), redirect_stderr(err):
    status = main(["render", "--method", "jitter", "--seed", "5", "--json", "--no-cache"])
found["render"] = [status, json.loads(out.getvalue())["embedding"] if status == 0 else err.getvalue()]
print(json.dumps(found))
"""


def test_a_registered_method_appears_in_every_derivation(tmp_path: Path) -> None:
    (tmp_path / "jitter_runner.py").write_text(RUNNER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": f"{ROOT}:{tmp_path}",
            "PATH": "/usr/bin:/bin",
            "WORK": str(tmp_path),
            "HOME": str(tmp_path),
            "DIGITMAP_CACHE_DIR": str(tmp_path / "cache"),
            "DIGITMAP_CONFIG_DIR": str(tmp_path / "cfg"),
            "DIGITMAP_DATA_DIR": str(tmp_path / "data"),
            "DIGITMAP_THREADS": "2",
        },
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["cli_parses"] and found["cli_help"] and found["config"]
    assert found["api_runs_the_runner"]
    assert found["bookmark"] == "jitter"
    assert found["key_differs"]
    assert found["relevant"] == {"seed": 3}
    assert found["library"].startswith("numpy ")
    assert found["describe"] == "Jitter seed 3"
    assert " --method jitter --seed 3 " in found["command"]
    assert found["placeable"] == ["pca", "tsne", "umap"]
    assert found["keys"] == [["ctrl+g", "method('jitter')", "Embedding: Jitter"]]
    assert found["help_row"] and "Jitter" in found["help_row"][0]
    assert found["render"][0] == 0 and "Jitter seed 5" in found["render"][1]


def test_every_runner_named_by_the_registry_exists() -> None:
    for method in registry.iter_methods():
        if method.module:  # an extra's library may be missing; the runner module is ours
            continue
        assert callable(runner(method)), method


def test_every_parameter_is_an_embed_params_field_with_the_registry_default() -> None:
    defaults = EmbedParams()
    assert set(PARAMS) <= set(EmbedParams.__dataclass_fields__)
    for name, param in PARAMS.items():
        assert getattr(defaults, name) == param.default, name
        check_value(param, param.default)  # the default is in its own range


def test_every_method_uses_known_parameters_and_a_unique_key() -> None:
    keys = [m.key for m in registry.iter_methods()]
    assert len(set(keys)) == len(keys)
    for method in registry.iter_methods():
        assert set(method.params) <= set(PARAMS), method
        assert method.distributions, method


def test_registered_refuses_a_taken_name_and_restores_the_table() -> None:
    before = registry.names()
    fake = Method("fake", "Fake", ("seed",), "x.y:run", distributions=("numpy",))
    with registry.registered(fake):
        assert registry.names() == (*before, "fake")
        assert "fake" in registry.choices()
        assert EmbedParams("fake", seed=2).describe() == "Fake seed 2"
    assert registry.names() == before
    with pytest.raises(ValueError), registry.registered(registry.METHODS["pca"]):
        pass
    assert registry.names() == before
