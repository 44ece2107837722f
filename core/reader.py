"""Sources that keep going: a file followed like ``tail -F``, and the thread that reads a source.

:class:`FileFollower` survives rotation and truncation; :class:`LineReader` reads any source
(a path, a followed path, a pipe's descriptor, stdin) on a daemon thread and hands batches of
:class:`~logwatch.core.types.LogLine` to a callback. Splitting and decoding are
:mod:`.ingest`'s, so every source yields the same lines for the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from .escape import describe
from .ingest import (
    CHUNK_BYTES,
    POLL_MAX_BYTES,
    SELECT_TIMEOUT,
    Clock,
    IngestError,
    LineSplitter,
    Pair,
    describe_error,
    fd_batches,
    read_batches,
    stamp_lines,
)
from .types import LogLine

#: Most lines one engine call scores (and a reader hands over at once). Bigger batches fill
#: the model's batches better; smaller ones bound the latency of one step.
BATCH_LINES = 512


# -- following a growing file --------------------------------------------------------------
class FileFollower:
    """``tail -F`` for one path: survives rotation, truncation, deletion and re-creation.

    Rotation is noticed when the path names another inode than the open descriptor (os.stat vs
    os.fstat); the old file is read to its end first, then the new one from its start.
    Truncation (size below our offset) restarts at 0. A missing file is waited for quietly.
    A partial last line is held until its newline arrives; when a file is left behind (rotation,
    truncation, deletion) or on :meth:`flush`, it is emitted as a line. Numbering continues.
    """

    def __init__(self, path: str, *, from_start: bool = True, poll_interval: float = 0.1, source: str | None = None,
                 start_n: int = 1, clock: Clock = time.time) -> None:
        self.path = path
        self.source = source or path
        self.poll_interval = poll_interval
        self.next_n = start_n
        self._clock = clock
        self._splitter = LineSplitter()
        self._fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._offset = 0
        self._more = False  # the last poll stopped at its byte budget, data is waiting
        self._closed = False
        self._open(at_end=not from_start)

    def _open(self, at_end: bool = False) -> None:
        """Open the path if it exists (else stay closed and wait); IngestError if unreadable."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise IngestError(describe_error(exc, self.path)) from None
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise IngestError(f"is a directory: {self.path}")
        self._fd, self._ident, self._offset = fd, (st.st_dev, st.st_ino), 0
        if at_end:
            self._offset = os.lseek(fd, 0, os.SEEK_END)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _replaced(self) -> bool:
        """True when the path is gone or now names another file than the one we hold."""
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self._ident

    def _read(self, pairs: list[Pair], budget: int) -> tuple[int, bool]:
        """Read up to ``budget`` bytes into ``pairs``; returns (bytes read, reached EOF)."""
        assert self._fd is not None
        got = 0
        while got < budget:
            chunk = os.read(self._fd, CHUNK_BYTES)
            if not chunk:
                return got, True
            got += len(chunk)
            self._offset += len(chunk)
            pairs.extend(self._splitter.feed(chunk))
        return got, False

    def poll(self) -> list[LogLine]:
        """Non-blocking: the complete lines that arrived since the last call (at most ~4 MiB of them)."""
        if self._closed:
            return []
        pairs: list[Pair] = []
        self._more = False
        try:
            if self._fd is None:
                self._open()
                if self._fd is None:
                    return []
            replaced = self._replaced()  # checked before draining, so lines written before the switch are kept
            if not replaced and os.fstat(self._fd).st_size < self._offset:
                pairs.extend(self._splitter.flush())  # truncated (copytruncate): start over
                os.lseek(self._fd, 0, os.SEEK_SET)
                self._offset = 0
            got, eof = self._read(pairs, POLL_MAX_BYTES)
            if replaced and eof:
                pairs.extend(self._splitter.flush())
                self._close_fd()
                self._open()
                if self._fd is not None:
                    _, eof = self._read(pairs, max(POLL_MAX_BYTES - got, CHUNK_BYTES))
            self._more = not eof
        except OSError as exc:
            raise IngestError(describe_error(exc, self.path)) from None
        return self._number(pairs)

    @property
    def caught_up(self) -> bool:
        """True when the last :meth:`poll` reached the end of the file (nothing is waiting)."""
        return not self._more

    @property
    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file held open, or None while waiting for it."""
        return self._ident if self._fd is not None else None

    def _number(self, pairs: list[Pair]) -> list[LogLine]:
        lines = stamp_lines(pairs, self.next_n, self.source, self._clock())
        self.next_n += len(lines)
        return lines

    def flush(self) -> list[LogLine]:
        """The pending partial line as a line (call when done following; :meth:`follow` does)."""
        return self._number(self._splitter.flush())

    def _batches(self, stop: threading.Event) -> Iterator[list[LogLine]]:
        """Poll results until stop; an empty batch means "idle, about to sleep"."""
        while not stop.is_set():
            yield self.poll()
            if not self._more:
                yield []
                stop.wait(self.poll_interval)
        tail = self.flush()
        if tail:
            yield tail

    def follow(self, stop: threading.Event) -> Iterator[list[LogLine]]:
        """Yield non-empty batches until ``stop`` is set, then the pending partial line; then close."""
        try:
            for batch in self._batches(stop):
                if batch:
                    yield batch
        finally:
            self.close()

    def close(self) -> None:
        """Release the file; a pending partial line not taken with :meth:`flush` is dropped."""
        self._closed = True
        self._close_fd()


# -- background reader ---------------------------------------------------------------------
T = TypeVar("T")


def put_unless_stopped(inbox: queue.Queue[T], item: T, halt: threading.Event) -> None:
    """Queue ``item`` for another thread, waiting while the queue is full (backpressure on the
    reading thread) but never past ``halt``, so a stopped consumer cannot hang its producer."""
    while not halt.is_set():
        try:
            inbox.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


class LineReader(threading.Thread):
    """A daemon thread that reads one source and hands batches of lines to ``deliver``.

    ``deliver`` runs on this thread with at most ``batch_lines`` lines, as soon as the source
    goes idle and at least every ``batch_seconds`` while lines are pending. Errors reach
    ``on_error`` as one line of text (and stay in :attr:`error`); nothing escapes the thread.
    ``on_eof`` runs when the source ended by itself (never when stopped, never when following a path).
    """

    def __init__(self, source: str | int, deliver: Callable[[list[LogLine]], None], *, follow: bool = False,
                 batch_lines: int = BATCH_LINES, batch_seconds: float = 0.05, on_error: Callable[[str], None] | None = None,
                 on_eof: Callable[[], None] | None = None, start_n: int = 1) -> None:
        super().__init__(name=f"logwatch-reader:{source}", daemon=True)
        self.source = source
        self.deliver = deliver
        self.follow = follow
        self.batch_lines = max(1, batch_lines)
        self.batch_seconds = batch_seconds
        self.on_error = on_error
        self.on_eof = on_eof
        self.start_n = start_n
        self.error: str | None = None
        self._halt = threading.Event()  # not "_stop": Thread uses that name internally

    def stop(self) -> None:
        """Ask the thread to end; it does within ~0.2 s unless ``deliver`` itself blocks."""
        self._halt.set()

    def _batches(self) -> Iterator[list[LogLine]]:
        tick = min(SELECT_TIMEOUT, max(self.batch_seconds, 0.01))
        src = self.source
        if src == "-":
            try:
                src = sys.stdin.fileno()
            except (AttributeError, OSError, ValueError):  # replaced stdin (click's CliRunner): read its buffer
                buf = sys.stdin.buffer
                read1 = getattr(buf, "read1", buf.read)
                yield from read_batches(lambda: read1(CHUNK_BYTES), "-", self.start_n, time.time)
                return
        if isinstance(src, int):
            yield from fd_batches(src, source="-", start_n=self.start_n, stop=self._halt, clock=time.time,
                                   timeout=tick)
            return
        try:
            st: os.stat_result | None = os.stat(src)
        except OSError:
            st = None
        if self.follow and (st is None or stat.S_ISREG(st.st_mode)):
            follower = FileFollower(src, poll_interval=min(0.1, tick), start_n=self.start_n)
            try:
                yield from follower._batches(self._halt)
            finally:
                follower.close()
            return
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise IngestError(f"is a directory: {src}")
        try:
            f = open(src, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise IngestError(describe_error(exc, src)) from None
        with f:  # a FIFO path is read like a pipe, so stop() stays prompt
            yield from fd_batches(f.fileno(), source=src, start_n=self.start_n, stop=self._halt, clock=time.time,
                                   timeout=tick)

    def run(self) -> None:
        pending: list[LogLine] = []
        since = 0.0
        try:
            for batch in self._batches():
                if self._halt.is_set():
                    return
                now = time.monotonic()
                if batch:
                    if not pending:
                        since = now
                    pending.extend(batch)
                    if len(pending) >= self.batch_lines:
                        cut = len(pending) - len(pending) % self.batch_lines
                        for i in range(0, cut, self.batch_lines):
                            self.deliver(pending[i:i + self.batch_lines])
                        pending, since = pending[cut:], now
                if pending and (not batch or now - since >= self.batch_seconds):
                    self.deliver(pending)
                    pending = []
            if self._halt.is_set():
                return
            if pending:
                self.deliver(pending)
            if self.on_eof is not None:
                self.on_eof()
        except IngestError as exc:
            self._report(str(exc))
        except Exception as exc:  # noqa: BLE001 - the thread must never die with a traceback
            self._report(f"error reading {self.source}: {describe(exc)}")

    def _report(self, message: str) -> None:
        self.error = message
        if self.on_error is not None:
            with contextlib.suppress(Exception):  # a failing callback must not kill the reader
                self.on_error(message)

