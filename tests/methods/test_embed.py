"""Embedding methods: PCA maths, t-SNE determinism and cancellation, parameter checks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui.errors import Cancelled, InputError
from digitmap_tui.methods import neighbours, registry, tsne
from digitmap_tui.methods import pca as mpca
from digitmap_tui.methods.compute import compute_embedding, preview_coords
from digitmap_tui.methods.params import (
    EmbedParams,
    MissingLibraryError,
    available_methods,
    library_version,
)
from digitmap_tui.methods.threads import default_threads

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)


@pytest.fixture(scope="module")
def small(digits: np.ndarray) -> np.ndarray:
    return digits[:300]


def run_python(code: str, **env: str) -> str:
    """Run `code` in a fresh interpreter with the project importable; return its stdout."""
    import os

    # A NUMBA_CACHE_DIR in the developer's environment would win over ours (by design).
    inherited = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    environment = {**inherited, "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- imports ---------------------------------------------------------------------------------


def test_importing_core_modules_loads_no_heavy_library() -> None:
    out = run_python(
        """
        import json, sys
        import digitmap_tui.methods.compute, digitmap_tui.cache, digitmap_tui.jobs
        from digitmap_tui.methods.params import EmbedParams, library_version
        EmbedParams("umap").validate(100)
        EmbedParams("umap").describe()
        library_version("umap"); library_version("tsne")
        heavy = ["sklearn", "umap", "openTSNE", "numba", "pynndescent", "scipy", "textual"]
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    assert json.loads(out) == []


def test_library_version_names_the_distributions() -> None:
    from importlib.metadata import version

    assert library_version("tsne") == f"openTSNE {version('openTSNE')}"
    assert library_version("umap").startswith(f"umap-learn {version('umap-learn')}, pynndescent ")
    assert library_version("pca") == f"numpy {np.__version__}"
    with pytest.raises(InputError, match="unknown method 'nope'"):
        library_version("nope")


def test_missing_library_says_what_to_install(
    small: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # makes `import openTSNE` fail
    with pytest.raises(MissingLibraryError, match="pip install openTSNE") as info:
        compute_embedding(small, EmbedParams("tsne"))
    # Both an ImportError (what it is) and an InputError (one line for the CLI).
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value, InputError)


def test_pacmap_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pacmap", None)  # as if `pacmap` were not installed
    assert registry.names() == ("pca", "tsne", "umap", "pacmap")
    assert available_methods() == ("pca", "tsne", "umap")
    with pytest.raises(MissingLibraryError) as info:
        EmbedParams("pacmap").validate(100)
    assert str(info.value) == (
        "method 'pacmap' needs the pacmap extra: pip install 'digitmap-tui[pacmap]'"
    )


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "n", "message"),
    [
        (EmbedParams("tsen"), 100, "unknown method 'tsen' (choose from auto, pca, tsne, umap"),
        (EmbedParams("pca"), 4, "PCA needs at least 5 points, the data has 4"),
        (EmbedParams("tsne", perplexity=0), 100, "perplexity must be a number > 0, got 0"),
        (EmbedParams("tsne", perplexity=float("nan")), 100, "perplexity must be a number > 0"),
        (
            EmbedParams("tsne", perplexity=33),
            100,
            "perplexity 33 is too large for 100 points (t-SNE needs perplexity < (N-1)/3 = 33)",
        ),
        (EmbedParams("tsne", seed=-1), 100, "seed must be an integer from 0 to 4294967295, got -1"),
        (EmbedParams("umap", seed=1.5), 100, "seed must be an integer"),  # type: ignore[arg-type]
        (EmbedParams("umap", seed=True), 100, "seed must be an integer"),
        (EmbedParams("umap", n_neighbors=1), 100, "n_neighbors must be an integer from 2 to"),
        (EmbedParams("umap", n_neighbors=100), 100, "from 2 to N-1 = 99, got 100"),
        (EmbedParams("umap", min_dist=-0.1), 100, "min_dist must be a number from 0 to 1"),
        (EmbedParams("umap", min_dist=1.5), 100, "min_dist must be a number from 0 to 1, got 1.5"),
    ],
)
def test_bad_parameters_get_one_line(params: EmbedParams, n: int, message: str) -> None:
    with pytest.raises(InputError) as info:
        params.validate(n)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_parameters_another_method_uses_are_not_checked() -> None:
    EmbedParams("pca", perplexity=-5, n_neighbors=0, seed=-3).validate(10)
    EmbedParams("tsne", n_neighbors=0, min_dist=7).validate(100)
    EmbedParams("umap", perplexity=1e9).validate(100)
    EmbedParams("tsne", perplexity=32.9).validate(100)  # just under (N-1)/3


