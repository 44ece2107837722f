"""Recording files (``.lwrec``): a live session saved so it can be replayed after an incident.

A recording is read when something already went wrong, so it must survive the writer being
killed, the disk filling, the file being gzipped while still written, and hand edits. The format
is deliberately boring: UTF-8 text, one JSON object per line (JSON lines), append-only.

Line 1 is the header::

    {"format": "logwatch-recording", "version": 1, "created": 1716000000.0,
     "model": "nova-small" | null, "threshold": 3.2 | null, "meta": {...}}

Every further line is one :class:`~logwatch.core.types.ScoredLine`, with short keys (a recording
holds millions of lines); every key is always written and a v1 reader requires all of them:

- ``n``    ``n``, int, the 1-based arrival number
- ``t``    ``arrival``, number, unix time rounded to microseconds
- ``src``  ``source``, string, a file path or ``-``
- ``text`` ``text``, string, the raw line (any character; JSON escapes it)
- ``s``    ``session``, string, the session key
- ``ts``   ``ts``, string or null
- ``lvl``  ``level``, string or null
- ``loss`` ``loss``, number rounded to 4 decimals, or null
- ``a``    ``alert``, bool
- ``tok``  ``tokens``, a list of ``[piece, loss]`` with the loss rounded to 3 decimals
- ``why``  ``why``, the alert's reasons (strings); added 2026-12-01, absent in older recordings
  (read as none), ignored by older readers
- ``model`` ``model``, only on the first line a new model scored (the log was learned, or
  learned again): ``{"label": str, "thr": number or null, "from": int}``, so a replay tells
  where the alerts' threshold changed; added 2026-12-01, ignored by older readers

Version 2 adds one record kind, a session's verdict when it ended (:class:`~logwatch.core.types.
SessionEnd`, only with ``--session-ends``): ``end`` (session key), ``n`` (its last line), ``lines``,
``check`` (score, 4 decimals), ``thr`` (threshold) and ``a`` (alert). A recording is written as
version 2 only when it may hold such records, so every other recording stays version 1 and an
older logwatch still replays it; a v1 reader refuses a v2 file with "upgrade logwatch" rather
than dropping its verdicts. Migration: none needed, v1 files are read as before.

Unknown keys are ignored, so a reader tolerates additive changes; anything else bumps
:data:`RECORDING_VERSION`. Control characters (C0 by JSON itself; DEL, C1, line separators and
bidi overrides by us) are written as ``\\uXXXX`` escapes, so ``cat`` or ``grep`` on a recording
can never drive the terminal, while ordinary non-ASCII text stays readable. A string that cannot
be UTF-8 (a lone surrogate) is written ASCII-escaped, so even that round-trips exactly.

Durability: records are encoded whole and kept in a buffer that is written with one ``write()``
of complete lines, so a ``kill -9`` can only lose unflushed records or tear the final line. The
buffer is flushed every ``flush_every`` records, on a ``write()`` at least ``flush_seconds`` after
the last flush, and by a timer so an idle stream never keeps records unwritten for longer than
``flush_seconds``.

Reading is forgiving where data is damaged and strict where the file is not ours: damaged or torn
records are skipped with a warning naming the line, truncated gzip yields what decodes, and only a
missing file, a file that is not a recording, or a newer format raise :class:`RecordingError`,
always before the first record is returned.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from logwatch.core.jsonl import dumps
from logwatch.core.types import ScoredLine, SessionEnd

#: The newest version this logwatch reads (and writes, when session verdicts are recorded).
RECORDING_VERSION = 2
FORMAT_NAME = "logwatch-recording"



class RecordingError(Exception):
    """A recording that cannot be read at all; the one-line message is shown to the user as is."""


@dataclass(frozen=True)
class RecordingHeader:
    """What the first line of a recording says about the session it holds."""

    version: int
    created: float
    model: str | None
    threshold: float | None
    meta: dict[str, object] = field(default_factory=dict)


# -- writing ---------------------------------------------------------------------------------
def _dumps(obj: dict[str, Any]) -> bytes:
    """One JSON line: readable UTF-8, terminal-safe, exact even for lone surrogates."""
    return dumps(obj, compact=True).encode("utf-8") + b"\n"


def encode_record(line: ScoredLine | SessionEnd) -> bytes:
    """The complete recording line (with its newline) for one scored line or session verdict."""
    if isinstance(line, SessionEnd):
        return _dumps({"end": line.session, "n": line.n, "lines": line.lines, "check": round(float(line.score), 4),
                       "thr": round(float(line.threshold), 6), "a": bool(line.alert), "why": list(line.why)})
    record: dict[str, Any] = {
        "n": line.n,
        "t": round(float(line.arrival), 6),
        "src": line.source,
        "text": line.text,
        "s": line.session,
        "ts": line.ts,
        "lvl": line.level,
        "loss": None if line.loss is None else round(float(line.loss), 4),
        "a": bool(line.alert),
        "tok": [[piece, round(float(loss), 3)] for piece, loss in line.tokens],
        "why": list(line.why),
    }
    if line.model is not None:
        record["model"] = {"label": line.model.label, "from": line.model.learned_from,
                           "thr": None if line.model.threshold is None else round(float(line.model.threshold), 6)}
    return _dumps(record)


class GuardedRecording:
    """A recording whose failure (a full disk, a removed mount) ends the recording, not the stream.

    The first OSError is told once through ``on_error`` (which may raise, as ``score`` does, to
    stop there); later writes are dropped, and closing never raises.
    """

    def __init__(self, writer: RecordingWriter, on_error: Callable[[str], None]) -> None:
        self.writer = writer
        self.on_error = on_error
        self.failed = False

    def write(self, lines: Iterable[ScoredLine | SessionEnd]) -> None:
        if self.failed:
            return
        try:
            self.writer.write(lines)
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        try:
            self.writer.close()
        except OSError as exc:
            if not self.failed:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failed = True
        with contextlib.suppress(OSError):  # what did not fit is lost either way; the file keeps whole records
            self.writer.close()
        self.on_error(f"recording stopped: cannot write {self.writer.path}: {exc.strerror or exc}")


class RecordingWriter:
    """Appends scored lines to a new recording; safe to call from several threads."""

    def __init__(self, path: str | Path, *, model: str | None = None, threshold: float | None = None,
                 meta: dict[str, Any] | None = None, flush_every: int = 256, flush_seconds: float = 0.5,
                 fsync: bool = False, session_ends: bool = False) -> None:
        """Create (or truncate) ``path`` and write the header at once, so even an empty
        session leaves a valid recording. Raises OSError when the file cannot be created.

        ``session_ends``: session verdicts will be written too (a version 2 recording)."""
        if flush_every < 1:
            raise ValueError(f"flush_every must be at least 1, not {flush_every}")
        if not flush_seconds >= 0:
            raise ValueError(f"flush_seconds must be >= 0, not {flush_seconds}")
        self.path = Path(path)
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.fsync = fsync
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._pending = 0
        self._timer: threading.Timer | None = None
        self._error: OSError | None = None
        # Unbuffered: our own buffer decides when bytes reach the OS, always as whole lines.
        self._file: IO[bytes] | None = open(self.path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        header = {"format": FORMAT_NAME, "version": 2 if session_ends else 1, "created": time.time(),
                  "model": model, "threshold": threshold, "meta": dict(meta or {})}
        self._buf += _dumps(header)
        self._last_flush = time.monotonic()
        self.flush()

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, lines: Iterable[ScoredLine | SessionEnd]) -> None:
        """Append one record per line; flushes as the policy says (see the module docstring)."""
        with self._lock:
            self._check_usable()
            for line in lines:
                self._buf += encode_record(line)  # encoded whole first: the buffer only holds full lines
                self._pending += 1
                if self._pending >= self.flush_every:
                    self._flush_locked()
            if self._pending and time.monotonic() - self._last_flush >= self.flush_seconds:
                self._flush_locked()
            elif self._pending and self._timer is None:
                self._timer = threading.Timer(self.flush_seconds, self._on_timer)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Hand every buffered record to the OS (and to the disk when ``fsync`` was asked)."""
        with self._lock:
            self._check_usable()
            self._flush_locked()

    def close(self) -> None:
        """Flush and close; calling it again does nothing."""
        with self._lock:
            if self._file is None:
                return
            try:
                self._flush_locked()  # also retries what a failed background flush left
            finally:
                self._cancel_timer()
                self._file.close()
                self._file = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_usable(self) -> None:
        if self._file is None:
            raise ValueError(f"recording {self.path} is closed")
        if self._error is not None:  # a background flush failed (disk full…): say so once, then retry
            error, self._error = self._error, None
            raise error

    def _flush_locked(self) -> None:
        self._cancel_timer()
        assert self._file is not None
        view = memoryview(self._buf)
        done = 0
        try:
            while done < len(view):  # normally one write() of complete lines
                done += self._file.write(view[done:]) or 0
        finally:
            view.release()
            del self._buf[:done]  # on an error keep the rest: a retry completes the torn line
        if done and self.fsync:
            os.fsync(self._file.fileno())
        self._pending = 0
        self._last_flush = time.monotonic()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        with self._lock:
            if self._timer is threading.current_thread():  # not a newer timer started meanwhile
                self._timer = None
            if self._file is None or self._error is not None or not self._buf:
                return
            try:
                self._flush_locked()
            except OSError as exc:
                self._error = exc
