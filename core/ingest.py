"""Headless ingest: turn files, growing files and pipes into :class:`LogLine` objects.

Log lines are untrusted input, so every reader goes through one splitter (:func:`split_lines`)
that reads fixed-size chunks and never holds more than about ``4 * MAX_LINE_CHARS`` bytes of
one line: a 1 GB line without a newline costs the same memory as a short one. Line rules
(DESIGN.md §4): lines end at ``\\n``; a ``\\r`` right before it is dropped; any other control
character (NUL included) stays in the text; a last line without a newline is still a line;
invalid UTF-8 becomes U+FFFD.

Blocking reads are the enemy of a responsive UI (a blocking ``os.read`` kept a Textual app
alive 17 s after quit, notes/operator_ux.md §5.4), so pipes are read through ``selectors``
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
_POLL_MAX_BYTES = 4 * 1024 * 1024
#: How long a pipe read waits before re-checking its stop event.
_SELECT_TIMEOUT = 0.2

Clock = Callable[[], float]
Pair = tuple[str, bool]


class IngestError(Exception):
    """One clear, user-facing message (no traceback shown): missing file, a directory, permission denied...

    The message carries no ``logwatch:`` prefix: the CLI adds it when it prints the error.
    """


def _describe(exc: OSError, path: str) -> str:
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
        raise IngestError(_describe(exc, path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(f"is a directory: {path}")
    if stat.S_ISREG(st.st_mode):
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError as exc:
            raise IngestError(_describe(exc, path)) from None
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


class _LineSplitter:
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
    splitter = _LineSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.flush()


def _stamp(pairs: list[Pair], n: int, source: str, arrival: float) -> list[LogLine]:
    return [LogLine(n=n + i, text=t, source=source, arrival=arrival, truncated=tr) for i, (t, tr) in enumerate(pairs)]


# -- one-shot and pipe readers -------------------------------------------------------------
def _read_batches(read: Callable[[], bytes], source: str, start_n: int, clock: Clock) -> Iterator[list[LogLine]]:
    """Lines of a stream whose reads may block (stdin's buffer), one batch per read."""
    splitter, n = _LineSplitter(), start_n
    while True:
        try:
            chunk = read()
        except OSError as exc:
            raise IngestError(f"cannot read {source}: {exc.strerror or exc}") from None
        if not chunk:
            break
        batch = _stamp(splitter.feed(chunk), n, source, clock())
        n += len(batch)
        yield batch
    yield _stamp(splitter.flush(), n, source, clock())


def _fd_batches(fd: int, *, source: str, start_n: int, stop: threading.Event | None, clock: Clock,
                timeout: float = _SELECT_TIMEOUT) -> Iterator[list[LogLine]]:
    """Lines of a descriptor, one batch per read; an empty batch means "idle, about to wait".

    Pipes and terminals are waited on with ``selectors`` (at most ``timeout`` s between stop
    checks). Regular files cannot be registered with epoll, but their reads never block, so
    they are simply read. At EOF or on stop the pending partial line is emitted.
    """
    splitter, n = _LineSplitter(), start_n
    sel: selectors.BaseSelector | None = selectors.DefaultSelector()
    try:
        sel.register(fd, selectors.EVENT_READ)
    except (OSError, ValueError):
        sel.close()
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
            batch = _stamp(splitter.feed(chunk), n, source, clock())
            n += len(batch)
            yield batch
        tail = _stamp(splitter.flush(), n, source, clock())
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
        for batch in _read_batches(lambda: stream.read1(CHUNK_BYTES), source or "-", start_n, clock):
            yield from batch
        return
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise IngestError(_describe(exc, path)) from None
    with f:
        for batch in _fd_batches(f.fileno(), source=source or path, start_n=start_n, stop=None, clock=clock):
            yield from batch


def read_fd_lines(fd: int, *, source: str = "-", start_n: int = 1, stop: threading.Event | None = None,
                  clock: Clock = time.time) -> Iterator[LogLine]:
    """Lines of a pipe or file descriptor until EOF or until ``stop`` is set (checked every 0.2 s).

    Does not close ``fd``: the caller owns it.
    """
    for batch in _fd_batches(fd, source=source, start_n=start_n, stop=stop, clock=clock):
        yield from batch


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
        self._splitter = _LineSplitter()
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
            raise IngestError(_describe(exc, self.path)) from None
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
            got, eof = self._read(pairs, _POLL_MAX_BYTES)
            if replaced and eof:
                pairs.extend(self._splitter.flush())
                self._close_fd()
                self._open()
                if self._fd is not None:
                    _, eof = self._read(pairs, max(_POLL_MAX_BYTES - got, CHUNK_BYTES))
            self._more = not eof
        except OSError as exc:
            raise IngestError(_describe(exc, self.path)) from None
        return self._number(pairs)

    def _number(self, pairs: list[Pair]) -> list[LogLine]:
        lines = _stamp(pairs, self.next_n, self.source, self._clock())
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
class LineReader(threading.Thread):
    """A daemon thread that reads one source and hands batches of lines to ``deliver``.

    ``deliver`` runs on this thread with at most ``batch_lines`` lines, as soon as the source
    goes idle and at least every ``batch_seconds`` while lines are pending. Errors reach
    ``on_error`` as one line of text (and stay in :attr:`error`); nothing escapes the thread.
    ``on_eof`` runs when the source ended by itself (never when stopped, never when following a path).
    """

    def __init__(self, source: str | int, deliver: Callable[[list[LogLine]], None], *, follow: bool = False,
                 batch_lines: int = 512, batch_seconds: float = 0.05, on_error: Callable[[str], None] | None = None,
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
        tick = min(_SELECT_TIMEOUT, max(self.batch_seconds, 0.01))
        src = self.source
        if src == "-":
            try:
                src = sys.stdin.fileno()
            except (AttributeError, OSError, ValueError):  # replaced stdin (click's CliRunner): read its buffer
                buf = sys.stdin.buffer
                yield from _read_batches(lambda: buf.read1(CHUNK_BYTES), "-", self.start_n, time.time)
                return
        if isinstance(src, int):
            yield from _fd_batches(src, source="-", start_n=self.start_n, stop=self._halt, clock=time.time,
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
            raise IngestError(_describe(exc, src)) from None
        with f:  # a FIFO path is read like a pipe, so stop() stays prompt
            yield from _fd_batches(f.fileno(), source=src, start_n=self.start_n, stop=self._halt, clock=time.time,
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
            self._report(f"error reading {self.source}: {type(exc).__name__}: {exc}")

    def _report(self, message: str) -> None:
        self.error = message
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # noqa: BLE001
                pass

