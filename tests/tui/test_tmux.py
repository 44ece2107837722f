"""The real thing in a real terminal: pipe a log into `logwatch` under tmux and use the keys."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import wait_for

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run([TMUX or "tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30).stdout


def _written(path: Path) -> str:
    """What a shell's ``echo > path`` wrote, once it has: the file appears before its text does."""
    return path.read_text().strip() if path.exists() else ""


def _wait_for_screen(socket: str, predicate, timeout: float = 90.0) -> str:  # type: ignore[no-untyped-def]
    screen = ""

    def matches() -> bool:
        nonlocal screen
        screen = _tmux(socket, "capture-pane", "-p", "-t", "lw")
        return bool(predicate(screen))

    assert wait_for(matches, timeout, interval=0.3), f"screen never matched; last screen:\n{screen}"
    return screen


def test_piped_log_shows_panes_and_takes_keys(tiny_model_dir: Path, incident_file: Path, tmp_path: Path) -> None:
    socket = f"logwatch-test-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit-code"
    command = (f"cat {shlex.quote(str(incident_file))} | {shlex.quote(sys.executable)} -m logwatch.cli.main "
               f"--model {shlex.quote(str(tiny_model_dir))}; echo $? > {shlex.quote(str(done))}")
    _tmux(socket, "new-session", "-d", "-s", "lw", "-x", "140", "-y", "40", command)
    try:
        screen = _wait_for_screen(socket, lambda s: "input ended" in s and "sessions" in s)
        assert "all lines" in screen and "nova." in screen  # the list and coloured log lines are drawn
        assert any(title in screen for title in ("ALERT", "RATE UP", "BACK AGAIN"))  # the banner tells an alert
        _tmux(socket, "send-keys", "-t", "lw", "?")
        _wait_for_screen(socket, lambda s: "logwatch keys" in s, timeout=10)
        _tmux(socket, "send-keys", "-t", "lw", "Escape")
        _wait_for_screen(socket, lambda s: "logwatch keys" not in s, timeout=10)
        _tmux(socket, "send-keys", "-t", "lw", "q")
        wait_for(lambda: _written(done) != "", 60, interval=0.2)
        assert _written(done) == "0"
    finally:
        _tmux(socket, "kill-server")


def test_no_terminal_points_to_score(incident_file: Path) -> None:
    """Without a terminal (cron, CI) the app refuses clearly instead of drawing into a pipe."""
    result = subprocess.run([sys.executable, "-m", "logwatch.cli.main", str(incident_file)], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL, start_new_session=True)
    assert result.returncode == 2
    assert "logwatch score" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_flushes_the_recording_and_restores_the_terminal(tiny_model_dir: Path, incident_file: Path,
                                                                  incident_log, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from logwatch.core.replay import read_recording

    socket = f"logwatch-test-{uuid.uuid4().hex[:8]}"
    rec, pidfile, done = tmp_path / "run.lwrec", tmp_path / "pid", tmp_path / "exit-code"
    app = (f"{shlex.quote(sys.executable)} -m logwatch.cli.main {shlex.quote(str(incident_file))} "
           f"--model {shlex.quote(str(tiny_model_dir))} --record {shlex.quote(str(rec))}")
    # The terminal's settings once the app is gone, moved into place whole so the test can wait
    # for the file instead of sleeping a guess at how long the shell takes to write it.
    stty = tmp_path / "stty"
    part = shlex.quote(f"{stty}.part")
    command = (f"sh -c 'echo $$ > {pidfile}; exec {app}'; echo $? > {shlex.quote(str(done))}; "
               f"stty -a > {part} && mv {part} {shlex.quote(str(stty))}")
    _tmux(socket, "new-session", "-d", "-s", "lw", "-x", "140", "-y", "40", command)
    try:
        _wait_for_screen(socket, lambda s: f"{len(incident_log.lines):,} lines" in s)
        subprocess.run(["kill", "-TERM", _written(pidfile)], check=True)
        wait_for(lambda: _written(done) != "", 60, interval=0.2)
        assert _written(done) == "143"
        _header, records = read_recording(rec)
        assert len(list(records)) == len(incident_log.lines)
        assert wait_for(stty.exists, 60, interval=0.1)
        assert " echo" in stty.read_text() and " icanon" in stty.read_text()
    finally:
        _tmux(socket, "kill-server")
