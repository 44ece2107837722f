"""Recordings must replay exactly what was seen, and stay readable after a crash or a cut."""

from __future__ import annotations

import gzip
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from helpers import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwatch.core.masking import mask_line
from logwatch.core.record import RECORDING_VERSION, RecordingError, RecordingHeader, RecordingWriter
from logwatch.core.replay import read_recording
from logwatch.core.types import ModelChange, ScoredLine

TRICKY = [
    "\x1b[2J clear screen",
    "title \x1b]0;pwned\x07 set",
    "[bold red]x[/] rich markup",
    "nul \x00 inside",
    "replacement \ufffd char",
    "carriage\rreturn in the middle",
    "emoji 🔥🧯 and 中文",
    "csi \x9b31m c1, del \x7f, separator \u2028, bidi \u202e",
    "",
    "x" * 16_384,
]


def _line(i: int, text: str, **kw: object) -> ScoredLine:
    base: dict = dict(n=i + 1, source="/var/log/nova.log" if i % 2 else "-", arrival=1716000000.123456 + i,
                      text=text, session=f"req-{i % 3}", pattern=mask_line(text),
                      ts="2017-05-16 00:00:00.008" if i % 2 else None,
                      level="INFO" if i % 3 else None, loss=None if i == 0 else 1.23456789 * i, alert=i % 4 == 1,
                      tokens=tuple((f"tok{j}\x1b", 0.1234567 * j) for j in range(i % 5)))
    base.update(kw)
    return ScoredLine(**base)


def _lines(n: int = 10) -> list[ScoredLine]:
    return [_line(i, f"line {i} [instance: {i}] \x1b[31m") for i in range(n)]


def _write(path: Path, lines: list[ScoredLine], **kw: object) -> Path:
    with RecordingWriter(path, **kw) as writer:
        writer.write(lines)
    return path


def _read(path: Path) -> tuple[RecordingHeader, list[ScoredLine], list[str]]:
    warnings: list[str] = []
    header, records = read_recording(path, on_warning=warnings.append)
    return header, list(records), warnings


def _assert_same(got: ScoredLine, want: ScoredLine) -> None:
    assert (got.n, got.source, got.text, got.session, got.ts, got.level, got.alert) == (
        want.n, want.source, want.text, want.session, want.ts, want.level, want.alert)
    assert math.isclose(got.arrival, want.arrival, abs_tol=1e-6)
    if want.loss is None:
        assert got.loss is None
    else:
        assert got.loss is not None and abs(got.loss - want.loss) <= 5e-5
    assert [p for p, _ in got.tokens] == [p for p, _ in want.tokens]
    assert all(abs(g - w) <= 5e-4 for (_, g), (_, w) in zip(got.tokens, want.tokens))


# -- round trip ------------------------------------------------------------------------------
def test_tricky_text_round_trips_field_by_field(tmp_path: Path) -> None:
    want = [_line(i, t) for i, t in enumerate(TRICKY)]
    path = _write(tmp_path / "r.lwrec", want, model="nova-small", threshold=3.25, meta={"source": "-", "k": [1, 2]})
    header, got, warnings = _read(path)
    assert header.version == 1 and header.model == "nova-small" and header.threshold == 3.25  # no verdicts: v1
    assert header.meta == {"source": "-", "k": [1, 2]} and abs(header.created - time.time()) < 60
    assert warnings == [] and len(got) == len(want)
    for g, w in zip(got, want):
        _assert_same(g, w)
    assert got[2].loss == round(want[2].loss, 4) and got[2].tokens[1][1] == 0.123  # documented rounding


