"""Headless ingest: turn files, growing files and pipes into :class:`LogLine` objects.

Log lines are untrusted input, so every reader goes through one splitter (:func:`split_lines`)
that reads fixed-size chunks and never holds more than about ``4 * MAX_LINE_CHARS`` bytes of
one line: a 1 GB line without a newline costs the same memory as a short one. Line rules
(docs/DESIGN.md §4): lines end at ``\\n``; a ``\\r`` right before it is dropped; any other control
character (NUL included) stays in the text; a last line without a newline is still a line;
invalid UTF-8 becomes U+FFFD.

Blocking reads are the enemy of a responsive UI (a blocking ``os.read`` kept a Textual app
alive 17 s after quit, docs/DESIGN.md §6), so pipes are read through ``selectors``
with a short timeout and every loop checks a stop event.
"""

from __future__ import annotations

import os
import selectors
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from .types import MAX_LINE_CHARS, LogLine

#: Bytes per read. Big enough for throughput, small enough to bound memory.
CHUNK_BYTES = 64 * 1024
#: UTF-8 needs at most 4 bytes per character (an invalid byte decodes to one U+FFFD), so this
#: many bytes always decode to more than MAX_LINE_CHARS characters; the rest of a line is dropped.
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS + 4
#: How much one FileFollower.poll() reads at most, so a huge backlog comes in bounded batches.
POLL_MAX_BYTES = 4 * 1024 * 1024
#: How long a pipe read waits before re-checking its stop event.
SELECT_TIMEOUT = 0.2

Clock = Callable[[], float]
Pair = tuple[str, bool]


class IngestError(Exception):
    """One clear, user-facing message (no traceback shown): missing file, a directory, permission denied...

    The message carries no ``logwatch:`` prefix: the CLI adds it when it prints the error.
    """


