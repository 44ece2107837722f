"""The headless commands end to end: JSON contract, bad input, bad model directories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from logwatch.cli.main import main
from logwatch.core.generator import generate_log

KEYS = {"n", "ts", "source", "session", "text", "loss", "alert", "why"}  # "why", "source" added 2026-12-01 (docs/DESIGN.md §4)


def run(*args: str, stdin: str | None = None) -> CliRunner:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture(scope="module")
def incident_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    log = generate_log(seed=31, n_instances=16, incidents=("volume_attach",))
    path = tmp_path_factory.mktemp("logs") / "incident.log"
    path.write_text("\n".join(log.lines) + "\n")
    return path, log


def test_score_prints_one_json_object_per_line(tiny_model_dir: Path, incident_log) -> None:
    path, log = incident_log
    result = run("score", str(path), "--model", str(tiny_model_dir), "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(rows) == len(log.lines)
    assert all(set(r) == KEYS for r in rows)
    assert [r["n"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(isinstance(r["loss"], float) for r in rows)
    incident = log.incidents[0]
    alerted = {r["session"] for r in rows if r["alert"]}
    assert incident.session in alerted
    # every alert says why, and only alerts do
    assert all(bool(r["why"]) == r["alert"] for r in rows)
    first = next(r for r in rows if r["alert"] and r["session"] == incident.session)
    assert any(reason.startswith("surprise ") or reason == "error-level" for reason in first["why"])


def test_score_with_int8_precision_matches_fp32_closely(tiny_model_dir: Path, incident_log) -> None:
    path, log = incident_log
    exact = run("score", str(path), "--model", str(tiny_model_dir), "--device", "cpu")
    int8 = run("score", str(path), "--model", str(tiny_model_dir), "--device", "cpu", "--precision", "int8")
    assert int8.exit_code == 0, int8.stderr
    pairs = list(zip(exact.stdout.splitlines(), int8.stdout.splitlines()))
    assert len(pairs) == len(log.lines)
    assert max(abs(json.loads(a)["loss"] - json.loads(b)["loss"]) for a, b in pairs) < 0.1


def test_fail_on_alert_exit_code_and_tokens(tiny_model_dir: Path, incident_log) -> None:
    path, _ = incident_log
    result = run("score", str(path), "--model", str(tiny_model_dir), "--fail-on-alert", "--tokens")
    assert result.exit_code == 1
    first = json.loads(result.stdout.splitlines()[0])
    assert first["tokens"] and all(isinstance(p, str) and isinstance(x, float) for p, x in first["tokens"])


def test_bad_lines_are_scored_not_fatal(tiny_model_dir: Path, tmp_path: Path) -> None:
    good = generate_log(seed=5, n_instances=2).lines[:3]
    raw = (good[0].encode() + b"\n" + b"\xff\xfe broken \x00 utf8\n" + b"x" * (10 * 1024 * 1024) + b"\n"
           + b"\x1b]0;pwned\x07 [bold red]markup[/]\r\n" + good[1].encode() + b"\n" + good[2].encode())
    path = tmp_path / "bad.log"
    path.write_bytes(raw)
    result = run("score", str(path), "--model", str(tiny_model_dir))
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(rows) == 6  # one per line, the unterminated last one included
    assert "\ufffd" in rows[1]["text"] and "\x00" in rows[1]["text"]
    assert len(rows[2]["text"]) < 100_000  # the 10 MB line is cut, still one line
    assert rows[3]["text"].endswith("[/]")  # the CR before LF is dropped
    assert rows[5]["text"] == good[2]


def test_empty_file_prints_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    result = run("score", str(path), "--model", str(tiny_model_dir))
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.log", "no such file"),
    (lambda d: d, "directory"),
])
def test_bad_input_path_is_a_usage_error(tmp_path: Path, make, message: str) -> None:
    result = run("score", str(make(tmp_path)))
    assert result.exit_code == 2
    assert result.stderr.startswith("logwatch: ") and message in result.stderr.lower()
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _broken_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


@pytest.mark.parametrize("breakage, message", [
    (lambda d: (d / "tokenizer.json").unlink(), "missing tokenizer.json"),
    (lambda d: (d / "model.safetensors").unlink(), "missing model.safetensors"),
    (lambda d: (d / "model.safetensors").rename(d / "pytorch_model.bin"), "never unpickles"),
    (lambda d: (d / "spec.json").write_text(
        json.dumps({**json.loads((d / "spec.json").read_text()), "n_embd": 32})), "shape"),
    (lambda d: (d / "spec.json").write_text("{not json"), "spec.json"),
])
def test_broken_model_directory(tiny_model_dir: Path, tmp_path: Path, breakage, message: str) -> None:
    model = _broken_copy(tiny_model_dir, tmp_path)
    breakage(model)
    log = tmp_path / "x.log"
    log.write_text("INFO nova.compute.manager hello\n")
    result = run("score", str(log), "--model", str(model))
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("logwatch: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_session_regex(tiny_model_dir: Path, incident_log) -> None:
    path, _ = incident_log
    result = run("score", str(path), "--model", str(tiny_model_dir), "--session-regex", "(unclosed")
    assert result.exit_code == 2 and "session-regex" in result.stderr


def test_custom_session_regex(tiny_model_dir: Path, incident_log) -> None:
    path, _ = incident_log
    result = run("score", str(path), "--model", str(tiny_model_dir), "--session-regex", r"\] (\d+\.\d+\.\d+\.\d+) ")
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert {"10.11.10.1"} <= {r["session"] for r in rows}
    assert any(r["session"].startswith("<unkeyed:") for r in rows)


def test_calibrate_dry_run_and_write(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = _broken_copy(tiny_model_dir, tmp_path)
    normal = tmp_path / "normal.log"
    normal.write_text("\n".join(generate_log(seed=9, n_instances=20).lines) + "\n")
    before = (model / "calibration.json").read_text()
    dry = run("calibrate", "--model", str(model), str(normal), "--max-fpr", "0.1", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert (model / "calibration.json").read_text() == before
    wrote = run("calibrate", "--model", str(model), str(normal), "--method", "mean+3sigma")
    assert wrote.exit_code == 0, wrote.stderr
    saved = json.loads((model / "calibration.json").read_text())
    assert saved["method"] == "mean+3sigma" and saved["line_threshold"] > 0


def test_score_reads_stdin_and_replays_its_recording(tiny_model_dir: Path, incident_log, tmp_path: Path) -> None:
    """Subprocess: a real pipe on stdin, a recording, and a replay giving the same output."""
    path, log = incident_log
    rec = tmp_path / "run.lwrec"
    cmd = [sys.executable, "-m", "logwatch.cli.main", "score", "-", "--model", str(tiny_model_dir), "--record", str(rec)]
    live = subprocess.run(cmd, input=path.read_bytes(), capture_output=True, timeout=120)
    assert live.returncode == 0, live.stderr
    replay = subprocess.run([sys.executable, "-m", "logwatch.cli.main", "score", "--replay", str(rec)],
                            capture_output=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    live_rows = [json.loads(x) for x in live.stdout.splitlines()]
    assert len(live_rows) == len(log.lines)
    assert live_rows == [json.loads(x) for x in replay.stdout.splitlines()]


def test_no_input_on_a_terminal_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    from logwatch.cli import commands

    with pytest.raises(commands.LogwatchError) as info:
        commands.resolve_inputs(())
    assert info.value.exit_code == 2 and "no input" in info.value.message


def test_score_applies_the_default_known_normal_file_unless_told_none(tiny_model_dir: Path, incident_log,
                                                                        _private_state_dir: Path) -> None:
    from logwatch.core.known_normal import KnownNormal, default_path

    path, _log = incident_log
    before = [json.loads(x) for x in run("score", str(path), "--model", str(tiny_model_dir)).stdout.splitlines()]
    alerting = [r for r in before if r["alert"]]
    assert alerting
    store = KnownNormal.open(None)
    for row in alerting:
        store.mark(row["text"])
    store.save()
    assert default_path().is_relative_to(_private_state_dir)
    after = [json.loads(x) for x in run("score", str(path), "--model", str(tiny_model_dir)).stdout.splitlines()]
    assert not any(r["alert"] for r in after)
    assert [r["loss"] for r in after] == [r["loss"] for r in before]  # still scored, just not alerting
    ignored = run("score", str(path), "--model", str(tiny_model_dir), "--known-normal", "none")
    assert [json.loads(x)["alert"] for x in ignored.stdout.splitlines()] == [r["alert"] for r in before]


def test_train_with_session_check_stores_it_and_eval_applies_it(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[1] / "sample_logs"
    small = tmp_path / "small.log"
    small.write_text("".join(samples.joinpath("nova_train.log").read_text().splitlines(keepends=True)[:600]))
    out = tmp_path / "model"
    result = run("train", str(small), "--out", str(out), "--epochs", "1", "--vocab-size", "300", "--session-check")
    assert result.exit_code == 0, result.stderr
    stored = json.loads((out / "calibration.json").read_text())["session_check"]
    assert stored["kind"] == "count-vector-knn" and stored["reference_sessions"] > 10 and stored["normal_sessions"] > 0
    log = samples / "incident_build_failures.log"
    report = json.loads(run("eval", "--model", str(out), "--labels", str(log.with_suffix(".labels.csv")), str(log),
                            "--json").stdout)
    assert report["session_check_threshold"] == round(stored["threshold"], 6)
    assert "session check" in report["rule"] and {"tp", "fp"} <= set(report["session_check"])
    # (Without the flag no check is stored: tests/test_offline.py trains that way and checks it.)


def test_marks_lists_and_removes(tmp_path: Path) -> None:
    from logwatch.core.known_normal import KnownNormal

    path = tmp_path / "known.json"
    store = KnownNormal.open(path)
    store.mark("INFO nova.compute [bold]markup[/] took 12 seconds \x1b[2J", session="req-1")
    store.mark("WARNING nova.scheduler instance sync for host 7 did not match", session="req-2")
    store.save()
    table = run("marks", "--known-normal", str(path))
    assert table.exit_code == 0 and "[bold]markup[/]" in table.stdout and "\x1b" not in table.stdout
    assert "<NUM> seconds" in table.stdout  # the pattern, as matched
    rows = [json.loads(x) for x in run("marks", "--known-normal", str(path), "--json").stdout.splitlines()]
    assert [r["n"] for r in rows] == [1, 2] and rows[1]["session"] == "req-2"
    removed = run("marks", "--known-normal", str(path), "--remove", "1", "--json")
    assert removed.exit_code == 0 and "removed 1 mark(s); 1 left" in removed.stderr
    assert [json.loads(x)["session"] for x in removed.stdout.splitlines()] == ["req-2"]
    assert len(KnownNormal.open(path)) == 1
    bad = run("marks", "--known-normal", str(path), "--remove", "5")
    assert bad.exit_code == 2 and "no mark number 5" in bad.stderr
    assert run("marks", "--known-normal", "none").exit_code == 2


def test_score_session_ends_judges_each_session_when_the_input_ends(checked_model: Path, truncated,
                                                                     tiny_model_dir: Path, tmp_path: Path) -> None:
    texts, victim = truncated
    log = tmp_path / "truncated.log"
    log.write_text("\n".join(texts) + "\n")
    result = run("score", str(log), "--model", str(checked_model), "--session-ends", "--fail-on-alert", "--tokens")
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    lines = [r for r in rows if "session_end" not in r]
    ends = [r for r in rows if "session_end" in r]
    assert len(lines) == len(texts) and all(set(r) == KEYS | {"tokens"} for r in lines)  # line objects unchanged
    assert rows[:len(lines)] == lines  # nothing idles in a file read at once: every verdict comes at its end
    assert sorted(e["session_end"] for e in ends) == sorted({r["session"] for r in lines})
    assert {"n", "lines", "check", "threshold", "alert"} <= set(ends[0])
    assert next(e for e in ends if e["session_end"] == victim)["alert"] is True
    assert result.exit_code == 1
    plain = run("score", str(log), "--model", str(checked_model))
    assert not any("session_end" in json.loads(x) for x in plain.stdout.splitlines())  # opt-in only
    missing = run("score", str(log), "--model", str(tiny_model_dir), "--session-ends")
    assert missing.exit_code == 2 and "--session-check" in missing.stderr and "Traceback" not in missing.stderr
    replay = run("score", "--replay", str(log), "--session-ends")
    assert replay.exit_code == 2 and "--replay" in replay.stderr


def test_score_follow_judges_sessions_that_go_quiet_while_still_running(checked_model: Path, truncated,
                                                                        tmp_path: Path) -> None:
    """Subprocess, --follow on a file that stops growing: verdicts come when sessions idle out,
    while the scorer is still running (nothing ends the input)."""
    import threading

    texts, victim = truncated
    log = tmp_path / "live.log"
    log.write_text("\n".join(texts) + "\n")
    cmd = [sys.executable, "-m", "logwatch.cli.main", "score", str(log), "--follow", "--model", str(checked_model),
           "--session-ends", "--idle-seconds", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows: list[dict] = []
    done = threading.Event()

    def read() -> None:
        for raw in proc.stdout:  # type: ignore[union-attr]
            rows.append(json.loads(raw))
            if any(r.get("session_end") == victim for r in rows):
                done.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert done.wait(120), f"no verdict on {victim} after {len(rows)} rows"
        assert proc.poll() is None  # still following: the verdicts came from idling, not from the end
    finally:
        proc.terminate()
        proc.wait(30)
    assert next(r for r in rows if r.get("session_end") == victim)["alert"] is True
    assert sum("session_end" not in r for r in rows) == len(texts)


def test_every_command_collects_young_garbage_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring's heap is large and its young objects short-lived: the default 700 walks it too often."""
    import gc

    from logwatch.cli.main import GC_YOUNG_THRESHOLD

    monkeypatch.setattr(gc, "set_threshold", lambda *t: seen.append(t))
    seen: list[tuple[int, ...]] = []
    assert run("models", "--json").exit_code == 0
    assert seen and seen[-1][0] == GC_YOUNG_THRESHOLD >= 10_000


