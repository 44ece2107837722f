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
import json
import logging
import math
import os
import threading
import time
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from logwatch.core.types import ScoredLine, SessionEnd

#: The newest version this logwatch reads (and writes, when session verdicts are recorded).
RECORDING_VERSION = 2
FORMAT_NAME = "logwatch-recording"

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
#: A header bigger than this is not ours (binary junk without newlines stops here).
_MAX_HEADER_BYTES = 1 << 20
#: A record bigger than this is skipped: a 16k-char line with tokens is well under 1 MB.
_MAX_RECORD_BYTES = 32 << 20
#: Per-line warnings shown before the rest are only counted (a fully damaged file has millions).
_MAX_LINE_WARNINGS = 20

_log = logging.getLogger(__name__)

# Characters JSON leaves raw but a terminal or an editor may act on: DEL, C1 controls (0x9b is a
# CSI on some terminals), Unicode line/paragraph separators, bidi marks and overrides.
_ESCAPES = {c: f"\\u{c:04x}" for c in
            [0x7F, *range(0x80, 0xA0), 0x200E, 0x200F, *range(0x2028, 0x202F), *range(0x2066, 0x206A)]}


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
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    if not text.isascii():
        text = text.translate(_ESCAPES)  # non-ASCII can only occur inside JSON strings
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str).encode("ascii") + b"\n"


def encode_record(line: ScoredLine | SessionEnd) -> bytes:
    """The complete recording line (with its newline) for one scored line or session verdict."""
    if isinstance(line, SessionEnd):
        return _dumps({"end": line.session, "n": line.n, "lines": line.lines, "check": round(float(line.score), 4),
                       "thr": round(float(line.threshold), 6), "a": bool(line.alert)})
    return _dumps({
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
    })