def test_a_model_change_is_noted_on_its_first_line_and_read_back(tmp_path: Path) -> None:
    change = ModelChange("learned: nova-compute \x1b[31m", 2.4137219, 9_812)
    want = _lines(4)
    want[2].model = change
    path = _write(tmp_path / "r.lwrec", want)
    rows = [json.loads(x) for x in path.read_text().splitlines()[1:]]
    assert [("model" in row) for row in rows] == [False, False, True, False]  # only where it changed
    header, got, warnings = _read(path)
    assert header.version == 1 and warnings == []  # a note, not a new record kind: older readers ignore it
    assert [x.model for x in got] == [None, None, ModelChange(change.label, 2.413722, 9_812), None]
    # A note we did not write is not worth a warning: the line is kept, without it.
    raw = path.read_text().splitlines()
    raw[3] = raw[3].replace('"from":9812', '"from":"many"')
    path.write_text("\n".join(raw) + "\n")
    _, got, warnings = _read(path)
    assert len(got) == 4 and got[2].model is None and warnings == []


def test_file_is_utf8_json_lines_and_safe_to_cat(tmp_path: Path) -> None:
    raw = _write(tmp_path / "r.lwrec", [_line(i, t) for i, t in enumerate(TRICKY)]).read_bytes()
    text = raw.decode("utf-8")
    assert text.endswith("\n") and len(text.split("\n")) == len(TRICKY) + 2
    assert not [c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)]
    assert "\u2028" not in text and "\u202e" not in text
    assert "🔥🧯 and 中文" in text  # ordinary non-ASCII stays readable
    assert json.loads(text.split("\n")[1])["text"] == TRICKY[0]  # short keys, plain JSON


def test_lone_surrogate_round_trips(tmp_path: Path) -> None:
    want = [_line(0, "bad \udcff byte"), _line(1, "fine")]
    _, got, warnings = _read(_write(tmp_path / "r.lwrec", want))
    assert [g.text for g in got] == [w.text for w in want] and warnings == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.text(), st.text(max_size=20), st.text(max_size=20),
                          st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))), max_size=15))
def test_any_text_round_trips(items: list[tuple[str, str, str, float | None]]) -> None:
    want = [ScoredLine(n=i + 1, source=src, arrival=float(i), text=text, session=sess, pattern=mask_line(text), loss=loss,
                       tokens=((text[:3], 0.5),))
            for i, (text, src, sess, loss) in enumerate(items)]
    with tempfile.TemporaryDirectory() as tmp:
        _, got, warnings = _read(_write(Path(tmp) / "r.lwrec", want))
    assert warnings == [] and len(got) == len(want)
    assert [(g.text, g.source, g.session, g.tokens[0][0]) for g in got] == \
        [(w.text, w.source, w.session, w.tokens[0][0]) for w in want]
    assert all((g.loss is None) == (w.loss is None) for g, w in zip(got, want))
    # Not recorded: the reader masks each line's text once, as the engine did when it scored it.
    assert [g.pattern for g in got] == [mask_line(w.text) for w in want]


