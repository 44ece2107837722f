"""The real thing in a real terminal: pipe a log into `logwatch` under tmux and use the keys."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers import wait_for

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run([TMUX or "tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30).stdout


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
    command = (f"cat {shlex.quote(str(incident_file))} | {shlex.quote(sys.executable)} -m logwatch.tui.cli "
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
        wait_for(done.exists, 20, interval=0.2)
        assert done.exists() and done.read_text().strip() == "0"
    finally:
        _tmux(socket, "kill-server")


def test_no_terminal_points_to_score(incident_file: Path) -> None:
    """Without a terminal (cron, CI) the app refuses clearly instead of drawing into a pipe."""
    result = subprocess.run([sys.executable, "-m", "logwatch.tui.cli", str(incident_file)], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL, start_new_session=True)
    assert result.returncode == 2
    assert "logwatch score" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_flushes_the_recording_and_restores_the_terminal(tiny_model_dir: Path, incident_file: Path,
                                                                  incident_log, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from logwatch.core.replay import read_recording

    socket = f"logwatch-test-{uuid.uuid4().hex[:8]}"
    rec, pidfile, done = tmp_path / "run.lwrec", tmp_path / "pid", tmp_path / "exit-code"
    app = (f"{shlex.quote(sys.executable)} -m logwatch.tui.cli {shlex.quote(str(incident_file))} "
           f"--model {shlex.quote(str(tiny_model_dir))} --record {shlex.quote(str(rec))}")
    command = f"sh -c 'echo $$ > {pidfile}; exec {app}'; echo $? > {shlex.quote(str(done))}; stty -a > {tmp_path / 'stty'}"
    _tmux(socket, "new-session", "-d", "-s", "lw", "-x", "140", "-y", "40", command)
    try:
        _wait_for_screen(socket, lambda s: f"{len(incident_log.lines):,} lines" in s)
        subprocess.run(["kill", "-TERM", pidfile.read_text().strip()], check=True)
        wait_for(done.exists, 20, interval=0.2)
        assert done.exists() and done.read_text().strip() == "143"
        _header, records = read_recording(rec)
        assert len(list(records)) == len(incident_log.lines)
        time.sleep(0.5)
        assert " echo" in (tmp_path / "stty").read_text() and " icanon" in (tmp_path / "stty").read_text()
    finally:
        _tmux(socket, "kill-server")
