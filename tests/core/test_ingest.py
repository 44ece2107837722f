"""Ingest: line splitting rules, bounded memory, tail -F following, pipes and the reader thread."""

from __future__ import annotations

import io
import itertools
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.core import ingest
from logwatch.core.ingest import IngestError, open_source_check, read_fd_lines, read_lines, split_lines
from logwatch.core.reader import FileFollower, LineReader
from logwatch.core.types import MAX_LINE_CHARS, LogLine


def _texts(path: Path) -> list[str]:
    return [line.text for line in read_lines(str(path))]


def _wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``cond`` until true or ``timeout``; keeps thread tests robust on a loaded 2-core box."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _write(path: Path, data: bytes, mode: str = "ab") -> None:
    with open(path, mode) as f:
        f.write(data)


# -- line rules ----------------------------------------------------------------------------
def test_crlf_dropped_but_other_carriage_returns_kept(tmp_path: Path) -> None:
    p = tmp_path / "crlf.log"
    p.write_bytes(b"one\r\ntwo\r\nbare\rcr\nx\r\r\n")
    assert _texts(p) == ["one", "two", "bare\rcr", "x\r"]


def test_last_line_without_newline_is_a_line(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"first\nsecond")
    lines = list(read_lines(str(p), start_n=7, clock=lambda: 123.0))
    assert [(x.n, x.text, x.source, x.arrival, x.truncated) for x in lines] == [
        (7, "first", str(p), 123.0, False), (8, "second", str(p), 123.0, False)]


def test_empty_file_and_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    assert _texts(p) == []
    p.write_bytes(b"\n\n")
    assert _texts(p) == ["", ""]


def test_invalid_utf8_is_replaced_and_nul_kept(tmp_path: Path) -> None:
    p = tmp_path / "bad.log"
    p.write_bytes(b"caf\xc3\xa9 \xff\xfe end\nnul\x00byte\x1b[31m\n")
    assert _texts(p) == ["café \ufffd\ufffd end", "nul\x00byte\x1b[31m"]


def test_ten_megabyte_line_is_truncated_with_bounded_memory(tmp_path: Path) -> None:
    p = tmp_path / "huge.log"
    with open(p, "wb") as f:
        f.write(b"before\n")
        f.write(b"x" * (10 * 1024 * 1024) + b"\r\n")
        f.write(b"after\n")
    tracemalloc.start()
    try:
        lines = list(read_lines(str(p)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(x.n, len(x.text), x.truncated) for x in lines] == [(1, 6, False), (2, MAX_LINE_CHARS, True), (3, 5, False)]
    assert lines[1].text == "x" * MAX_LINE_CHARS
    assert lines[2].text == "after"
    assert peak < 2 * 1024 * 1024, f"reading held {peak} bytes: the long line was not streamed"


def test_gigabyte_line_from_chunks_never_held() -> None:
    chunk = b"y" * ingest.CHUNK_BYTES
    n_chunks = (1 << 30) // len(chunk)  # 1 GiB without a newline, then a short line
    gen = (b"ok\n" + chunk if i == 0 else chunk for i in range(n_chunks))
    tracemalloc.start()
    try:
        out = list(split_lines(itertools.chain(gen, [b"\nnext\n"])))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(len(t), tr) for t, tr in out] == [(2, False), (MAX_LINE_CHARS, True), (4, False)]
    assert peak < 2 * 1024 * 1024


def test_truncation_counts_characters_not_bytes() -> None:
    exact = "é" * MAX_LINE_CHARS  # 2 bytes per char: more bytes than MAX_LINE_CHARS, not too long
    assert list(split_lines([exact.encode() + b"\n"])) == [(exact, False)]
    long = "€" * (MAX_LINE_CHARS + 5000)  # 3 bytes per char, cut mid-line: no stray U+FFFD at the cut
    assert list(split_lines([long.encode()[i:i + 1000] for i in range(0, len(long.encode()), 1000)])) == [
        ("€" * MAX_LINE_CHARS, True)]


def test_read_lines_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"in1\r\nin\xff2")))
    assert [(x.n, x.text, x.source) for x in read_lines("-")] == [(1, "in1", "-"), (2, "in\ufffd2", "-")]


