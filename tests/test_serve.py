"""``digitmap serve``: the explorer in a web browser through textual-serve.

The end-to-end test starts the real server on a free local port and drives the page in a real
headless Chromium (Debian's package, through Playwright's Python API). The page draws with
xterm.js on a canvas, so the test records what the page's websocket receives (the very bytes
xterm.js is fed) and replays them into a pyte screen to read the text; keys are typed into the
page, so they take the browser's whole path (xterm.js, the websocket, the server, the app).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digitmap_tui.cli import explorer_command, is_local_host, under_web_driver
from tests.pty_program import REPO_ROOT, TITLE, program_env, seed_cache

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TILE_HEADER = re.compile(r"\b\d+ +L:\d+\b")

#: Runs before the page's own scripts: every websocket the page opens reports what it
#: receives (terminal bytes as base64, JSON meta messages as text) and what it sends.
RECORDER = """
(() => {
  const Native = window.WebSocket;
  const frames = (window.__frames = []);
  function Recording(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") { frames.push(["text", event.data]); return; }
      const keep = (buffer) => {
        const bytes = new Uint8Array(buffer);
        let s = "";
        for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
        frames.push(["bytes", btoa(s)]);
      };
      if (event.data instanceof ArrayBuffer) keep(event.data);
      else event.data.arrayBuffer().then(keep);
    });
    const send = ws.send.bind(ws);
    ws.send = (data) => { frames.push(["sent", String(data)]); send(data); };
    return ws;
  }
  Recording.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Recording[k] = Native[k];
  window.WebSocket = Recording;
})();
"""


# --------------------------------------------------------------------------- without a browser


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.org", False),
        ("::", False),
    ],
)
def test_only_loopback_counts_as_local(host, local):
    assert is_local_host(host) is local


def test_a_non_local_host_needs_public_and_then_warns(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--host 0.0.0.0: not a local address" in done.stderr and "--public" in done.stderr


def test_serve_forwards_the_explorer_flags_and_keeps_its_own():
    argv = ["--host", "127.0.0.1", "--port=8123", "--public", "--method", "pca", "--box=-1,1,-1,1"]
    command = explorer_command(argv)
    assert command[:4] == [sys.executable, "-m", "digitmap_tui", "explore"]
    assert command[4:] == ["--method", "pca", "--box=-1,1,-1,1"]


def test_the_explorer_starts_without_a_tty_under_the_web_driver(monkeypatch):
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert under_web_driver()
    monkeypatch.delenv("TEXTUAL_DRIVER")
    assert not under_web_driver()


def test_print_selection_is_refused_in_the_browser(tmp_path):
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO_ROOT),
        TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver",
    )
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "--print-selection"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "not available in the browser" in done.stderr


# --------------------------------------------------------------------------- in Chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise AssertionError("the server did not listen in time")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def _server(cache_dir: Path, args: list[str]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = program_env(cache_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitmap_tui", "serve", "--port", str(port), *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the server and the explorers it starts: one group to end
    )
    try:
        _wait_listening(port, proc, 60)
        yield port, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


class Page:
    """The served page: its recorded websocket traffic replayed into a pyte screen."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        import pyte

        self.page = page
        self.screen: pyte.Screen | None = None
        self.stream: pyte.ByteStream | None = None
        self.pending = b""
        self.meta: list[object] = []

    def pump(self) -> None:
        import pyte

        for kind, data in self.page.evaluate("window.__frames.splice(0)"):
            if kind == "sent":
                message = json.loads(data)
                if message[0] == "resize" and self.screen is None:
                    size = message[1]
                    self.screen = pyte.Screen(size["width"], size["height"])
                    self.stream = pyte.ByteStream(self.screen)
            elif kind == "text":
                self.meta.append(json.loads(data))
            else:
                self.pending += base64.b64decode(data)
        if self.stream is not None and self.pending:
            self.stream.feed(self.pending)
            self.pending = b""

    def lines(self) -> list[str]:
        return list(self.screen.display) if self.screen is not None else []

    def wait_for(self, predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if predicate(self):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"gave up waiting for {what}; screen:\n" + "\n".join(self.lines())
                )
            self.page.wait_for_timeout(100)

    def settle(self, quiet: float = 0.5, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last < quiet:
            before = len(self.pending)
            frames = self.page.evaluate("window.__frames.length")
            self.pump()
            if frames or len(self.pending) != before:
                last = time.monotonic()
            self.page.wait_for_timeout(50)


def _browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (.ci/run installs Debian's chromium package)")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("textual_serve")
    return sync_api


@pytest.mark.browser
def test_the_explorer_runs_in_a_headless_browser(cache_dir):
    """The page shows the map and tiles; a key typed into it moves the box; ctrl+s and an
    export arrive as downloads; a hang-up ends every explorer."""
    sync_api = _browser()
    seed_cache(cache_dir)
    with _server(cache_dir, []) as (port, proc), sync_api.sync_playwright() as playwright:
        base = f"http://127.0.0.1:{port}"
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            # Nothing leaves this machine: the page's web-font link and the like are refused.
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith(base) else route.abort()
                ),
            )
            page.add_init_script(RECORDER)
            page.goto(f"{base}/", wait_until="domcontentloaded")
            view = Page(page)
            view.wait_for(lambda v: any(TITLE in line for line in v.lines()[:2]), 60, "the title")
            view.wait_for(
                lambda v: any(TILE_HEADER.search(line) for line in v.lines()), 30, "image tiles"
            )
            view.settle()
            screen = view.lines()
            assert "t-SNE" in screen[0]
            # The map: rows of label digits on the left half of the screen.
            width = len(screen[0])
            map_rows = [line[: width // 2] for line in screen[1:-3]]
            assert sum(len(re.findall(r"\d", row)) for row in map_rows) > 100
            assert page.evaluate("document.body.classList.contains('-first-byte')")
            before = "\n".join(screen)

            # Focus the terminal without clicking: a click on the map would draw a box.
            page.focus(".xterm-helper-textarea")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowDown")
            view.wait_for(lambda v: "\n".join(v.lines()) != before, 20, "the box to move")
            view.settle()
            after = view.lines()
            panel_before = [line[width // 2 :] for line in before.splitlines()]
            panel_after = [line[width // 2 :] for line in after]
            assert panel_after != panel_before, "the panel follows the box"
            assert any(TILE_HEADER.search(line) for line in after), "\n".join(after)

            # ctrl+s: the screenshot comes to the browser as downloads (SVG and text), not
            # as files on the server; the server announces each one on the websocket.
            downloads: list = []
            on_server = set(REPO_ROOT.glob("digitmap-*"))
            page.on("download", lambda d: downloads.append(d))
            with page.expect_download(timeout=30_000) as first:
                page.keyboard.press("Control+s")
            svg_download = first.value
            deadline = time.monotonic() + 30
            while len(downloads) < 2 and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            names = sorted(d.suggested_filename for d in downloads)
            assert len(names) == 2 and names[0].endswith(".svg") and names[1].endswith(".txt")
            assert svg_download.suggested_filename.endswith(".svg")
            svg = Path(svg_download.path()).read_text(encoding="utf-8")
            assert svg.lstrip().startswith("<svg") and "digitmap" in svg
            assert "t-SNE" in svg  # the title line, drawn as text in the SVG
            txt = next(d for d in downloads if d.suggested_filename.endswith(".txt"))
            text = Path(txt.path()).read_text(encoding="utf-8")
            assert text.splitlines()[0].startswith(" digitmap · digits (1797)")
            view.pump()
            assert [m for m in view.meta if m and m[0] == "deliver_file_start"]

            # e: the export, a CSV download of the selection the panel counts
            view.settle()
            count = int(re.search(r"(\d+) points", "\n".join(view.lines())).group(1))
            page.keyboard.press("e")
            view.wait_for(
                lambda v: any("Download the selection" in line for line in v.lines()),
                20, "the export prompt",
            )  # fmt: skip
            with page.expect_download(timeout=30_000) as exported:
                page.keyboard.press("Enter")
            csv_download = exported.value
            assert csv_download.suggested_filename.endswith(".csv")
            rows = Path(csv_download.path()).read_text(encoding="utf-8").splitlines()
            assert rows[0] == "index,label,x,y" and len(rows) == count + 1
            assert set(REPO_ROOT.glob("digitmap-*")) == on_server  # nothing written there
        finally:
            browser.close()
        # A dropped SSH session: the server and every explorer it started end.
        os.kill(proc.pid, signal.SIGHUP)
        proc.wait(timeout=20)
        deadline = time.monotonic() + 20
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _group_alive(proc.pid), "an explorer outlived the server"
