"""Hostile and careless input through the commands: one ``logwatch:`` line, never a traceback,
never a hang, never data loss.

Each case here was a crash, a hang or a wrong result before its fix (a user reported it or an
adversarial run found it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_for

from logwatch.core.engine import Engine
from logwatch.core.known_normal import KnownNormal
from logwatch.core.record import RecordingWriter
from logwatch.core.replay import decode_record
from logwatch.core.sessions import SessionKeyer
from logwatch.core.types import LogLine, ScoredLine

ROOT = Path(__file__).resolve().parents[1]


def logwatch(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logwatch.cli.main", *args], input=stdin, capture_output=True,
                          timeout=timeout, check=False)


def no_traceback(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return err


def test_hostile_json_lines_each_get_their_row(tiny_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "hostile.log"
    log.write_text("\n".join([
        '{"a":' * 1000 + "1" + "}" * 1000,  # nested past the recursion limit
        '{"ts": "\\ud800", "level": "\\udc00", "msg": "lone surrogates"}',
        '{"level": "\\u001b[2J", "ts": "\\u001b]2;X\\u0007", "msg": "escapes in fields"}',
        "",
        "INFO nova.compute.manager plain line",
    ]) + "\n")
    result = logwatch("score", str(log), "--model", str(tiny_model_dir), "--learn", "off")
    no_traceback(result)
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert [row["n"] for row in rows] == [1, 2, 3, 4, 5]
    assert "\x1b" not in (rows[2]["ts"] or "") and rows[1]["ts"] == "\ufffd"
    assert rows[3]["loss"] is None and rows[3]["alert"] is False  # a blank line says nothing


def test_blank_lines_are_not_scored_nor_part_of_a_session(tiny_model_dir: Path) -> None:
    engine = Engine.load(tiny_model_dir, device="cpu")
    scored = engine.score_batch([LogLine(n=i, text=t, source="x", arrival=0.0) for i, t in enumerate(["", "  \t", "x"])])
    assert [s.loss is None for s in scored] == [True, True, False]
    assert not any(s.alert for s in scored[:2])
    assert engine.sessions.get(scored[2].session).lines == 1  # type: ignore[union-attr]


def test_recording_onto_the_input_is_refused_and_the_log_is_intact(tiny_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "v.log"
    log.write_text("INFO nova.x one\nINFO nova.x two\n")
    alias = tmp_path / "alias.log"
    alias.symlink_to(log)
    for target in (str(log), str(alias)):
        result = logwatch("score", str(log), "--record", target, "--model", str(tiny_model_dir), "--learn", "off")
        err = no_traceback(result)
        assert result.returncode == 2 and "is the input being read" in err
    assert log.read_text() == "INFO nova.x one\nINFO nova.x two\n"
    result = logwatch("--replay", str(log), "--record", str(log))
    assert result.returncode == 2 and "is the input being read" in no_traceback(result)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_a_full_disk_under_record_is_one_line_not_two_tracebacks(tiny_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "v.log"
    log.write_text("INFO nova.x one\n" * 600)
    result = logwatch("score", str(log), "--record", "/dev/full", "--model", str(tiny_model_dir), "--learn", "off")
    err = no_traceback(result)
    assert result.returncode != 0 and "cannot write" in err and "/dev/full" in err and len(err.splitlines()) == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_a_recording_that_fills_the_disk_mid_run_stops_recording_once(tmp_path: Path) -> None:
    from logwatch.core.record import GuardedRecording

    told: list[str] = []
    writer = RecordingWriter(tmp_path / "r.lwrec", flush_every=1)
    writer._file.close()  # type: ignore[union-attr]
    writer._file = open("/dev/full", "wb", buffering=0)  # noqa: SIM115 - the disk is full from here on
    guarded = GuardedRecording(writer, told.append)
    line = ScoredLine(n=1, source="s", arrival=0.0, text="t", session="k", pattern="t", loss=1.0)
    for _ in range(3):
        guarded.write([line])
    guarded.close()
    assert len(told) == 1 and "recording stopped" in told[0] and "No space left" in told[0]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_the_monitor_goes_on_without_a_recording_it_cannot_write(tiny_model_dir: Path, tmp_path: Path) -> None:
    from logwatch.tui.messages import LinesScored
    from logwatch.tui.pipeline import Pipeline, PipelineConfig

    log = tmp_path / "v.log"
    log.write_text("INFO nova.x one\n" * 50)
    shown: list[int] = []

    def post(message: object) -> None:
        if isinstance(message, LinesScored):
            shown.extend(line.n for line in message.lines)

    pipeline = Pipeline(PipelineConfig.build(paths=[str(log)], follow=False, record="/dev/full", model_dir=str(tiny_model_dir),
                                       device="cpu"), post=post)
    pipeline.run()
    assert shown == list(range(1, 51))
    assert "cannot write /dev/full" in pipeline.status.warning


def _broken_model(tmp_path: Path, tiny_model_dir: Path, name: str, change: dict[str, object]) -> Path:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    path = model / name
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))
    return model


@pytest.mark.parametrize(("name", "change", "message"), [
    ("spec.json", {"n_head": 0}, "n_head must be a whole number"),
    ("spec.json", {"n_layer": 2.5}, "n_layer must be a whole number"),
    ("spec.json", {"n_embd": -64}, "n_embd must be a whole number"),
    ("spec.json", {"version": "x"}, "version must be a whole number"),
    ("calibration.json", {"line_threshold": "1.5"}, "line_threshold must be a finite number"),
    # NaN and Infinity are not JSON: the strict reader refuses the file before the field is checked
    ("calibration.json", {"line_threshold": float("nan")}, "NaN is not a number JSON allows"),
    ("calibration.json", {"line_threshold": float("inf")}, "Infinity is not a number JSON allows"),
    ("calibration.json", {"line_threshold": 10**400}, "line_threshold must be a finite number"),
    ("calibration.json", {"min_lines": "2"}, "min_lines must be a whole number"),
])
def test_bad_model_files_are_one_line(tiny_model_dir: Path, tmp_path: Path, name: str, change: dict[str, object],
                                      message: str) -> None:
    model = _broken_model(tmp_path, tiny_model_dir, name, change)
    result = logwatch("score", "-", "--model", str(model), "--learn", "off", stdin=b"INFO x\n")
    err = no_traceback(result)
    assert result.returncode == 2 and message in err


def test_a_fifo_or_deep_json_in_a_model_directory_does_not_block(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "tokenizer.json").unlink()
    os.mkfifo(model / "tokenizer.json")
    result = logwatch("score", "-", "--model", str(model), "--learn", "off", stdin=b"INFO x\n", timeout=60)
    assert result.returncode == 2 and "is not a regular file" in no_traceback(result)
    (model / "tokenizer.json").unlink()
    shutil.copy(tiny_model_dir / "tokenizer.json", model / "tokenizer.json")
    (model / "calibration.json").write_text("[" * 100_000)
    result = logwatch("score", "-", "--model", str(model), "--learn", "off", stdin=b"INFO x\n")
    assert result.returncode == 2 and "nested too deeply" in no_traceback(result)


@pytest.mark.parametrize("args", [("--speed", "nan"), ("--speed", "-1"), ("score", "--idle-seconds", "nan"),
                                  ("train", "--lr", "nan"), ("train", "--lr", "-1"), ("eval", "--threshold", "inf"),
                                  ("score", "--session-regex", "")])
def test_nonsense_option_values_are_refused(args: tuple[str, ...], tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("INFO x\n")
    command = [*args[:-2], args[-2], args[-1]] if args[0].startswith("--") else list(args)
    extra = ["--labels", str(log)] if args[0] == "eval" else []
    result = logwatch(*command, *extra, str(log))
    no_traceback(result)
    assert result.returncode == 2, result.stderr


def test_a_catastrophic_session_regex_is_given_up_not_hung_on() -> None:
    keyer = SessionKeyer(r"(?:a|aa)+$|job=(\d+)")
    started = time.monotonic()
    keys = [keyer.key("a" * 60 + "b", "x.log") for _ in range(10)]
    assert time.monotonic() - started < 10  # three strikes of 50 ms, then no more searching
    assert set(keys) == {"<unkeyed:x.log>"} and keyer.failure and "given up" in keyer.failure
    assert keyer.key("job=7", "x.log") == "<unkeyed:x.log>"  # given up for the rest of the run
    assert SessionKeyer(r"job=(\d+)").key("job=7 " + "x" * 100_000, "x.log") == "7"


def test_a_recording_with_a_nan_loss_is_a_damaged_record() -> None:
    good = ScoredLine(n=1, source="s", arrival=0.0, text="t", session="k", pattern="t", loss=1.0)
    from logwatch.core.record import encode_record

    raw = encode_record(good)
    assert decode_record(raw.rstrip(b"\n")).loss == 1.0  # type: ignore[union-attr]
    for bad in (b"NaN", b"Infinity", b"-Infinity", b"1" + b"0" * 400):
        hostile = raw.replace(b'"loss":1.0', b'"loss":' + bad)
        assert hostile != raw
        with pytest.raises(ValueError):
            decode_record(hostile.rstrip(b"\n"))


def test_removing_a_mark_elsewhere_is_not_undone_by_a_running_monitor(tmp_path: Path) -> None:
    path = tmp_path / "known.json"
    cli = KnownNormal.open(path)
    cli.mark("INFO nova.x first pattern")
    cli.save()
    monitor = KnownNormal.open(path)  # a monitor opened the file, then `logwatch marks --remove 1` ran
    cli.remove([1])
    cli.save()
    monitor.mark("WARNING nova.y second pattern")  # the operator presses m in the monitor
    monitor.save()
    texts = [m.text for m in KnownNormal.open(path).marks]
    assert texts == ["WARNING nova.y second pattern"]


def test_a_slow_replay_stops_when_asked(tmp_path: Path) -> None:
    from logwatch.tui.pipeline import Pipeline, PipelineConfig

    rec = tmp_path / "slow.lwrec"
    with RecordingWriter(rec, model="m", threshold=1.0) as writer:
        writer.write([ScoredLine(n=i, source="s", arrival=float(i), text=f"line {i}", session="k", pattern="line <NUM>",
                                 loss=0.1)
                      for i in range(1, 4)])
    pipeline = Pipeline(PipelineConfig.build(replay=str(rec), speed=1e-6), post=lambda _m: None)
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    assert wait_for(lambda: pipeline.status.lines >= 1, 30)  # the first line is out, the gap begins
    pipeline.stop()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the replay kept sleeping after stop()"


def test_c1_controls_and_bidi_overrides_leave_score_escaped(tiny_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "c1.log"
    log.write_bytes("INFO a\u009b2J \u202e bidi\n".encode())
    result = logwatch("score", str(log), "--model", str(tiny_model_dir), "--learn", "off")
    out = result.stdout.decode("utf-8")
    assert "\u009b" not in out and "\u202e" not in out and "\\u009b" in out
    assert json.loads(out)["text"] == "INFO a\u009b2J \u202e bidi"  # escaped, not lost


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_a_full_or_closed_output_is_one_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("INFO nova.x one\n")
    base = [sys.executable, "-m", "logwatch.cli.main", "score", str(log), "--model", str(tiny_model_dir), "--learn", "off"]
    with open("/dev/full", "wb") as full:
        result = subprocess.run(base, stdout=full, stderr=subprocess.PIPE, timeout=120, check=False)
    assert result.returncode == 1 and b"cannot write the scored lines: No space left" in result.stderr
    assert b"Traceback" not in result.stderr
    closed = subprocess.run(["sh", "-c", '"$0" "$@" >&-', *base], stderr=subprocess.PIPE, timeout=120, check=False)
    assert closed.returncode == 2 and b"standard output is closed" in closed.stderr
    no_stdin = subprocess.run(["sh", "-c", '"$0" "$@" <&-', *base[:4], "-", *base[5:]], stderr=subprocess.PIPE,
                              capture_output=False, stdout=subprocess.DEVNULL, timeout=120, check=False)
    assert no_stdin.returncode == 2 and b"standard input is closed" in no_stdin.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--replay", "missing.lwrec"], "no such file"),
    (["score", "--replay", "missing.lwrec"], "no such file"),
    (["score", "x.log", "--replay", "r.lwrec"], "reads no log"),
    (["score", "--replay", "r.lwrec", "--follow"], "--follow does not apply"),
])
def test_replay_options_that_would_be_ignored_are_refused(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "x.log").write_text("INFO x\n")
    RecordingWriter(tmp_path / "r.lwrec").close()
    result = subprocess.run([sys.executable, "-m", "logwatch.cli.main", *args], cwd=tmp_path, capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == 2 and message in no_traceback(result)


def test_train_out_onto_a_file_or_an_impossible_place_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("INFO x\n")
    for out, message in ((str(log), "is a file, not a directory"), (str(log / "sub"), "cannot create --out")):
        result = logwatch("train", str(log), "--out", out)
        assert result.returncode == 2 and message in no_traceback(result)
    assert log.read_text() == "INFO x\n"


def test_runs_of_blank_lines_in_a_recording_are_skipped_and_still_counted(tmp_path: Path) -> None:
    import gzip

    from logwatch.core.record import encode_record
    from logwatch.core.replay import read_recording

    plain = tmp_path / "r.lwrec"
    RecordingWriter(plain).close()
    line = ScoredLine(n=1, source="s", arrival=0.0, text="t", session="k", pattern="t", loss=1.0)
    packed = tmp_path / "r.lwrec.gz"
    with gzip.open(packed, "wb") as out:  # 2 million blank lines: what a tiny gzip can hold
        out.write(plain.read_bytes() + b"\n" * 2_000_000 + encode_record(line) + b"\n\n" + b"{bad}\n")
    warnings: list[str] = []
    _header, records = read_recording(packed, on_warning=warnings.append)
    assert [r.text for r in records] == ["t"]
    assert warnings == [w for w in warnings if w.startswith("line 2000005:")] and len(warnings) == 1


def test_a_model_directory_that_cannot_be_searched_is_one_error(tiny_model_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Without search permission on the directory, probing its files raises PermissionError (it
    does not answer False). Root is never denied, so the denial is what Python raises for an
    unprivileged user, injected here; checked for real as `nobody` on 2026-12-01."""
    from logwatch.core.model import load_model_dir
    from logwatch.core.spec import ModelDirError

    real_stat = Path.stat

    def denied(self: Path, *args: object, **kwargs: object) -> os.stat_result:
        if self.parent == tiny_model_dir:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "stat", denied)
    with pytest.raises(ModelDirError, match=r"cannot open model directory .*Permission denied"):
        load_model_dir(tiny_model_dir)