# -- open_source_check -----------------------------------------------------------------------
def test_missing_and_directory_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"^no such file: .*nope\.log$"):
        open_source_check(str(tmp_path / "nope.log"))
    with pytest.raises(IngestError, match=r"^is a directory: "):
        open_source_check(str(tmp_path))
    with pytest.raises(IngestError, match=r"^no such file: "):
        list(read_lines(str(tmp_path / "nope.log")))
    with pytest.raises(IngestError, match=r"^is a directory: "):
        list(read_lines(str(tmp_path)))
    open_source_check("-")  # stdin is always acceptable
    p = tmp_path / "ok.log"
    p.write_text("x\n")
    open_source_check(str(p))


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "secret.log"
    p.write_text("hidden\n")
    p.chmod(0)
    if os.geteuid() == 0:
        # root reads mode-000 files, and the check must agree with what a real read does
        open_source_check(str(p))
        assert _texts(p) == ["hidden"]
        # ... so the permission-denied path is exercised by making the opens fail as they would for a user
        def denying(real):
            def opener(path, *args, **kwargs):
                if str(path) == str(p):
                    raise PermissionError(13, "Permission denied", str(path))
                return real(path, *args, **kwargs)
            return opener

        monkeypatch.setattr(os, "open", denying(os.open))
        monkeypatch.setattr("builtins.open", denying(open))
    with pytest.raises(IngestError, match=r"^permission denied: .*secret\.log$"):
        open_source_check(str(p))
    with pytest.raises(IngestError, match=r"^permission denied: "):
        list(read_lines(str(p)))


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
        monkeypatch.setattr(ingest, "CHUNK_BYTES", 3)
        monkeypatch.setattr(ingest, "POLL_MAX_BYTES", 3)
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

    def consume() -> None:
        for batch in FileFollower(str(p), poll_interval=0.02).follow(stop):
            seen.extend(_texts_of(batch))

    t = threading.Thread(target=consume)
    t.start()
    assert _wait_for(lambda: seen == ["x"])
    _write(p, b"y\nparti")
    assert _wait_for(lambda: len(seen) >= 2)
    time.sleep(0.1)  # several more polls: the unfinished line must still be held
    assert seen == ["x", "y"]
    stop.set()
    t.join(0.5)
    assert not t.is_alive()
    assert seen == ["x", "y", "parti"]


# -- pipes -------------------------------------------------------------------------------------
def test_read_fd_lines_stop_is_prompt_while_writer_is_silent() -> None:
    r, w = os.pipe()
    stop = threading.Event()
    seen: list[LogLine] = []
    t = threading.Thread(target=lambda: seen.extend(read_fd_lines(r, source="pipe", stop=stop)))
    try:
        t.start()
        os.write(w, b"hello\r\nwor")
        assert _wait_for(lambda: len(seen) >= 1)
        time.sleep(0.3)  # the writer stays silent; the reader waits in select, holding "wor"
        assert [x.text for x in seen] == ["hello"]
        started = time.monotonic()
        stop.set()
        t.join(1.0)
        assert not t.is_alive()
        assert time.monotonic() - started < 0.5
        assert [(x.n, x.text, x.source) for x in seen] == [(1, "hello", "pipe"), (2, "wor", "pipe")]
    finally:
        os.close(r)
        os.close(w)


def test_read_fd_lines_ends_at_eof() -> None:
    r, w = os.pipe()
    os.write(w, b"a\nb\nc")
    os.close(w)
    try:
        assert [x.text for x in read_fd_lines(r)] == ["a", "b", "c"]
    finally:
        os.close(r)


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
    got: list[tuple[float, list[LogLine]]] = []
    eof = threading.Event()
    reader = LineReader(r, lambda b: got.append((time.monotonic(), b)), batch_seconds=0.05, on_eof=eof.set)
    try:
        reader.start()
        sent = time.monotonic()
        os.write(w, b"one\ntwo\n")
        assert _wait_for(lambda: bool(got))
        assert [x.text for x in got[0][1]] == ["one", "two"]
        assert got[0][0] - sent < 0.5  # delivered while the writer is idle, not when more data comes
        started = time.monotonic()
        reader.stop()
        reader.join(1)
        assert not reader.is_alive() and time.monotonic() - started < 0.5
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
        assert _wait_for(lambda: len(lines) == 1)
        _write(p, b"b\n")
        p.rename(tmp_path / "live.log.1")
        p.write_text("c\n")
        assert _wait_for(lambda: len(lines) >= 3)
        time.sleep(0.1)
        assert [(x.n, x.text) for x in lines] == [(1, "a"), (2, "b"), (3, "c")]
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


# -- property --------------------------------------------------------------------------------
_PIECES = st.sampled_from([b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xc3", b"\xa9", b"\xe2\x82\xac", b"a", b"Zz "])


def _model_split(data: bytes, limit: int) -> list[tuple[str, bool]]:
    """The line rules written the obvious way, on the whole input at once."""
    if not data:
        return []
    raws = data.split(b"\n")
    if data.endswith(b"\n"):
        raws.pop()
    ended = data.count(b"\n")
    out = []
    for i, raw in enumerate(raws):
        if i < ended and raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode("utf-8", "replace")
        out.append((text[:limit], len(text) > limit))
    return out


@pytest.mark.parametrize("limit", [MAX_LINE_CHARS, 3])
@settings(max_examples=250, deadline=None)
@given(data=st.lists(st.one_of(_PIECES, st.binary(max_size=8)), max_size=40).map(b"".join),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_split_is_independent_of_chunk_boundaries(limit: int, data: bytes, cuts: list[int]) -> None:
    """Random chunking gives the same lines as one chunk; count = newlines (+1 for an unfinished tail).

    With ``limit=3`` the line cap is shrunk so that truncation is exercised on every example.
    """
    bounds = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)])]
    assert b"".join(chunks) == data
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "MAX_LINE_CHARS", limit)
        mp.setattr(ingest, "_MAX_LINE_BYTES", 4 * limit + 4)
        split = list(split_lines(chunks))
        assert split == list(split_lines([data]))
    assert len(split) == data.count(b"\n") + (0 if data == b"" or data.endswith(b"\n") else 1)
    assert split == _model_split(data, limit)
