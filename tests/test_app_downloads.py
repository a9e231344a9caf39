"""In a browser (Textual's web driver) exports, screenshots and the bookmarks file reach the
user as downloads, with the bytes a terminal session writes; nothing lands on the server."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from digitmap_tui.app import DigitmapApp
from digitmap_tui.export import export_selection
from digitmap_tui.widgets.screens import PromptScreen
from tests.factory import make_app

SIZE = (120, 40)


@pytest.fixture
def browser(monkeypatch, tmp_path):
    """The app believes it runs under the web driver; deliveries are recorded; the working
    directory is an empty one, so anything written on the "server" would show."""
    monkeypatch.setattr(DigitmapApp, "is_web", property(lambda self: True))
    server = tmp_path / "server"
    server.mkdir()
    monkeypatch.chdir(server)
    delivered: list[tuple[str, str, bytes, str | None]] = []

    def record(kind):  # type: ignore[no-untyped-def]
        def deliver(path_or_file, *, save_filename=None, mime_type=None, **kwargs):  # type: ignore[no-untyped-def]
            data = path_or_file.read()
            delivered.append(
                (kind, save_filename, data if isinstance(data, bytes) else data.encode(), mime_type)
            )
            return "key"

        return deliver

    def install(app: DigitmapApp) -> None:
        app.deliver_text = record("text")  # type: ignore[method-assign]
        app.deliver_binary = record("binary")  # type: ignore[method-assign]

    return install, delivered, server


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npy"])
async def test_an_export_is_a_download_of_what_a_terminal_writes(cache_dir, browser, suffix):
    install, delivered, cwd = browser
    app = make_app(cache_dir)
    install(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.question.startswith("Download the selection")
        prompt = app.screen.query_one("Input")
        prompt.value = f"sel{suffix}"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        s = app.session
        expected = cwd.parent / f"expected{suffix}"
        export_selection(
            expected, indices=s.selected(), labels=s.dataset.labels, coords=s.coords,
            meta=s.provenance(),
        )  # fmt: skip
    assert os.listdir(cwd) == []  # nothing on the server
    assert [(k, name) for k, name, _, _ in delivered] == [("binary", f"sel{suffix}")]
    _, _, data, mime = delivered[0]
    assert data == expected.read_bytes()
    if suffix == ".npy":
        assert np.load(io.BytesIO(data), allow_pickle=False).tolist() == app.selection.tolist()
    else:
        assert mime == {".csv": "text/csv", ".json": "application/json"}[suffix]


async def test_an_export_with_an_unknown_format_delivers_nothing(cache_dir, browser):
    install, delivered, cwd = browser
    app = make_app(cache_dir)
    install(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("Input").value = "sel.xlsx"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert any("unknown format '.xlsx'" in n.message for n in app._notifications)
    assert delivered == [] and os.listdir(cwd) == []


async def test_ctrl_s_delivers_the_screenshot_as_svg_and_text(cache_dir, browser):
    install, delivered, cwd = browser
    app = make_app(cache_dir)
    install(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)  # no path to ask for in a browser
    assert os.listdir(cwd) == []
    (k1, svg_name, svg, mime1), (k2, txt_name, txt, mime2) = delivered
    assert (k1, k2, mime1, mime2) == ("text", "text", "image/svg+xml", "text/plain")
    assert svg_name.endswith(".svg") and txt_name == svg_name[:-4] + ".txt"
    assert svg.lstrip().startswith(b"<svg") and b"digitmap" in svg
    assert txt.decode().splitlines()[0].startswith(" digitmap · digits (1797)")


async def test_bookmarks_download_as_one_json_file(cache_dir, browser):
    install, delivered, cwd = browser
    app = make_app(cache_dir)
    install(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.explorer.run_action("bookmarks_file")
        await pilot.pause()
        assert delivered == []  # none yet: a notification says so
        await pilot.press("l", "b", *"sevens", "enter")
        await pilot.pause()
        await app.explorer.run_action("bookmarks_file")
        await pilot.pause()
    assert os.listdir(cwd) == []
    ((kind, name, data, mime),) = delivered
    assert (kind, name, mime) == ("text", "digitmap-digits-bookmarks.json", "application/json")
    record = json.loads(data)
    assert record["dataset"] == "digits" and [b["name"] for b in record["bookmarks"]] == ["sevens"]
    assert record["bookmarks"][0]["box"] == app.session.box.as_list()


async def test_in_a_terminal_the_bookmarks_file_is_written_where_asked(cache_dir, tmp_path):
    app = make_app(cache_dir)
    target = tmp_path / "marks.json"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b", *"ones", "enter")
        await pilot.pause()
        await app.explorer.run_action("bookmarks_file")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one("Input").value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        await app.explorer.run_action("bookmarks_file")  # again: never over an existing file
        await pilot.pause()
        app.screen.query_one("Input").value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert any("exists" in n.message for n in app._notifications)
    assert [b["name"] for b in json.loads(target.read_text())["bookmarks"]] == ["ones"]