def test_the_process_leaves_quickly_with_its_exit_handlers_run_and_its_code(tiny_model_dir: Path, incident_log,
                                                                            tmp_path: Path) -> None:
    """Subprocess: the entry point skips the interpreter's teardown, not exit handlers or the status."""
    path, log = incident_log
    marker = tmp_path / "handler-ran"
    code = ("import atexit, pathlib, sys\n"
            f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
            "from logwatch.cli.main import main\n"
            "main(sys.argv[1:])\n")
    cmd = [sys.executable, "-c", code, "score", str(path), "--model", str(tiny_model_dir), "--fail-on-alert"]
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr  # an alert: --fail-on-alert's status survives the quick exit
    assert len(done.stdout.splitlines()) == len(log.lines)  # every row flushed
    assert marker.read_text() == "yes"


def test_leaving_waits_for_our_threads_and_for_message_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    import atexit
    import os
    import threading

    from logwatch.cli.main import leave

    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: handled.append(True))  # not pytest's own, here
    handled: list[bool] = []
    monkeypatch.setattr(os, "_exit", lambda status: pytest.fail(f"left at once with {status}"))
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        with pytest.raises(SystemExit) as info:  # the usual exit, which joins the thread
            leave(3)
        assert info.value.code == 3
    finally:
        release.set()
        worker.join()
    with pytest.raises(SystemExit) as info:
        leave("logwatch: a message")  # the interpreter prints it and exits 1
    assert info.value.code == "logwatch: a message"
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    leave(None)
    leave(2)
    assert exits == [0, 2] and handled == [True, True]


@pytest.mark.parametrize("command, flag, value", [
    (command, flag, value) for command in ("score", "watch", "eval")
    for flag, value in (("--learn", "²"), ("--learn-seconds", "nan"), ("--relearn", "5"))
    if not (command == "eval" and flag == "--relearn")  # eval scores once: it has no --relearn
])
def test_a_nonsense_run_option_is_one_usage_line_in_every_command(tmp_path: Path, command: str, flag: str,
                                                                   value: str) -> None:
    """The settings' one validation answers for every command (it was a ValueError traceback)."""
    log = tmp_path / "x.log"
    log.write_text("INFO a line\n")
    extra = ["--labels", str(log)] if command == "eval" else []
    result = CliRunner().invoke(main, [command, str(log), *extra, flag, value])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert flag.lstrip("-").split("-")[0] in result.stderr and "Traceback" not in result.stderr