def test_describe() -> None:
    assert EmbedParams("tsne").describe() == "t-SNE perplexity 30 seed 0"
    assert EmbedParams("tsne", perplexity=12.5, seed=3).describe() == "t-SNE perplexity 12.5 seed 3"
    assert EmbedParams("umap").describe() == "UMAP n_neighbors 15 min_dist 0.1 seed 0"
    assert EmbedParams("pca", seed=9).describe() == "PCA"


def test_relevant_has_only_what_the_method_uses_in_canonical_types() -> None:
    cores = default_threads()
    assert EmbedParams("pca", seed=4, threads=3, pca_dims=7).relevant() == {}
    assert EmbedParams("tsne", perplexity=30).relevant() == {
        "perplexity": 30.0,
        "seed": 0,
        "pca_dims": 50,
        "threads": cores,
    }
    assert EmbedParams("umap", min_dist=0, threads=3, pca_dims=0).relevant() == {
        "n_neighbors": 15,
        "min_dist": 0.0,
        "seed": 0,
        "pca_dims": 0,
        "threads": 3,
    }
    assert type(EmbedParams("tsne", perplexity=30).relevant()["perplexity"]) is float


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (np.zeros(10), "features must be a 2-D array (N, D), got shape (10,)"),
        (np.zeros((10, 0)), "features have no columns"),
        (np.array([[1.0, np.nan]] * 10), "features contain NaN or infinite values"),
        (np.array([["a", "b"]] * 10), "features must be real numbers"),
    ],
)
def test_bad_features_are_input_errors(features: np.ndarray, message: str) -> None:
    with pytest.raises(InputError) as info:
        compute_embedding(features, EmbedParams("pca"))
    assert message in str(info.value)


# --- PCA -------------------------------------------------------------------------------------


def test_pca_matches_sklearn_up_to_sign(digits: np.ndarray) -> None:
    from sklearn.decomposition import PCA

    ours = compute_embedding(digits, EmbedParams("pca"))
    # An exact SVD: scikit-learn < 1.5 picks a randomized solver for this shape (~4e-6 off).
    theirs = PCA(n_components=2, svd_solver="full").fit_transform(digits.astype(np.float64))
    assert ours.dtype == np.float64 and ours.shape == (len(digits), 2)
    for column in range(2):
        sign = np.sign(ours[:, column] @ theirs[:, column])
        np.testing.assert_allclose(ours[:, column], sign * theirs[:, column], atol=1e-6)


def test_pca_picture_does_not_depend_on_row_order_or_dtype(digits: np.ndarray) -> None:
    # The sign convention is a property of the data, so the same data gives the same picture.
    base = compute_embedding(digits, EmbedParams("pca"))
    order = np.random.default_rng(0).permutation(len(digits))
    shuffled = compute_embedding(digits[order], EmbedParams("pca"))
    np.testing.assert_allclose(shuffled, base[order], atol=1e-9)
    as_uint8 = compute_embedding(digits.astype(np.uint8), EmbedParams("pca"))
    np.testing.assert_allclose(as_uint8, base, atol=1e-9)


