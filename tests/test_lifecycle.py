"""lifecycle: signals cancel every job and end the program; the terminal gets its modes back.

The handlers are process-wide and may end the process, so every signal test runs a small real
program (in a pseudo-terminal where the terminal matters) and sends it real signals.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from digitmap_tui.lifecycle import RESET_SEQUENCE, call_soon_in_loop, restore_terminal

REPO_ROOT = Path(__file__).resolve().parent.parent
LIMIT = 60.0  # a safety net against a hung test, not a speed claim


def running(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_all(master: int, until: float) -> bytes:
    out = b""
    while time.monotonic() < until:
        if not select.select([master], [], [], 0.05)[0]:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    return out


# --------------------------------------------------------------------------- restore_terminal


def test_restore_terminal_writes_the_mode_resets_to_a_terminal() -> None:
    master, slave = os.openpty()
    try:
        assert restore_terminal(slave) is True
        assert read_all(master, time.monotonic() + 0.5) == RESET_SEQUENCE.encode()
    finally:
        os.close(slave)
        os.close(master)
    assert RESET_SEQUENCE == "\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?25h"


def test_restore_terminal_leaves_a_pipe_alone() -> None:
    read_end, write_end = os.pipe()
    try:
        assert restore_terminal(write_end) is False
        os.close(write_end)
        assert os.read(read_end, 100) == b""
    finally:
        os.close(read_end)


def test_restore_terminal_after_a_hang_up_is_quietly_false() -> None:
    master, slave = os.openpty()
    os.close(master)  # the terminal is gone, as after a dropped SSH connection
    try:
        assert restore_terminal(slave) is False
    finally:
        os.close(slave)


def test_call_soon_in_loop_needs_a_running_loop() -> None:
    calls: list[str] = []
    assert call_soon_in_loop(lambda: calls.append("outside")) is False

    async def inside() -> bool:
        queued = call_soon_in_loop(lambda: calls.append("inside"))
        await asyncio.sleep(0.01)
        return queued

    assert asyncio.run(inside()) is True
    assert calls == ["inside"]


# --------------------------------------------------------------------------- real signals

JOB_PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    import numpy as np
    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.methods.params import EmbedParams
    from digitmap_tui.jobs import EmbeddingJob, Progress
    from digitmap_tui.lifecycle import install_signal_handlers

    if __name__ == "__main__":
        got = []
        install_signal_handlers(got.append, grace=30)
        features = np.random.default_rng(0).normal(size=(3000, 32)).astype(np.float32)
        job = EmbeddingJob(features, EmbedParams("tsne"), EmbeddingCache(sys.argv[1]), "ab" * 32)
        job.start()
        seen = []
        while not any(isinstance(e, Progress) for e in seen):
            seen += job.poll()
            assert not job.done, seen
            time.sleep(0.02)
        print(f"child {job.pid}", flush=True)
        while not got:
            time.sleep(0.02)
        stopped = job.cancelled
        job.cancel()  # what the app does on unmount: reap the child
        print(f"got {got[0]} cancelled {stopped}", flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_signal_cancels_running_jobs_and_calls_back(tmp_path: Path, signum: int) -> None:
    script = tmp_path / "program.py"
    script.write_text(JOB_PROGRAM)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "cache")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "child", proc.stderr.read() if proc.stderr else first
        child = int(first[1])
        assert running(child)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == f"got {int(signum)} cancelled True"
    assert not running(child)
    assert not list((tmp_path / "cache").rglob("*.npz"))  # the cancelled run cached nothing
    assert not list(tmp_path.glob("digitmap-job-*"))  # no temporary folder (TMPDIR is here)


STUCK_PROGRAM = textwrap.dedent(
    """
    import os, sys, time
    from digitmap_tui.lifecycle import install_signal_handlers

    def on_signal(signum):
        if sys.argv[1] == "raise":
            raise RuntimeError("the UI is broken")
        # "ignore": pretend the UI cannot exit (a terminal that hung up blocks its writes)

    install_signal_handlers(on_signal, grace=float(sys.argv[2]))
    sys.stderr.write("\\x1b[?1049h\\x1b[?1000h\\x1b[?25l")  # what a full-screen UI turns on
    sys.stderr.flush()
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
    """
)


def run_stuck(tmp_path: Path, mode: str, grace: float, signals: int) -> tuple[int, bytes]:
    """Start STUCK_PROGRAM on a pseudo-terminal, send SIGTERM ``signals`` times.

    Returns its exit status and what it wrote after the signal; fails if it has not ended
    within the test's deadline.
    """
    script = tmp_path / "stuck.py"
    script.write_text(STUCK_PROGRAM)
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), mode, str(grace)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + LIMIT
        while b"ready" not in seen and time.monotonic() < deadline:
            seen += read_all(master, time.monotonic() + 0.1)
        assert b"ready" in seen, seen
        for _ in range(signals):
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.1)
        output = b""
        while proc.poll() is None and time.monotonic() < deadline:
            output += read_all(master, time.monotonic() + 0.1)
        output += read_all(master, time.monotonic() + 0.2)
        assert proc.poll() is not None, "still running long after the signal"
        return proc.wait(), output
    finally:
        proc.kill()
        os.close(master)


def test_a_ui_that_does_not_exit_is_ended_after_the_grace_period(tmp_path: Path) -> None:
    code, output = run_stuck(tmp_path, "ignore", grace=0.5, signals=1)
    assert code == 128 + signal.SIGTERM
    assert output.endswith(RESET_SEQUENCE.encode())  # alternate screen off, mouse off, cursor on


def test_a_second_signal_ends_the_program_at_once(tmp_path: Path) -> None:
    # An hour's grace: only the second signal can end it before the test's own deadline.
    code, output = run_stuck(tmp_path, "ignore", grace=3600, signals=2)
    assert code == 128 + signal.SIGTERM
    assert output.endswith(RESET_SEQUENCE.encode())


def test_a_callback_that_raises_ends_the_program(tmp_path: Path) -> None:
    code, output = run_stuck(tmp_path, "raise", grace=3600, signals=1)
    assert code == 128 + signal.SIGTERM
    assert output.endswith(RESET_SEQUENCE.encode())


# --------------------------------------------------------------------------- the real explorer

#: Terminal modes a full-screen app turns on (pyte keeps private modes shifted by 5 bits).
APP_MODES = {1049: "alternate screen", 1000: "mouse", 1002: "mouse drag", 1003: "mouse motion"}


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``: the explorer and whatever it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


@pytest.fixture
def slow_tsne_data(tmp_path: Path) -> Path:
    """4,000 random 8x8 images: t-SNE on them runs for seconds, a window for the signal."""
    import numpy as np

    path = tmp_path / "noise.npy"
    np.save(path, np.random.default_rng(0).random((4000, 8, 8)).astype(np.float32))
    return path


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find processes")
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGKILL])
def test_the_explorer_ends_cleanly_on_a_signal_mid_computation(
    tmp_path: Path, slow_tsne_data: Path, signum: int
) -> None:
    """Hang-up, terminate, kill while t-SNE computes: no process, no file, no cache entry left."""
    from tests.pty_program import PtyProgram, program_env

    cache = tmp_path / "cache"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {**program_env(cache), "TMPDIR": str(private_tmp)}
    with PtyProgram(["--data", str(slow_tsne_data), "--method", "tsne"], env) as prog:
        sid = prog.proc.pid  # the program leads its own session
        prog.wait_for(lambda p: "nearest neighbours" in p.text(), LIMIT, "t-SNE to be running")
        workers = [pid for pid in session_processes(sid) if pid != sid]
        assert workers, "no embedding process while t-SNE runs"
        if signum == signal.SIGHUP:
            prog.hang_up()  # the terminal goes first, as when SSH drops
        prog.proc.send_signal(signum)
        if signum != signal.SIGHUP:
            prog.wait_exit(LIMIT)
        code = prog.proc.wait(timeout=LIMIT)
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 128 + signum)
        assert wait_until(lambda: not session_processes(sid), LIMIT), session_processes(sid)
        if signum == signal.SIGTERM:
            prog.read_until_quiet(0.2, 5)
            on = [name for mode, name in APP_MODES.items() if mode << 5 in prog.screen.mode]
            assert on == [], f"left on after SIGTERM: {on}"
            assert not prog.screen.cursor.hidden
    # The abandoned t-SNE run was not cached (the instant PCA preview shown meanwhile may be).
    assert [p for p in cache.rglob("*.npz") if not is_pca_entry(p)] == []
    assert list(private_tmp.iterdir()) == []  # no digitmap-job-* folder, nothing at all


def is_pca_entry(path: Path) -> bool:
    """Whether a cache entry holds a PCA map (its metadata says which method)."""
    import json

    import numpy as np

    with np.load(path, allow_pickle=False) as entry:
        return json.loads(str(entry["meta"]))["method"] == "pca"


def test_installing_from_another_thread_does_nothing() -> None:
    import threading

    from digitmap_tui.lifecycle import install_signal_handlers

    before = signal.getsignal(signal.SIGTERM)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(install_signal_handlers(print)))
    worker.start()
    worker.join()
    assert signal.getsignal(signal.SIGTERM) is before
    result[0]()  # type: ignore[operator]  # the no-op uninstall