class RecordingWriter:
    """Appends scored lines to a new recording; safe to call from several threads."""

    def __init__(self, path: str | Path, *, model: str | None = None, threshold: float | None = None,
                 meta: dict | None = None, flush_every: int = 256, flush_seconds: float = 0.5,
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


# -- reading ---------------------------------------------------------------------------------
def _gunzip(f: IO[bytes], data: bytes, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Decompress a gzip stream chunk by chunk, keeping everything before any damage."""
    d = zlib.decompressobj(wbits=31)
    while True:
        if not data:
            data = f.read(_CHUNK)
            if not data:
                break
        saved = d.copy()
        try:
            out = d.decompress(data, _CHUNK)  # bounded output: a gzip bomb cannot fill memory
        except zlib.error as exc:
            # zlib drops the whole call's output on an error: redo it a byte at a time to keep
            # everything up to the damaged byte.
            for i in range(len(data)):
                try:
                    out = saved.decompress(data[i:i + 1])
                except zlib.error:
                    break
                if out:
                    yield out
            warn(f"the gzip data is damaged ({exc}); the records after the damage are lost")
            return
        data = d.unconsumed_tail
        if out:
            yield out
        if d.eof:  # end of one member: another may follow (concatenated gzip files)
            data = d.unused_data + data
            while len(data) < 2 and (more := f.read(_CHUNK)):
                data += more
            if not data:
                return
            if not data.startswith(_GZIP_MAGIC):
                warn("data after the end of the gzip stream was ignored")
                return
            d = zlib.decompressobj(wbits=31)
    with contextlib.suppress(zlib.error):
        yield d.flush()
    warn("the gzip stream is truncated (compressed while still being written, or cut); "
         "the records before the cut were read")


def _chunks(path: Path, warn: Callable[[str], None]) -> Iterator[bytes]:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    with open(path, "rb") as f:
        first = f.read(_CHUNK)
        if first.startswith(_GZIP_MAGIC):
            yield from _gunzip(f, first, warn)
            return
        while first:
            yield first
            first = f.read(_CHUNK)


def _lines(chunks: Generator[bytes, None, None], max_len: int, *, stop_at_oversize: bool = False
           ) -> Generator[tuple[int, bytes | None, bool], None, None]:
    """(line number, bytes without the newline or None when too long, ended by a newline).

    ``stop_at_oversize`` ends at the first over-long line instead of reading on to its end
    (the header check must not read a whole multi-GB binary file)."""
    buf = bytearray()
    lineno = 0
    oversize = False
    try:
        for chunk in chunks:
            start = len(buf)
            buf += chunk
            begin = 0
            while (nl := buf.find(b"\n", start)) >= 0:
                lineno += 1
                yield lineno, None if oversize else bytes(buf[begin:nl]), True
                oversize = False
                begin = start = nl + 1
            del buf[:begin]
            if len(buf) > max_len:  # keep skipping until the next newline, in bounded memory
                if stop_at_oversize:
                    yield lineno + 1, None, False
                    return
                oversize = True
                buf.clear()
        if buf or oversize:
            yield lineno + 1, None if oversize else bytes(buf), False
    finally:
        chunks.close()  # closes the file now, not at garbage collection


def _header(raw: bytes | None, path: Path) -> RecordingHeader:
    not_ours = RecordingError(f"{path} is not a logwatch recording (its first line is not a recording header)")
    if raw is None:
        raise not_ours
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise not_ours from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        raise not_ours
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordingError(f"{path} has a malformed recording header (version {version!r})")
    if version > RECORDING_VERSION:
        raise RecordingError(f"{path} was written by a newer logwatch (format version {version}); "
                             f"this one reads up to {RECORDING_VERSION}, so upgrade logwatch to replay it")
    created, model, threshold, meta = (obj.get("created", 0.0), obj.get("model"), obj.get("threshold"),
                                       obj.get("meta", {}))
    if not (_is_number(created) and (model is None or isinstance(model, str))
            and (threshold is None or _is_number(threshold)) and isinstance(meta, dict)):
        raise RecordingError(f"{path} has a malformed recording header (created, model, threshold or meta)")
    return RecordingHeader(version=version, created=float(created), model=model,
                           threshold=None if threshold is None else float(threshold), meta=meta)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def decode_record(raw: bytes) -> ScoredLine | SessionEnd:
    """The scored line (or session verdict) of one recording line; ValueError says what is wrong."""
    obj = json.loads(raw.decode("utf-8"))  # UnicodeDecodeError and JSONDecodeError are ValueErrors
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "end" in obj:
        return _decode_end(obj)
    try:
        n, t, src, text, s, ts, lvl, loss, a, tok = (obj[k] for k in
                                                     ("n", "t", "src", "text", "s", "ts", "lvl", "loss", "a", "tok"))
    except KeyError as exc:
        raise ValueError(f"missing key {exc}") from None
    if not (isinstance(n, int) and not isinstance(n, bool) and _is_number(t) and isinstance(src, str)
            and isinstance(text, str) and isinstance(s, str) and isinstance(ts, (str, type(None))) and isinstance(lvl, (str, type(None)))
            and (loss is None or _is_number(loss)) and isinstance(a, bool) and isinstance(tok, list)):
        raise ValueError("a field has the wrong type")
    tokens = []
    for pair in tok:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and _is_number(pair[1])):
            raise ValueError("a token is not [piece, loss]")
        tokens.append((pair[0], float(pair[1])))
    return ScoredLine(n=n, source=src, arrival=float(t), text=text, session=s, ts=ts, level=lvl,
                      loss=None if loss is None else float(loss), alert=a, tokens=tuple(tokens))


def _decode_end(obj: dict[str, Any]) -> SessionEnd:
    try:
        session, n, lines, check, thr, a = (obj[k] for k in ("end", "n", "lines", "check", "thr", "a"))
    except KeyError as exc:
        raise ValueError(f"missing key {exc}") from None
    if not (isinstance(session, str) and isinstance(n, int) and not isinstance(n, bool) and isinstance(lines, int)
            and not isinstance(lines, bool) and _is_number(check) and _is_number(thr) and isinstance(a, bool)):
        raise ValueError("a field has the wrong type")
    return SessionEnd(session, n, lines, float(check), float(thr), a)


def read_recording(path: str | Path, *, on_warning: Callable[[str], None] | None = None, ends: bool = False
                   ) -> tuple[RecordingHeader, Iterator[Any]]:
    """Open a recording (plain or gzip): its header now, its records lazily.

    The records are :class:`ScoredLine` objects, and with ``ends`` also the :class:`SessionEnd`
    verdicts in the order they were written (without it they are left out silently).

    Raises :class:`RecordingError` here and only here (missing file, not a recording, newer
    format). The iterator never raises: damaged lines, a torn last line, truncated gzip or a read
    error are reported through ``on_warning`` (default: the ``logging`` module) and skipped.
    """
    path = Path(path)
    warn = on_warning or _log.warning
    first_pass_warnings: list[str] = []
    lines = _lines(_chunks(path, first_pass_warnings.append), _MAX_HEADER_BYTES, stop_at_oversize=True)
    try:
        first = next(lines, None)
    except OSError as exc:
        raise RecordingError(f"cannot read recording {path}: {exc.strerror or exc}") from None
    finally:
        lines.close()
    if first is None:
        detail = f" ({first_pass_warnings[0]})" if first_pass_warnings else ""
        raise RecordingError(f"{path} is empty, not a logwatch recording{detail}")
    _lineno, raw, complete = first
    if not complete and raw is not None and raw.lstrip().startswith(b'{"format":"' + FORMAT_NAME.encode()):
        try:
            json.loads(raw)  # a header cut right before its newline is still whole
        except (ValueError, RecursionError):
            raise RecordingError(f"{path} holds only part of a recording header (cut while being written)") from None
    return _header(raw, path), _records(path, warn, ends)


def _records(path: Path, warn: Callable[[str], None], ends: bool = False) -> Iterator[ScoredLine | SessionEnd]:
    """Every readable record after the header; reads the file again, so nothing stays open
    when the caller never iterates."""
    shown = skipped = 0

    def line_warning(message: str) -> None:
        nonlocal shown, skipped
        skipped += 1
        if shown < _MAX_LINE_WARNINGS:
            shown += 1
            warn(message)

    lines = _lines(_chunks(path, warn), _MAX_RECORD_BYTES)
    try:
        for lineno, raw, complete in lines:
            if lineno == 1:
                continue  # the header, checked by read_recording
            if raw is None:
                line_warning(f"line {lineno}: record longer than {_MAX_RECORD_BYTES >> 20} MB skipped")
                continue
            if not raw.strip():
                continue  # a blank line carries nothing (hand edits)
            try:
                record = decode_record(raw)
            except (ValueError, RecursionError) as exc:
                if complete:
                    line_warning(f"line {lineno}: damaged record skipped ({str(exc)[:120]})")
                else:
                    line_warning(f"line {lineno}: incomplete last line skipped "
                                 "(the recording was cut while being written)")
                continue
            if isinstance(record, SessionEnd):
                if ends:
                    yield record
                continue
            if not math.isfinite(record.arrival):
                line_warning(f"line {lineno}: damaged record skipped (arrival time is not finite)")
                continue
            yield record
    except OSError as exc:
        warn(f"reading stopped early: {exc.strerror or exc}")
    finally:
        lines.close()
    if skipped > shown:
        warn(f"{skipped - shown} more damaged lines skipped (not listed)")