# -- damage ----------------------------------------------------------------------------------
def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    want = _lines(8)
    path = _write(tmp_path / "r.lwrec", want)
    extra = _write(tmp_path / "x.lwrec", [_line(8, "the ninth")]).read_bytes().split(b"\n")[1]
    with open(path, "ab") as f:
        f.write(extra[: len(extra) // 2])
    _, got, warnings = _read(path)
    assert [g.n for g in got] == [w.n for w in want]
    assert len(warnings) == 1 and "line 10" in warnings[0] and "incomplete last line" in warnings[0]


def test_every_cut_point_yields_a_prefix_without_raising(tmp_path: Path) -> None:
    want = [_line(i, f"r{i} ✓ \x00") for i in range(6)]
    full = _write(tmp_path / "r.lwrec", want).read_bytes()
    header_end = full.index(b"\n") + 1
    cut_path = tmp_path / "cut.lwrec"
    for cut in range(header_end, len(full) + 1):
        cut_path.write_bytes(full[:cut])
        _, got, warnings = _read(cut_path)
        complete = full[header_end:cut].count(b"\n")
        assert len(got) in (complete, complete + 1), cut  # +1: cut just before a newline
        assert [g.n for g in got] == [w.n for w in want[: len(got)]]
        assert bool(warnings) == (len(got) == complete and not full[:cut].endswith(b"\n")), cut


@pytest.mark.parametrize("bad", [
    b'{"n":5,"t":1.0,"src":"-","text":"x"',                      # bad JSON
    b'{"n":"5","t":1.0,"src":"-","text":"x","s":"s","ts":null,"lvl":null,"loss":1,"a":false,"tok":[]}',  # types
    b'{"n":5,"t":1.0,"src":"-","text":"x","s":"s","ts":null,"lvl":null,"loss":1,"a":false,"tok":[["a"]]}',
    b'{"n":5,"t":1.0,"src":"-","text":"x","s":"s","ts":null,"lvl":null,"loss":1,"tok":[]}',  # missing "a"
    b'[1, 2, 3]',
    b'{"n":5,"t":1.0,"src":"-","text":"\xff\xfe","s":"s","ts":null,"lvl":null,"loss":1,"a":false,"tok":[]}',
    b"[" * 100_000,                                                # nesting deep enough to overflow json
    b"\x00\x01\x02 binary junk \x1b[2J",
], ids=["json", "type", "token", "missing", "array", "utf8", "deep", "junk"])
def test_corrupted_middle_record_is_skipped_and_named(tmp_path: Path, bad: bytes) -> None:
    want = _lines(10)
    lines = _write(tmp_path / "r.lwrec", want).read_bytes().split(b"\n")
    lines[5] = bad  # file line 6 = the fifth record
    (tmp_path / "r.lwrec").write_bytes(b"\n".join(lines))
    _, got, warnings = _read(tmp_path / "r.lwrec")
    assert len(got) == len(want) - 1 and 5 not in [g.n for g in got]
    assert len(warnings) == 1 and "line 6" in warnings[0]


def test_a_fully_damaged_file_does_not_flood_warnings(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.lwrec", _lines(2))
    with open(path, "ab") as f:
        f.write(b"garbage\n" * 500)
    _, got, warnings = _read(path)
    assert len(got) == 2 and len(warnings) <= 25
    assert "more damaged lines" in warnings[-1] and str(500 - len(warnings) + 1) in warnings[-1]


def test_file_removed_after_opening_warns_instead_of_raising(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.lwrec", _lines(3))
    warnings: list[str] = []
    _, records = read_recording(path, on_warning=warnings.append)
    path.unlink()
    assert list(records) == [] and len(warnings) == 1 and "stopped" in warnings[0]


# -- not a (readable) recording --------------------------------------------------------------
def test_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "new.lwrec"
    path.write_text(json.dumps({"format": "logwatch-recording", "version": RECORDING_VERSION + 1,
                                "created": 0, "model": None, "threshold": None, "meta": {}}) + "\n")
    with pytest.raises(RecordingError, match=rf"newer logwatch \(format version {RECORDING_VERSION + 1}\).*"
                                             rf"reads up to {RECORDING_VERSION}"):
        read_recording(path)


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server GET /v2\n", "not a logwatch recording"),
    (bytes(range(256)) * 64, "not a logwatch recording"),
    (b"\x00" * (3 << 20), "not a logwatch recording"),  # 3 MB without a newline: refused, not slurped
    (b'{"format": "something-else", "version": 1}\n', "not a logwatch recording"),
    (b'{"format": "logwatch-recording", "version": "1"}\n', "malformed"),
    (b'{"format":"logwatch-recording","vers', "only part of a recording header"),
    (gzip.compress(b""), "empty"),
    (gzip.compress(b"just a gzipped log line\n"), "not a logwatch recording"),
], ids=["empty", "log", "binary", "huge-junk", "other-format", "bad-version", "torn-header", "empty-gz", "log-gz"])
def test_not_a_recording_is_refused_clearly(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.lwrec"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=match) as info:
        read_recording(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_directory_are_recording_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="No such file"):
        read_recording(tmp_path / "nope.lwrec")
    with pytest.raises(RecordingError, match="cannot read recording"):
        read_recording(tmp_path)


# -- gzip ------------------------------------------------------------------------------------
def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    want = _lines(20)
    raw = _write(tmp_path / "r.lwrec", want).read_bytes()
    (tmp_path / "plain-name.lwrec").write_bytes(gzip.compress(raw))
    _, got, warnings = _read(tmp_path / "plain-name.lwrec")
    assert warnings == [] and len(got) == 20
    for g, w in zip(got, want):
        _assert_same(g, w)
    # Two gzip members (gzip appended to while recording) read as one stream.
    (tmp_path / "two.lwrec.gz").write_bytes(gzip.compress(raw[:500]) + gzip.compress(raw[500:]))
    assert [g.n for g in _read(tmp_path / "two.lwrec.gz")[1]] == [w.n for w in want]


def test_highly_compressed_gzip_reads_whole(tmp_path: Path) -> None:
    want = [_line(i, "a" * 16_000) for i in range(200)]  # ~3 MB from a few kB: bounded output chunks
    compressed = gzip.compress(_write(tmp_path / "r.lwrec", want).read_bytes(), 9)
    assert len(compressed) < 100_000
    (tmp_path / "r.gz").write_bytes(compressed)
    _, got, warnings = _read(tmp_path / "r.gz")
    assert warnings == [] and [g.n for g in got] == [w.n for w in want] and got[-1].text == "a" * 16_000


def test_cut_gzip_yields_a_prefix_without_raising(tmp_path: Path) -> None:
    want = [_line(i, f"line {i} " + "payload " * (i * 37 % 200)) for i in range(300)]
    compressed = gzip.compress(_write(tmp_path / "r.lwrec", want).read_bytes())
    cut_path = tmp_path / "cut.lwrec.gz"
    prefixes = []
    for frac in (0.1, 0.3, 0.5, 0.7, 0.9, 0.999):
        cut_path.write_bytes(compressed[: int(len(compressed) * frac)])
        _, got, warnings = _read(cut_path)
        assert [g.n for g in got] == [w.n for w in want[: len(got)]]
        assert any("gzip" in w and "truncated" in w for w in warnings)
        prefixes.append(len(got))
    assert 0 < prefixes[2] < len(want) and prefixes == sorted(prefixes)


def test_damaged_gzip_bytes_keep_what_came_before(tmp_path: Path) -> None:
    want = _lines(200)
    compressed = bytearray(gzip.compress(_write(tmp_path / "r.lwrec", want).read_bytes()))
    middle = len(compressed) // 2
    compressed[middle:middle + 64] = b"\xff" * 64
    (tmp_path / "bad.gz").write_bytes(bytes(compressed))
    _, got, warnings = _read(tmp_path / "bad.gz")
    assert [g.n for g in got] == [w.n for w in want[: len(got)]] and len(got) < len(want)
    assert any("gzip" in w for w in warnings)


# -- writer ----------------------------------------------------------------------------------
def test_flush_policy(tmp_path: Path) -> None:
    path = tmp_path / "r.lwrec"
    writer = RecordingWriter(path, flush_every=1000, flush_seconds=3600)
    assert _read(path)[1] == []  # the header alone is already a valid recording
    writer.write(_lines(3))
    assert _read(path)[1] == []  # buffered: fewer than flush_every, before flush_seconds
    writer.flush()
    assert [g.n for g in _read(path)[1]] == [1, 2, 3]
    writer.close()

    with RecordingWriter(path, flush_every=4, flush_seconds=3600) as writer:
        writer.write(_lines(5))
        assert len(_read(path)[1]) == 4  # flush_every reached inside one write()


def test_idle_writer_flushes_after_flush_seconds(tmp_path: Path) -> None:
    """The timer is real, so whether write() rightly held the lines back can only be judged when
    the check came within flush_seconds of the writer's start; on a machine too busy for that, the
    run proves nothing and a longer flush_seconds is tried."""
    for attempt, flush_seconds in enumerate((0.2, 1.0, 5.0, 25.0)):
        path = tmp_path / f"r{attempt}.lwrec"
        started = time.monotonic()
        with RecordingWriter(path, flush_every=1000, flush_seconds=flush_seconds) as writer:
            writer.write(_lines(2))
            held = _read(path)[1] == []
            if time.monotonic() - started >= flush_seconds:
                continue
            assert held  # too early for a flush by time: write() must have buffered them
            assert wait_for(lambda p=path: bool(_read(p)[1]), flush_seconds + 60, interval=0.02)
            assert len(_read(path)[1]) == 2  # no further write() or flush() was needed
            return
    pytest.fail("never checked within flush_seconds of the writer's start, even at 25 s")


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "r.lwrec", flush_every=1000, flush_seconds=3600)
    writer.write(_lines(2))
    writer.close()
    writer.close()
    assert writer.closed and len(_read(tmp_path / "r.lwrec")[1]) == 2
    with pytest.raises(ValueError, match="closed"):
        writer.write(_lines(1))


def test_writer_truncates_and_respects_umask(tmp_path: Path) -> None:
    path = tmp_path / "r.lwrec"
    old = os.umask(0o027)
    try:
        RecordingWriter(path).close()
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    path.write_text("old content\n" * 100)
    RecordingWriter(path).close()
    assert path.read_bytes().count(b"\n") == 1 and _read(path)[1] == []


def test_kill_9_leaves_a_readable_recording(tmp_path: Path) -> None:
    path = tmp_path / "live.lwrec"
    code = textwrap.dedent("""
        import sys
        from logwatch.core.record import RecordingWriter
        from logwatch.core.types import ModelChange, ScoredLine
        w = RecordingWriter(sys.argv[1], flush_every=5, flush_seconds=0.01)
        n = 0
        while True:
            n += 1
            w.write([ScoredLine(n=n, source="-", arrival=float(n), text="line %d \\x1b[2J \\x00 " % n + "x" * (n * 97 % 5000),
                                session="s%d" % (n % 7), pattern="", loss=n / 7, tokens=(("x", 0.5),) * (n % 20))])
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)])
    try:
        known = 0

        def written() -> bool:
            nonlocal known
            if path.exists():
                known = max(path.read_bytes().count(b"\n") - 1, 0)
            return known >= 2000

        wait_for(written, 60, interval=0.02)
        assert proc.poll() is None, "the writer died on its own"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and known >= 2000
    _, got, warnings = _read(path)
    assert len(got) >= known
    assert [g.n for g in got] == list(range(1, len(got) + 1))
    assert all(g.text.startswith(f"line {g.n} \x1b[2J \x00 ") for g in got)
    assert all("incomplete last line" in w for w in warnings)


def test_session_verdicts_make_a_version_2_recording_read_in_order(tmp_path: Path) -> None:
    from logwatch.core.types import SessionEnd

    path = tmp_path / "ends.lwrec"
    lines = [ScoredLine(n=i, source="x.log", arrival=float(i), text=f"line {i}", session="blk_1", pattern="line <NUM>",
                        loss=0.5)
             for i in range(1, 4)]
    end = SessionEnd("blk_1", n=3, lines=3, score=0.4321987, threshold=0.2, alert=True)
    with RecordingWriter(path, session_ends=True) as writer:
        writer.write(lines[:2])
        writer.write([lines[2], end])
    with path.open("a") as f:  # a damaged verdict is skipped with a warning, like a damaged line
        f.write('{"end": "blk_2", "n": "x"}\n')
    warnings: list[str] = []
    header, records = read_recording(path, on_warning=warnings.append, ends=True)
    got = list(records)
    assert header.version == 2 == RECORDING_VERSION
    assert got[:3] == lines and got[3] == SessionEnd("blk_1", 3, 3, 0.4322, 0.2, True) and len(got) == 4
    assert len(warnings) == 1 and "damaged" in warnings[0]
    # Readers that only want lines (score --replay) get exactly the lines.
    assert list(read_recording(path, on_warning=lambda _: None)[1]) == lines