def describe_error(exc: OSError, path: str) -> str:
    """Turn an OSError into the one line a user should see."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return f"no such file: {path}"
    if isinstance(exc, IsADirectoryError):
        return f"is a directory: {path}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {path}"
    return f"cannot read {path}: {exc.strerror or exc}"


def open_source_check(path: str) -> None:
    """Raise :class:`IngestError` if PATH cannot be read; ``-`` (stdin) is always fine.

    Regular files are really opened (that sees ACLs and root's rights, unlike ``os.access``);
    FIFOs and devices are only checked with ``os.access``, because opening and closing a FIFO
    would let its writer run into a closed pipe.
    """
    if path == "-":
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        raise IngestError(describe_error(exc, path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(f"is a directory: {path}")
    if stat.S_ISREG(st.st_mode):
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError as exc:
            raise IngestError(describe_error(exc, path)) from None
    elif not os.access(path, os.R_OK):
        raise IngestError(f"permission denied: {path}")


# -- splitting -----------------------------------------------------------------------------
def _finish(raw: bytes | bytearray, over: bool, ended: bool) -> Pair:
    """Decode one line's kept bytes; ``over`` means bytes beyond the cap were dropped."""
    if over:
        raw = raw[:_MAX_LINE_BYTES]
    elif ended and raw.endswith(b"\r"):
        raw = raw[:-1]
    text = raw.decode("utf-8", "replace")
    if over or len(text) > MAX_LINE_CHARS:
        return text[:MAX_LINE_CHARS], True
    return text, False


class LineSplitter:
    """Incremental splitter: feed chunks, get complete lines; holds one capped partial line.

    The result depends only on the byte stream, never on where chunks happen to be cut.
    """

    __slots__ = ("_buf", "_over")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._over = False  # the pending line passed _MAX_LINE_BYTES; the rest is being dropped

    def _append(self, part: bytes) -> None:
        if self._over:
            return
        room = _MAX_LINE_BYTES + 1 - len(self._buf)
        self._buf += part[:room]
        if len(self._buf) > _MAX_LINE_BYTES:
            self._over = True

    def feed(self, chunk: bytes) -> list[Pair]:
        """Complete lines that ``chunk`` finishes, as ``(text, truncated)``."""
        if self._over and b"\n" not in chunk:
            return []  # the middle of an overlong line: nothing to keep
        parts = chunk.split(b"\n")
        out: list[Pair] = []
        for part in parts[:-1]:
            if self._buf or self._over:
                self._append(part)
                out.append(_finish(self._buf, self._over, ended=True))
                self._buf = bytearray()
                self._over = False
            else:
                out.append(_finish(part, len(part) > _MAX_LINE_BYTES, ended=True))
        self._append(parts[-1])
        return out

    def flush(self) -> list[Pair]:
        """The pending partial line, if any: a last line without a newline is still a line."""
        if not self._buf and not self._over:
            return []
        out = [_finish(self._buf, self._over, ended=False)]
        self._buf = bytearray()
        self._over = False
        return out


def split_lines(chunks: Iterable[bytes]) -> Iterator[tuple[str, bool]]:
    """Split a byte stream given as chunks into ``(text, truncated)`` lines (see module doc)."""
    splitter = LineSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.flush()


class NumberedLines:
    """A :class:`LineSplitter` that numbers and stamps the lines it completes, for one source."""

    __slots__ = ("_clock", "_splitter", "next_n", "source")

    def __init__(self, source: str, start_n: int, clock: Clock) -> None:
        self.source, self.next_n, self._clock = source, start_n, clock
        self._splitter = LineSplitter()

    def _stamp(self, pairs: list[Pair]) -> list[LogLine]:
        lines = stamp_lines(pairs, self.next_n, self.source, self._clock())
        self.next_n += len(lines)
        return lines

    def feed(self, chunk: bytes) -> list[LogLine]:
        return self._stamp(self._splitter.feed(chunk))

    def flush(self) -> list[LogLine]:
        return self._stamp(self._splitter.flush())


def stamp_lines(pairs: list[Pair], n: int, source: str, arrival: float) -> list[LogLine]:
    return [LogLine(n=n + i, text=t, source=source, arrival=arrival, truncated=tr) for i, (t, tr) in enumerate(pairs)]


# -- one-shot and pipe readers -------------------------------------------------------------
def read_batches(read: Callable[[], bytes], source: str, start_n: int, clock: Clock) -> Iterator[list[LogLine]]:
    """Lines of a stream whose reads may block (stdin's buffer), one batch per read."""
    lines = NumberedLines(source, start_n, clock)
    while True:
        try:
            chunk = read()
        except OSError as exc:
            raise IngestError(f"cannot read {source}: {exc.strerror or exc}") from None
        if not chunk:
            break
        yield lines.feed(chunk)
    yield lines.flush()


def fd_batches(fd: int, *, source: str, start_n: int, stop: threading.Event | None, clock: Clock,
                timeout: float = SELECT_TIMEOUT) -> Iterator[list[LogLine]]:
    """Lines of a descriptor, one batch per read; an empty batch means "idle, about to wait".

    Pipes and terminals are waited on with ``selectors`` (at most ``timeout`` s between stop
    checks). Regular files cannot be registered with epoll, but their reads never block, so
    they are simply read. At EOF or on stop the pending partial line is emitted.
    """
    lines = NumberedLines(source, start_n, clock)
    selector = selectors.DefaultSelector()
    sel: selectors.BaseSelector | None = selector
    try:
        selector.register(fd, selectors.EVENT_READ)
    except (OSError, ValueError):
        selector.close()
        sel = None  # a regular file (or a bad fd, which the read below reports)
    try:
        while stop is None or not stop.is_set():
            if sel is not None and not sel.select(0):
                yield []
                if (stop is not None and stop.is_set()) or not sel.select(timeout):
                    continue
            try:
                chunk = os.read(fd, CHUNK_BYTES)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise IngestError(f"cannot read {source}: {exc.strerror or exc}") from None
            if not chunk:
                break
            yield lines.feed(chunk)
        tail = lines.flush()
        if tail:
            yield tail
    finally:
        if sel is not None:
            sel.close()


def read_lines(path: str, *, source: str | None = None, start_n: int = 1,
               clock: Clock = time.time) -> Iterator[LogLine]:
    """Every line of PATH once (``-`` = ``sys.stdin.buffer``); errors raise :class:`IngestError`."""
    if path == "-":
        stream = sys.stdin.buffer
        read1 = getattr(stream, "read1", stream.read)  # a BufferedReader; a replaced stdin may only have read
        for batch in read_batches(lambda: read1(CHUNK_BYTES), source or "-", start_n, clock):
            yield from batch
        return
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise IngestError(describe_error(exc, path)) from None
    with f:
        for batch in fd_batches(f.fileno(), source=source or path, start_n=start_n, stop=None, clock=clock):
            yield from batch


def read_fd_lines(fd: int, *, source: str = "-", start_n: int = 1, stop: threading.Event | None = None,
                  clock: Clock = time.time) -> Iterator[LogLine]:
    """Lines of a pipe or file descriptor until EOF or until ``stop`` is set (checked every 0.2 s).

    Does not close ``fd``: the caller owns it.
    """
    for batch in fd_batches(fd, source=source, start_n=start_n, stop=stop, clock=clock):
        yield from batch
