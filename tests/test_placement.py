"""Fit on a sample, place the rest (`embed --fit-sample`): shapes, determinism, resumption,
local processes and a Dask LocalCluster giving the same file, bounded memory, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui import cli, placement
from digitmap_tui.errors import InputError
from digitmap_tui.methods.compute import compute_embedding
from digitmap_tui.methods.params import EmbedParams, MissingLibraryError
from digitmap_tui.placement import fit_sample, open_rows, parts_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 8x8 digits (uint8) as an (N, 8, 8) .npy file."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = tmp_path_factory.mktemp("data") / "digits.npy"
    np.save(path, digits.images[:600].astype(np.uint8))
    return path


class Interrupt(Exception):
    pass


def stop_after(k: int):  # type: ignore[no-untyped-def]
    """A progress callback that raises once `k` chunks are finished (a run killed mid-way)."""

    def progress(done: int, total: int, phase: str) -> None:
        if phase == "placing" and done >= k:
            raise Interrupt

    return progress


TSNE = EmbedParams("tsne", perplexity=10, threads=1)


# --- reading rows ----------------------------------------------------------------------------


def test_rows_are_read_in_chunks_as_the_file_holds_them(images: Path) -> None:
    source = open_rows(images)
    whole = np.load(images)
    assert (source.n, source.d, source.dtype) == (600, 64, np.uint8)
    np.testing.assert_array_equal(source.read(590, 700), whole[590:].reshape(10, 64))
    rows = np.array([0, 3, 250, 251, 599])
    np.testing.assert_array_equal(source.take(rows, block=7), whole[rows].reshape(5, 64))


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("x.csv", b"1,2\n", "convert this file to .npy first"),
        ("x.npy", b"not an npy", "not a readable .npy file"),
        ("x.idx3-ubyte", b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x02", "truncated"),
    ],
)
def test_unreadable_sources_are_one_line(
    tmp_path: Path, name: str, payload: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(payload)
    with pytest.raises(InputError, match=message) as info:
        open_rows(tmp_path / name)
    assert "\n" not in str(info.value)


def test_fortran_order_and_objects_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((10, 4))))
    with pytest.raises(InputError, match="Fortran-ordered"):
        open_rows(tmp_path / "f.npy")
    np.save(tmp_path / "c.npy", np.ones((10, 4), dtype=np.complex64))
    with pytest.raises(InputError, match="must be numbers"):
        open_rows(tmp_path / "c.npy")


# --- PCA: the projection is the placement ----------------------------------------------------


def test_pca_on_the_whole_data_is_the_pca_map(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "coords.npy"
    result = fit_sample(images, out, EmbedParams("pca"), 600, chunk_rows=128)
    features = np.load(images).reshape(600, -1)
    np.testing.assert_allclose(np.load(out), compute_embedding(features, EmbedParams("pca")))
    assert (result.chunks, result.computed, result.reused) == (5, 5, 0)
    assert not parts_dir(out).exists()  # the work directory goes at the end


def test_pca_on_a_sample_projects_every_row_on_the_samples_components(
    images: Path, tmp_path: Path
) -> None:
    from digitmap_tui.methods.pca import fit_pca, sample_rows

    out = tmp_path / "coords.csv"
    fit_sample(images, out, EmbedParams("pca", seed=3), 100, chunk_rows=128)
    coords = np.loadtxt(out, delimiter=",", skiprows=1)
    features = np.load(images).reshape(600, -1)
    basis = fit_pca(features[sample_rows(600, 100, 3)], 2)
    np.testing.assert_allclose(coords, basis.project(features), atol=1e-9)


# --- t-SNE: fit, transform, resume -----------------------------------------------------------


@pytest.fixture(scope="module")
def tsne_whole(images: Path, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """An uninterrupted t-SNE run on local processes: the reference for the others."""
    out = tmp_path_factory.mktemp("whole") / "coords.npy"
    fit_sample(images, out, TSNE, 200, chunk_rows=100, workers=2)
    return np.load(out)


def test_tsne_places_every_row_and_keeps_the_sample_where_the_fit_put_it(
    images: Path, tsne_whole: np.ndarray
) -> None:
    from digitmap_tui.methods.pca import sample_rows

    assert tsne_whole.shape == (600, 2) and np.isfinite(tsne_whole).all()
    # The sample's rows have the fit's coordinates (centred as openTSNE's transform centres).
    rows = sample_rows(600, 200, 0)
    source = open_rows(images)
    fit = compute_embedding(source.take(rows), TSNE)
    fit -= (fit.max(axis=0) + fit.min(axis=0)) / 2
    np.testing.assert_allclose(tsne_whole[rows], fit)
    # Placed rows land among their own kind: most share the label of their nearest sample row.
    from sklearn.datasets import load_digits

    labels = load_digits().target[:600]
    others = np.setdiff1d(np.arange(600), rows)
    d = ((tsne_whole[others, None, :] - tsne_whole[None, rows, :]) ** 2).sum(axis=2)
    agree = (labels[rows][d.argmin(axis=1)] == labels[others]).mean()
    assert agree > 0.8


def test_an_interrupted_run_resumes_without_redoing_finished_chunks(
    images: Path, tmp_path: Path, tsne_whole: np.ndarray
) -> None:
    out = tmp_path / "coords.npy"
    with pytest.raises(Interrupt):
        fit_sample(images, out, TSNE, 200, chunk_rows=100, workers=1, progress=stop_after(2))
    work = parts_dir(out)
    kept = sorted(p.name for p in work.glob("chunk-*.npy"))
    assert len(kept) >= 2 and not out.exists()
    assert json.loads((work / "manifest.json").read_text())["sample_size"] == 200
    assert not list(work.glob(".*partial"))  # nothing half-written
    result = fit_sample(images, out, TSNE, 200, chunk_rows=100, workers=1)
    assert result.reused == len(kept) and result.computed == 6 - len(kept)
    # Same seed, same chunks: resumed on one process = uninterrupted on two, to the bit.
    np.testing.assert_array_equal(np.load(out), tsne_whole)
    assert not work.exists()


def test_a_run_with_other_settings_is_not_mixed_in(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "coords.npy"
    with pytest.raises(Interrupt):
        fit_sample(images, out, EmbedParams("pca"), 300, chunk_rows=100, progress=stop_after(1))
    with pytest.raises(InputError, match="other settings") as info:
        fit_sample(images, out, EmbedParams("pca"), 200, chunk_rows=100)
    assert "--force" in str(info.value)
    result = fit_sample(images, out, EmbedParams("pca"), 200, chunk_rows=100, force=True)
    assert result.reused == 0 and np.load(out).shape == (600, 2)


def test_a_damaged_chunk_is_recomputed(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "coords.npy"
    with pytest.raises(Interrupt):
        fit_sample(images, out, EmbedParams("pca"), 300, chunk_rows=100, progress=stop_after(3))
    parts = sorted(parts_dir(out).glob("chunk-*.npy"))
    parts[0].write_bytes(b"\x93NUMPY garbage")
    result = fit_sample(images, out, EmbedParams("pca"), 300, chunk_rows=100)
    assert result.reused == len(parts) - 1


def test_the_model_kept_between_runs_is_plain_arrays(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "coords.npy"
    with pytest.raises(Interrupt):
        fit_sample(images, out, TSNE, 200, chunk_rows=100, workers=1, progress=stop_after(1))
    for path in parts_dir(out).iterdir():
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)  # raises on any pickled content
        else:
            assert path.name == "manifest.json"
            json.loads(path.read_text())


# --- Dask ------------------------------------------------------------------------------------


def test_dask_local_cluster_gives_the_same_file(
    images: Path, tmp_path: Path, tsne_whole: np.ndarray
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        out = tmp_path / "coords.npy"
        result = fit_sample(images, out, TSNE, 200, chunk_rows=100, dask=cluster.scheduler_address)
    assert result.computed == 6
    np.testing.assert_array_equal(np.load(out), tsne_whole)


def test_dask_without_its_extra_names_the_extra(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingLibraryError) as info:
        fit_sample(images, tmp_path / "c.npy", TSNE, 200, dask="tcp://127.0.0.1:1")
    assert str(info.value) == "--dask needs the dask extra: pip install 'digitmap-tui[dask]'"


def test_an_unreachable_scheduler_is_one_line(images: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=r"--dask tcp://127\.0\.0\.1:9: cannot reach"):
        fit_sample(images, tmp_path / "c.npy", TSNE, 200, dask="tcp://127.0.0.1:9")


# --- the command line ------------------------------------------------------------------------


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors (one line, exit 2, by cli._Parser)
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--fit-sample 100", "--fit-sample needs --data"),
        ("--data {d} --fit-sample 100", "--fit-sample needs --out"),
        ("--data {d} --fit-sample 100 --out {t}/c.txt", "use a .npy or .csv file name"),
        ("--data {d} --dask tcp://h:1 --out {t}/c.npy", "add --fit-sample M"),
        ("--data {d} --fit-sample 3 --out {t}/c.npy", "--fit-sample '3': must be between 5"),
        ("--data {d} --fit-sample 100 --method pacmap --out {t}/c.npy", "pca, tsne or umap"),
        ("--data {d} --fit-sample 100 --threads 0 --out {t}/c.npy", "--threads '0'"),
        ("--data {t}/none.npy --fit-sample 100 --out {t}/c.npy", "no such file"),
    ],
)
def test_bad_fit_sample_flags_are_one_line_exit_2(
    args: str, message: str, images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["embed", *args.format(d=images, t=tmp_path).split()]
    status, out, err = run_main(argv, capsys)
    assert status == 2 and out == ""
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "c.npy").exists()


def test_the_command_writes_coordinates_the_explorer_can_open(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "coords.npy"
    argv = ["embed", "--data", str(images), "--method", "pca", "--fit-sample", "300"]
    status, _, err = run_main([*argv, "--chunk-rows", "250", "--out", str(out)], capsys)
    assert status == 0, err
    assert "wrote 600×2 coordinates" in err and "3 of 3 chunks computed now" in err
    from digitmap_tui.data import load_embedding

    assert load_embedding(out, 600).shape == (600, 2)  # as `--embedding coords.npy` reads it
    status, _, err = run_main([*argv, "--out", str(out)], capsys)
    assert status == 2 and "file exists" in err


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_placing_a_large_file_keeps_memory_far_below_its_size(tmp_path: Path) -> None:
    """400,000 x 784 uint8 (313 MB) through --fit-sample PCA: the process grows < 200 MB."""
    data = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(data, mode="w+", dtype=np.uint8, shape=(400_000, 784))
    rng = np.random.default_rng(0)
    for start in range(0, 400_000, 50_000):
        big[start : start + 50_000] = rng.integers(0, 255, (50_000, 784), dtype=np.uint8)
    del big
    code = f"""
        import resource, sys
        from digitmap_tui.methods.params import EmbedParams
        from digitmap_tui.placement import fit_sample
        import numpy as np
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fit_sample({str(data)!r}, {str(tmp_path / "c.npy")!r}, EmbedParams("pca"), 20000)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    grew_mb = float(done.stdout.strip().splitlines()[-1])
    assert grew_mb < 200, grew_mb
    assert np.load(tmp_path / "c.npy").shape == (400_000, 2)


def test_placement_module_imports_no_heavy_library() -> None:
    code = """
        import json, sys
        import digitmap_tui.placement
        heavy = ["sklearn", "umap", "openTSNE", "numba", "distributed", "dask", "textual"]
        print(json.dumps([m for m in heavy if m in sys.modules]))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert json.loads(done.stdout) == []
    assert placement.placeable_methods() == ("pca", "tsne", "umap")


@pytest.mark.slow
def test_umap_places_with_a_refit_that_matches_the_stored_fit(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "coords.npy"
    params = EmbedParams("umap", n_neighbors=10, threads=1)
    with pytest.raises(Interrupt):
        fit_sample(images, out, params, 300, chunk_rows=150, workers=1, progress=stop_after(1))
    fit_sample(images, out, params, 300, chunk_rows=150, workers=1)
    resumed = np.load(out)
    whole = tmp_path / "whole.npy"
    fit_sample(images, whole, params, 300, chunk_rows=150, workers=2)
    assert resumed.shape == (600, 2) and np.isfinite(resumed).all()
    np.testing.assert_array_equal(resumed, np.load(whole))
