"""`logwatch score` on several inputs: bad ones stop it before any output, duplicates are read
once, the recording is never an input, and a pipe mixes in with files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logwatch.cli.main import main


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture()
def two_logs(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    a.write_text("2017-05-16 00:00:01,000 INFO a1\n2017-05-16 00:00:03,000 INFO a2\n")
    b.write_text("2017-05-16 00:00:02,000 INFO b1\n")
    return a, b


def _texts(stdout: str) -> list[str]:
    return [json.loads(x)["text"][-2:] for x in stdout.splitlines()]


def test_an_unreadable_input_among_several_stops_score_before_any_output(tiny_model_dir: Path, two_logs,
                                                                         tmp_path: Path) -> None:
    a, b = two_logs
    for bad in (tmp_path / "missing.log", tmp_path):
        result = run("score", str(a), str(bad), str(b), "--model", str(tiny_model_dir), "--learn", "off")
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith("logwatch: ") and str(bad) in result.stderr and "Traceback" not in result.stderr
    nothing = run("score", str(tmp_path / "*.nope"), "--model", str(tiny_model_dir))
    assert nothing.exit_code == 2 and "no file matches" in nothing.stderr


def test_the_same_file_twice_is_read_once_and_a_glob_expands(tiny_model_dir: Path, two_logs) -> None:
    a, b = two_logs
    twice = run("score", str(a), str(a.parent / "." / a.name), str(b), "--model", str(tiny_model_dir), "--learn", "off")
    assert twice.exit_code == 0, twice.stderr
    assert _texts(twice.stdout) == ["a1", "b1", "a2"]
    globbed = run("score", str(a.parent / "*.log"), "--model", str(tiny_model_dir), "--learn", "off")
    assert _texts(globbed.stdout) == ["a1", "b1", "a2"]
    assert {Path(json.loads(x)["source"]).name for x in globbed.stdout.splitlines()} == {"a.log", "b.log"}


def test_recording_onto_one_of_the_inputs_is_refused(tiny_model_dir: Path, two_logs) -> None:
    a, b = two_logs
    before = b.read_text()
    result = run("score", str(a), str(b), "--record", str(b), "--model", str(tiny_model_dir))
    assert result.exit_code == 2 and "is the input being read" in result.stderr
    assert b.read_text() == before


def test_a_pipe_mixes_in_with_files(tiny_model_dir: Path, two_logs) -> None:
    a, _b = two_logs
    result = run("score", "-", str(a), "--model", str(tiny_model_dir), "--learn", "off",
                 stdin="2017-05-16 00:00:00,500 INFO p1\n")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert sorted(r["text"][-2:] for r in rows) == ["a1", "a2", "p1"]
    assert {r["source"] for r in rows} == {"-", str(a)} and [r["n"] for r in rows] == [1, 2, 3]


def test_scoring_leaves_a_core_free_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from logwatch.core.threads import scoring_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert scoring_threads() == 7
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert scoring_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert scoring_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")
    assert scoring_threads() == 1


def test_headless_scoring_takes_every_core_of_an_idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from logwatch.core import threads as common
    from logwatch.core.threads import scoring_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(common, "busy_cores", lambda: 0.1)
    assert scoring_threads(keep_a_core=False) == 2
    assert scoring_threads() == 1  # the monitor keeps one for its UI
    monkeypatch.setattr(common, "busy_cores", lambda: 0.9)  # busy already: leave it a core
    assert scoring_threads(keep_a_core=False) == 1
    monkeypatch.setattr(common, "busy_cores", lambda: None)  # cannot tell: an idle machine
    assert scoring_threads(keep_a_core=False) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(common, "busy_cores", lambda: 0.9)
    assert scoring_threads(keep_a_core=False) == 2


def test_busy_cores_sees_a_spinning_process() -> None:
    import subprocess
    import sys

    from logwatch.core.threads import busy_cores

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = busy_cores(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy >= 0.7  # one whole core, give or take the VM's noise


def test_busy_cores_counts_the_start_up_and_not_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured since start-up (no sleep), this process's own work left out: only others count.

    Fed fixed /proc/stat readings (time, all jiffies, idle jiffies, this process's jiffies), so
    whatever else the machine runs meanwhile cannot change the answer."""
    import os
    import time

    from logwatch.core import threads as common

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(time, "sleep", lambda _seconds: pytest.fail("it slept: the start-up was not used"))
    started = time.monotonic() - 2.5  # inside the 0.1-5 s the start-up reading is used for
    monkeypatch.setattr(common, "_STARTED", (started, 1_000, 500, 10))

    def now(all_jiffies: int, idle: int, own: int) -> None:
        monkeypatch.setattr(common, "_cpu_sample", lambda: (started + 2.5, all_jiffies, idle, own))

    now(1_200, 600, 110)  # 100 of the 200 jiffies busy, all of them this process's (importing torch)
    assert common.busy_cores() == 0.0
    now(1_200, 600, 60)  # 50 of them another process's: a quarter of 2 cores' time, half a core
    assert common.busy_cores() == pytest.approx(0.5)
    now(1_200, 500, 10)  # nothing idle, nothing ours: both cores taken by others
    assert common.busy_cores() == pytest.approx(2.0)


def test_busy_cores_measures_over_a_sleep_without_a_fresh_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import time

    from logwatch.core import threads as common

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(common, "_STARTED", None)
    samples = iter([(0.0, 1_000, 500, 10), (0.3, 1_040, 520, 10)])
    monkeypatch.setattr(common, "_cpu_sample", lambda: next(samples))
    assert common.busy_cores(0.3) == pytest.approx(1.0) and slept == [0.3]  # 20 of 40 jiffies busy
    samples = iter([(0.0, 1_000, 500, 10), (0.3, 1_000, 500, 10)])
    assert common.busy_cores() is None  # no jiffy went by: no answer rather than a division by zero
    monkeypatch.setattr(common, "_cpu_sample", lambda: None)
    assert common.busy_cores() is None  # no /proc/stat


def test_a_glob_past_the_input_cap_stops_score_with_one_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    """300 files matched, at most 256 read at once: score's rows must cover every input, so it
    refuses (exit 2, one line) rather than print 256 files' rows and 44 warnings."""
    for i in range(300):
        (tmp_path / f"s{i:03d}.log").write_text(f"2017-05-16 00:00:01,000 INFO line of {i}\n")
    result = run("score", str(tmp_path / "*.log"), "--model", str(tiny_model_dir), "--learn", "off")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "300 files" in result.stderr and "256" in result.stderr, result.stderr