@pytest.mark.parametrize("route", ["covariance", "gram", "randomized"])
def test_every_pca_route_agrees_with_numpy_svd(
    digits: np.ndarray, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    from digitmap_tui.methods import pca

    centred = digits.astype(np.float64) - digits.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ pca.orient(vt[:2]).T
    monkeypatch.setattr(pca, "CHUNK_ROWS", 500)  # several chunks, a ragged last one
    if route != "covariance":
        monkeypatch.setattr(pca, "COVARIANCE_MAX_DIM", 10)
    if route == "gram":
        monkeypatch.setattr(pca, "GRAM_MAX_POINTS", 5000)
        monkeypatch.setattr(pca, "_BLOCK_ELEMENTS", 20_000)  # several column blocks
    if route == "randomized":
        monkeypatch.setattr(pca, "GRAM_MAX_POINTS", 100)
    basis = pca.fit_pca(digits, 2)
    assert basis.route == route
    # The randomized SVD is an approximation (four power iterations): close, not exact.
    atol = 1e-3 * np.abs(expected).max() if route == "randomized" else 1e-6
    np.testing.assert_allclose(compute_embedding(digits, EmbedParams("pca")), expected, atol=atol)


def test_pca_of_one_feature_puts_everything_on_the_x_axis() -> None:
    x = np.arange(10, dtype=np.float64).reshape(-1, 1)
    coords = compute_embedding(x, EmbedParams("pca"))
    np.testing.assert_allclose(coords[:, 0], x[:, 0] - 4.5)
    assert not coords[:, 1].any()


def test_pca_accepts_a_memmap(tmp_path: Path, digits: np.ndarray) -> None:
    np.save(tmp_path / "f.npy", digits)
    mapped = np.load(tmp_path / "f.npy", mmap_mode="r")
    np.testing.assert_allclose(
        compute_embedding(mapped, EmbedParams("pca")), compute_embedding(digits, EmbedParams("pca"))
    )


# --- t-SNE -----------------------------------------------------------------------------------


def test_tsne_same_seed_same_coordinates_and_full_progress(small: np.ndarray) -> None:
    events: list[tuple[float, str]] = []
    first = compute_embedding(
        small, EmbedParams("tsne", perplexity=20), lambda f, p: events.append((f, p))
    )
    second = compute_embedding(small, EmbedParams("tsne", perplexity=20))
    assert first.shape == (300, 2) and first.dtype == np.float64
    np.testing.assert_array_equal(first, second)
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    phases = [p for _, p in events]
    assert phases.index("early exaggeration") < phases.index("optimising")
    # One 0..1 scale over both openTSNE phases: the exaggeration phase ends at 250/750.
    last_early = max(f for f, p in events if p == "early exaggeration")
    assert last_early == pytest.approx(1 / 3)


def test_tsne_other_seed_other_picture(small: np.ndarray) -> None:
    a = compute_embedding(small, EmbedParams("tsne", perplexity=20, seed=0))
    b = compute_embedding(small, EmbedParams("tsne", perplexity=20, seed=1))
    assert not np.array_equal(a, b)


def test_tsne_stop_raises_cancelled_not_a_partial_embedding(small: np.ndarray) -> None:
    events: list[float] = []

    def stop() -> bool:
        return bool(events) and events[-1] >= 0.1

    with pytest.raises(Cancelled):
        compute_embedding(
            small, EmbedParams("tsne", perplexity=20), lambda f, p: events.append(f), stop
        )
    assert events[-1] < 0.2  # stopped within a few callbacks, never reached "done"


def test_degenerate_data_is_reported_not_returned_as_nan() -> None:
    with pytest.raises(InputError, match="produced unusable coordinates"):
        compute_embedding(np.zeros((20, 4)), EmbedParams("tsne", perplexity=5))


def test_stop_before_start_cancels() -> None:
    with pytest.raises(Cancelled):
        compute_embedding(np.eye(10), EmbedParams("pca"), should_stop=lambda: True)


# --- numba cache (what makes a second fresh UMAP process fast) --------------------------------


def test_numba_functions_are_cached_and_reused_by_a_fresh_process(tmp_path: Path) -> None:
    module = tmp_path / "jitted.py"
    module.write_text(
        textwrap.dedent(
            """
            import numba

            @numba.njit
            def bare(x):
                return x + 1

            @numba.njit(fastmath=True)
            def with_options(x):
                return x * 2.0

            @numba.njit("i8(i8)")
            def with_signature(x):
                return x - 1

            def _plain(x):
                return x + 3

            direct = numba.njit(_plain)

            @numba.njit(cache=False)
            def opted_out(x):
                return x
            """
        )
    )
    script = f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from digitmap_tui.methods import numba_cache
        assert numba_cache.enable_numba_cache({str(tmp_path / "numba")!r})
        numba_cache.cache_numba_by_default()
        numba_cache.cache_numba_by_default()  # idempotent
        import jitted
        fns = [jitted.bare, jitted.with_options, jitted.with_signature, jitted.direct]
        results = [jitted.bare(1), jitted.with_options(1.5), jitted.with_signature(5),
                   jitted.direct(1), jitted.opted_out(2)]
        hits = {{f.py_func.__name__: sum(f.stats.cache_hits.values()) for f in fns}}
        print(json.dumps([results, hits, jitted.opted_out._cache.__class__.__name__]))
    """
    first = json.loads(run_python(script))
    assert first[0] == [2, 3.0, 4, 4, 2]
    assert first[2] == "NullCache"  # cache=False stays as the author asked
    assert len(list((tmp_path / "numba").rglob("*.nbi"))) == 4
    second = json.loads(run_python(script))
    assert second[0] == first[0]
    assert all(hits >= 1 for hits in second[1].values()), second[1]


def test_enable_numba_cache_is_too_late_once_numba_is_imported(tmp_path: Path) -> None:
    out = run_python(
        f"""
        import numba
        from digitmap_tui.methods.numba_cache import enable_numba_cache
        print(enable_numba_cache({str(tmp_path)!r}))
        """
    )
    assert out.strip() == "False"


def test_enable_numba_cache_keeps_a_users_directory(tmp_path: Path) -> None:
    out = run_python(
        f"""
        import os
        from digitmap_tui.methods.numba_cache import enable_numba_cache
        enable_numba_cache({str(tmp_path / "ours")!r})
        print(os.environ["NUMBA_CACHE_DIR"])
        """,
        NUMBA_CACHE_DIR=str(tmp_path / "theirs"),
    )
    assert out.strip() == str(tmp_path / "theirs")


# --- UMAP (slow: numba compiles on a cold cache) ---------------------------------------------


def test_own_exact_neighbours_match_sklearn(digits: np.ndarray) -> None:
    from sklearn.neighbors import NearestNeighbors

    indices, dists = neighbours.exact_knn(digits, 15, None)
    theirs_dists, theirs_indices = NearestNeighbors(n_neighbors=15).fit(digits).kneighbors(digits)
    assert indices.shape == (len(digits), 15) and indices.dtype == np.int64
    np.testing.assert_array_equal(indices[:, 0], np.arange(len(digits)))  # itself first
    assert not dists[:, 0].any()
    np.testing.assert_allclose(dists, theirs_dists, rtol=1e-4, atol=1e-3)
    # Digits are integers, so many neighbours tie; where indices differ from sklearn's, ours
    # must still sit at the reported (= sklearn's) distances.
    actual = np.linalg.norm(digits[:, None, :] - digits[indices], axis=2)
    np.testing.assert_allclose(actual, dists, rtol=1e-4, atol=1e-3)
    assert (indices == theirs_indices).mean() > 0.9


def test_own_neighbours_can_be_stopped(digits: np.ndarray) -> None:
    with pytest.raises(Cancelled):
        neighbours.exact_knn(digits, 15, lambda: True)


@pytest.mark.slow
def test_umap_is_reproducible_and_reports_its_phases(small: np.ndarray) -> None:
    events: list[tuple[float, str]] = []
    params = EmbedParams("umap", n_neighbors=10)
    first = compute_embedding(small, params, lambda f, p: events.append((f, p)))
    second = compute_embedding(small, params)
    assert first.shape == (300, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)
    phases = [p for _, p in events]
    assert "nearest neighbours" in phases and "optimising" in phases
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.slow
def test_umap_stop_during_epochs_raises_cancelled(small: np.ndarray) -> None:
    phases: list[str] = []
    with pytest.raises(Cancelled):
        compute_embedding(
            small,
            EmbedParams("umap"),
            lambda f, p: phases.append(p),
            lambda: "optimising" in phases,
        )
    assert "done" not in phases


@pytest.mark.slow
def test_umap_with_our_exact_neighbours(small: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    # The path used from 4096 to 20,000 points, exercised on a small set.
    monkeypatch.setattr(neighbours, "OWN_KNN_MIN_POINTS", 0)
    coords = compute_embedding(small, EmbedParams("umap", n_neighbors=10))
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    np.testing.assert_array_equal(
        coords, compute_embedding(small, EmbedParams("umap", n_neighbors=10))
    )


# --- settings: PCA reduction, threads, auto --------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def test_threads_and_pca_dims_are_in_the_cache_key() -> None:
    from dataclasses import replace

    from digitmap_tui.cache import embedding_key

    fp = "ab" * 32
    for method in ("tsne", "umap", "pacmap"):
        base = EmbedParams(method, threads=2)
        keys = {
            embedding_key(fp, p)
            for p in (base, replace(base, threads=1), replace(base, pca_dims=0))
        }
        assert len(keys) == 3, method
    # threads=None is every core: the same key as naming that count.
    cores = default_threads()
    assert embedding_key(fp, EmbedParams("tsne")) == embedding_key(
        fp, EmbedParams("tsne", threads=cores)
    )
    # PCA has neither: one key whatever they are.
    assert embedding_key(fp, EmbedParams("pca", threads=1, pca_dims=0)) == embedding_key(
        fp, EmbedParams("pca")
    )


@given(st.integers(min_value=5, max_value=10**9))
def test_auto_picks_tsne_up_to_the_crossover_and_says_so(n: int) -> None:
    chosen = EmbedParams("auto").choose(n)
    assert chosen.method == ("tsne" if n <= registry.AUTO_TSNE_MAX_POINTS else "umap")
    assert chosen.auto_choice == chosen.method
    assert chosen.describe().endswith("(auto)")
    assert chosen.relevant() == EmbedParams(chosen.method).relevant()  # same key as named
    from dataclasses import replace

    switched = replace(chosen, method="pca" if chosen.method != "pca" else "tsne")
    assert "(auto)" not in switched.describe()  # a method picked by hand is not auto's


def test_describe_shows_what_is_not_the_default() -> None:
    assert EmbedParams("tsne").describe() == "t-SNE perplexity 30 seed 0"
    assert EmbedParams("tsne", threads=2).describe() == "t-SNE perplexity 30 seed 0 threads 2"
    assert EmbedParams("umap", pca_dims=0).describe() == (
        "UMAP n_neighbors 15 min_dist 0.1 seed 0 pca off"
    )
    assert EmbedParams("pca", threads=2, pca_dims=10).describe() == "PCA"
    assert EmbedParams("auto").describe().startswith("auto (t-SNE up to 5,000 points")
    assert EmbedParams("auto").resolved(500).describe() == (
        f"t-SNE perplexity 30 seed 0 threads {default_threads()} (auto)"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (EmbedParams("tsne", threads=0), "threads must be an integer from 1 to 1024, got 0"),
        (EmbedParams("umap", threads=2.0), "threads must be an integer"),  # type: ignore[arg-type]
        (EmbedParams("tsne", pca_dims=1), "pca_dims must be 0 (off) or an integer from 2"),
        (EmbedParams("auto", perplexity=-1), "perplexity must be a number > 0"),
    ],
)
def test_bad_settings_get_one_line(params: EmbedParams, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        params.validate(100)


def test_reduction_applies_only_to_wider_data() -> None:
    tsne = EmbedParams("tsne")
    assert mpca.reduces(tsne, 1000, 784)
    assert not mpca.reduces(tsne, 1000, 50)  # not wider
    assert not mpca.reduces(tsne, 40, 784)  # 40 points span at most 39 dimensions anyway
    assert not mpca.reduces(EmbedParams("tsne", pca_dims=0), 1000, 784)
    assert not mpca.reduces(EmbedParams("pca"), 1000, 784)


def test_tsne_runs_on_the_reduced_data(small: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, ...]] = []
    real = mpca.reduced

    def spy(features, params, progress, stop):  # type: ignore[no-untyped-def]
        out = real(features, params, progress, stop)
        seen.append(out.shape)
        return out

    monkeypatch.setattr(tsne, "reduced", spy)
    phases: list[str] = []
    compute_embedding(
        small, EmbedParams("tsne", pca_dims=20, threads=1), lambda f, p: phases.append(p)
    )
    assert seen == [(300, 20)]
    assert "PCA to 20 dimensions" in phases


def test_tsne_is_deterministic_for_a_seed_and_thread_count(small: np.ndarray) -> None:
    two = EmbedParams("tsne", threads=2)
    first = compute_embedding(small, two)
    np.testing.assert_array_equal(first, compute_embedding(small, two))


def test_auto_is_computed_and_cached_as_the_method_it_chose(
    small: np.ndarray, tmp_path: Path
) -> None:
    from digitmap_tui.cache import EmbeddingCache, embedding_key
    from digitmap_tui.jobs import get_or_compute

    class Data:
        n = 300

        def features(self) -> np.ndarray:
            return small

        def fingerprint(self) -> str:
            return "cd" * 32

    cache = EmbeddingCache(tmp_path)
    coords = get_or_compute(Data(), EmbedParams("auto", threads=1), cache)
    stored = cache.load(embedding_key("cd" * 32, EmbedParams("tsne", threads=1)))
    assert stored is not None
    np.testing.assert_array_equal(coords, stored)


def test_cli_flags_reach_the_parameters() -> None:
    from digitmap_tui.cli import build_parser
    from digitmap_tui.inputs import load_inputs

    args = build_parser().parse_args(["embed", "--threads", "3", "--pca-dims", "20", "--no-cache"])
    params = load_inputs(args).params
    assert (params.method, params.auto_choice, params.threads, params.pca_dims) == (
        "tsne",
        "tsne",
        3,
        20,
    )


# --- the instant preview ---------------------------------------------------------------------


def test_preview_is_the_pca_map_up_to_its_sample_size(digits: np.ndarray) -> None:
    preview = preview_coords(digits)
    np.testing.assert_allclose(preview.coords, compute_embedding(digits, EmbedParams("pca")))
    assert preview.describe() == "PCA preview"


def test_preview_of_more_rows_fits_on_a_sample_and_projects_all(digits: np.ndarray) -> None:
    from digitmap_tui.methods.pca import fit_pca, sample_rows

    preview = preview_coords(digits, max_fit_rows=500, seed=2)
    basis = fit_pca(digits[sample_rows(len(digits), 500, 2)], 2)
    # Projected in float32 (a preview): equal to a few parts in a million of the map's size.
    scale = np.abs(preview.coords).max()
    np.testing.assert_allclose(preview.coords, basis.project(digits), atol=1e-5 * scale)
    assert preview.describe() == "PCA preview (fitted on 500 of 1,797 points)"


# --- memory: bounded by the data's size ------------------------------------------------------


@pytest.mark.parametrize(("n", "side"), [(500, 100), (101, 200), (6000, 60)])
def test_pca_memory_is_bounded_by_the_data_not_by_d_squared(n: int, side: int) -> None:
    """The issue's cases: 500 x 100x100 (3.9 GB before) and 101 x 200x200 (MemoryError at
    11.9 GiB before); 6000 x 60x60 takes the randomized route. Each in a fresh process: peak
    growth stays under 150 MB beyond the data's own float64 copy, for the map and for the
    50-component reduction."""
    out = run_python(
        f"""
        import resource, numpy as np
        from digitmap_tui.methods.params import EmbedParams; from digitmap_tui.methods.compute import compute_embedding
        from digitmap_tui.methods.pca import fit_pca
        import scipy.linalg, threadpoolctl  # libraries' code is not the data's memory
        x = np.random.default_rng(0).integers(0, 255, ({n}, {side * side}), dtype=np.uint8)
        compute_embedding(x[:10, :20], EmbedParams("pca"))  # warm up the code paths
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        coords = compute_embedding(x, EmbedParams("pca"))
        basis = fit_pca(x, 50)
        print(basis.route, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
        """
    )
    route, grew = out.split()
    assert route == {500: "gram", 101: "gram", 6000: "randomized"}[n]
    assert float(grew) < 150 + n * side * side * 8 / 2**20 / 4, grew


def test_digitmap_threads_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITMAP_THREADS", "3")
    assert default_threads() == 3 == EmbedParams("tsne").relevant()["threads"]
    for bad in ("0", "x", "", "２"):
        monkeypatch.setenv("DIGITMAP_THREADS", bad)
        assert default_threads() >= 1  # ignored: the cores this process may use
