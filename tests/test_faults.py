"""Faults an operator meets: the monitor is killed, signalled, or fed a file that moves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from helpers import wait_for

from logwatch.core.generator import generate_log
from logwatch.core.replay import read_recording


def _score_follow(model: Path, log: Path, rec: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "logwatch.cli.main", "score", str(log), "--follow", "--model", str(model),
           "--record", str(rec)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigterm_flushes_the_recording(tiny_model_dir: Path, tmp_path: Path) -> None:
    lines = generate_log(seed=12, n_instances=10).lines
    log, rec = tmp_path / "nova.log", tmp_path / "run.lwrec"
    log.write_text("\n".join(lines[:300]) + "\n")
    proc = _score_follow(tiny_model_dir, log, rec)
    printed: list[bytes] = []
    reader = threading.Thread(target=lambda: printed.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        assert wait_for(lambda: len(printed) >= 300, 60, interval=0.1)
        with log.open("a") as f:  # the file grows while followed
            f.write("\n".join(lines[300:]) + "\n")
        assert wait_for(lambda: len(printed) >= len(lines), 60, interval=0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        err = proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err
    _header, records = read_recording(rec)
    recorded = list(records)
    assert len(recorded) == len(printed) == len(lines)
    assert [r.text for r in recorded] == lines
    assert all(abs(r.loss - json.loads(x)["loss"]) < 1e-3 for r, x in zip(recorded, printed))


def test_kill_9_mid_run_leaves_a_replayable_recording(tiny_model_dir: Path, tmp_path: Path) -> None:
    lines = generate_log(seed=13, n_instances=40).lines
    log, rec = tmp_path / "nova.log", tmp_path / "run.lwrec"
    log.write_text("\n".join(lines) + "\n")
    proc = _score_follow(tiny_model_dir, log, rec)
    try:
        assert wait_for(lambda: rec.exists() and rec.stat().st_size > 20_000, 60, interval=0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    warnings: list[str] = []
    _header, records = read_recording(rec, on_warning=warnings.append)
    recorded = list(records)
    assert recorded, "nothing replayable after kill -9"
    assert [r.text for r in recorded] == lines[: len(recorded)]  # a prefix: nothing lost before the tear
    replay = subprocess.run([sys.executable, "-m", "logwatch.cli.main", "score", "--replay", str(rec)],
                            capture_output=True, timeout=60)
    assert replay.returncode == 0
    assert len(replay.stdout.splitlines()) == len(recorded)


def test_sigterm_while_exit_handlers_run_prints_no_traceback(tiny_model_dir: Path, tmp_path: Path) -> None:
    """score finished; the process is running its exit handlers (torch's, temporary directories')
    when SIGTERM arrives: it used to raise SystemExit inside a handler and print "Exception ignored
    in atexit callback" with a traceback. Leaving has begun: the signal changes nothing."""
    log = tmp_path / "x.log"
    log.write_text("2017-05-16 00:00:01.000 1 INFO nova.compute.manager [-] started\n")
    script = ("import atexit, sys, time\n"
              "from logwatch.cli.main import main\n"
              "def slow():\n"
              "    print('exit handlers running', file=sys.stderr, flush=True)\n"
              "    time.sleep(4)\n"
              "atexit.register(slow)\n"
              f"main(['score', {str(log)!r}, '--model', {str(tiny_model_dir)!r}, '--learn', 'off'])\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stderr.readline()  # type: ignore[union-attr]
        assert b"exit handlers running" in first, first
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert b"Exception ignored" not in err and b"Traceback" not in err, err
    assert proc.returncode == 0 and len(out.splitlines()) == 1  # the command had finished: its status stands


def test_after_the_first_sigterm_the_next_ones_are_ignored() -> None:
    """The first SIGTERM unwinds score (finally blocks close the recording); a second one must not
    break off that unwinding with another SystemExit."""
    import pytest

    from logwatch.cli.common import exit_on_sigterm

    before = signal.getsignal(signal.SIGTERM)
    try:
        exit_on_sigterm()
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        with pytest.raises(SystemExit) as exited:
            handler(signal.SIGTERM, None)
        assert exited.value.code == 128 + signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)
