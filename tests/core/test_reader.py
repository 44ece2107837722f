"""Following files like ``tail -F`` and reading any source on a thread (core/reader.py).

Thread tests wait for events (lines, idle polls) with a generous deadline, never for a fixed
time: a loaded 2-core CI machine may be many times slower than a laptop.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path

import pytest
from helpers import wait_for

from logwatch.core import reader as reader_module
from logwatch.core.reader import FileFollower, LineReader
from logwatch.core.types import LogLine


def _write(path: Path, data: bytes, mode: str = "ab") -> None:
    with open(path, mode) as f:
        f.write(data)


# -- FileFollower ----------------------------------------------------------------------------
def _texts_of(lines: list[LogLine]) -> list[str]:
    return [x.text for x in lines]


def test_follow_appended_lines_and_numbering(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"a\nb\n")
    f = FileFollower(str(p), start_n=10)
    assert [(x.n, x.text) for x in f.poll()] == [(10, "a"), (11, "b")]
    assert f.poll() == []
    _write(p, b"c\nd\n")
    assert [(x.n, x.text) for x in f.poll()] == [(12, "c"), (13, "d")]
    f.close()


def test_from_end_skips_existing_content(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"old1\nold2\n")
    f = FileFollower(str(p), from_start=False)
    assert f.poll() == []
    _write(p, b"new\n")
    assert _texts_of(f.poll()) == ["new"]
    f.close()


def test_partial_line_held_until_newline(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"abc")
    f = FileFollower(str(p))
    assert f.poll() == []
    _write(p, b"def\nghi")
    assert _texts_of(f.poll()) == ["abcdef"]
    assert f.poll() == []
    assert [(x.n, x.text) for x in f.flush()] == [(2, "ghi")]
    f.close()


@pytest.mark.parametrize("tiny_reads", [False, True])
def test_rotation_by_rename_loses_and_duplicates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tiny_reads: bool) -> None:
    if tiny_reads:  # a backlog bigger than one poll's budget must still be finished before switching files
        monkeypatch.setattr(reader_module, "CHUNK_BYTES", 3)
        monkeypatch.setattr(reader_module, "POLL_MAX_BYTES", 3)
    p = tmp_path / "app.log"
    p.write_bytes(b"1\n2\n")
    f = FileFollower(str(p))
    got = f.poll()
    _write(p, b"".join(b"%d\n" % i for i in range(3, 20)) + b"20")  # not yet read; last line unfinished
    p.rename(tmp_path / "app.log.1")
    p.write_bytes(b"21\n22\n")
    for _ in range(40):
        got += f.poll()
    _write(p, b"23\n")
    for _ in range(3):
        got += f.poll()
    assert [(x.n, x.text) for x in got] == [(i, str(i)) for i in range(1, 24)]
    f.close()


def test_copytruncate_restarts_from_zero(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"line one\nline two\n")
    f = FileFollower(str(p))
    assert _texts_of(f.poll()) == ["line one", "line two"]
    (tmp_path / "app.log.1").write_bytes(p.read_bytes())
    with open(p, "r+b") as h:
        h.truncate(0)
    _write(p, b"fresh\n")
    assert [(x.n, x.text) for x in f.poll()] == [(3, "fresh")]
    f.close()


def test_delete_and_recreate_waits_quietly(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    f = FileFollower(str(p))  # does not exist yet: no error, just nothing
    assert f.poll() == []
    p.write_bytes(b"a\n")
    assert _texts_of(f.poll()) == ["a"]
    p.unlink()
    assert f.poll() == [] and f.poll() == []
    p.write_bytes(b"b\nc\n")
    assert [(x.n, x.text) for x in f.poll()] == [(2, "b"), (3, "c")]
    f.close()


def test_follow_yields_until_stop_then_pending_partial(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"x\n")
    stop = threading.Event()
    seen: list[str] = []
    polls = [0]

    class Counted(FileFollower):
        def poll(self) -> list[LogLine]:
            polls[0] += 1
            return super().poll()

    def consume() -> None:
        for batch in Counted(str(p), poll_interval=0.02).follow(stop):
            seen.extend(_texts_of(batch))

    t = threading.Thread(target=consume)
    t.start()
    assert wait_for(lambda: seen == ["x"])
    _write(p, b"y\nparti")
    assert wait_for(lambda: len(seen) >= 2)
    after = polls[0]
    assert wait_for(lambda: polls[0] >= after + 3)  # three more polls: the unfinished line is still held
    assert seen == ["x", "y"]
    stop.set()
    t.join(5)
    assert not t.is_alive()
    assert seen == ["x", "y", "parti"]


# -- LineReader --------------------------------------------------------------------------------
def test_line_reader_delivers_big_file_in_order(tmp_path: Path) -> None:
    p = tmp_path / "big.log"
    p.write_text("".join(f"line {i}\n" for i in range(20_000)))
    batches: list[list[LogLine]] = []
    eof = threading.Event()
    reader = LineReader(str(p), batches.append, batch_lines=300, on_eof=eof.set, start_n=5)
    reader.start()
    assert eof.wait(10)
    reader.join(1)
    assert not reader.is_alive() and reader.error is None
    assert batches and max(len(b) for b in batches) <= 300
    flat = [x for b in batches for x in b]
    assert [x.text for x in flat] == [f"line {i}" for i in range(20_000)]
    assert [x.n for x in flat] == list(range(5, 20_005))


def test_line_reader_pipe_is_timely_and_stops_promptly() -> None:
    r, w = os.pipe()
    got: list[list[LogLine]] = []
    eof = threading.Event()
    reader = LineReader(r, got.append, batch_seconds=0.05, on_eof=eof.set)
    try:
        reader.start()
        os.write(w, b"one\ntwo\n")
        # Delivered while the writer stays idle and the pipe open: not held for more data or EOF.
        assert wait_for(lambda: bool(got))
        assert [x.text for x in got[0]] == ["one", "two"]
        reader.stop()  # the writer is still silent: the reader is waiting in select
        reader.join(5)
        assert not reader.is_alive()
        assert not eof.is_set()  # stopped, not ended
    finally:
        os.close(r)
        os.close(w)


def test_line_reader_follows_a_file(tmp_path: Path) -> None:
    p = tmp_path / "live.log"
    p.write_text("a\n")
    lines: list[LogLine] = []
    reader = LineReader(str(p), lines.extend, follow=True)
    reader.start()
    try:
        assert wait_for(lambda: len(lines) == 1)
        _write(p, b"b\n")
        p.rename(tmp_path / "live.log.1")
        p.write_text("c\n")
        assert wait_for(lambda: len(lines) >= 3)
        _write(p, b"d\n")  # a sentinel: any line read twice would come before it
        assert wait_for(lambda: bool(lines) and lines[-1].text == "d")
        assert [(x.n, x.text) for x in lines] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    finally:
        reader.stop()
        reader.join(1)
    assert not reader.is_alive()


def test_line_reader_reports_errors_as_text(tmp_path: Path) -> None:
    errors: list[str] = []
    eof = threading.Event()
    reader = LineReader(str(tmp_path / "gone.log"), lambda b: None, on_error=errors.append, on_eof=eof.set)
    reader.start()
    reader.join(2)
    assert errors == [f"no such file: {tmp_path / 'gone.log'}"] and not eof.is_set()

    p = tmp_path / "x.log"
    p.write_text("a\n")

    def broken(batch: list[LogLine]) -> None:
        raise RuntimeError("consumer bug")

    reader = LineReader(str(p), broken, on_error=errors.append)
    reader.start()
    reader.join(2)
    assert not reader.is_alive() and "consumer bug" in errors[-1]


def test_line_reader_reads_a_replaced_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"p\nq\n")))  # as under click's CliRunner
    lines: list[LogLine] = []
    eof = threading.Event()
    reader = LineReader("-", lines.extend, on_eof=eof.set)
    reader.start()
    assert eof.wait(2)
    assert [x.text for x in lines] == ["p", "q"]
