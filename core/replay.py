"""Reading recordings back (``--replay``): forgiving where data is damaged, strict where it is not ours.

The format is :mod:`.record`'s. Damaged or torn records are skipped with a warning naming the
line, truncated gzip yields what decodes, and only a missing file, a file that is not a
recording, or a newer format raise :class:`~logwatch.core.record.RecordingError`, always before
the first record is returned.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import zlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO, Any

from .jsonl import is_finite_number
from .masking import mask_line
from .record import FORMAT_NAME, RECORDING_VERSION, RecordingError, RecordingHeader
from .types import ModelChange, ScoredLine, SessionEnd

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
#: A header bigger than this is not ours (binary junk without newlines stops here).
_MAX_HEADER_BYTES = 1 << 20
#: A record bigger than this is skipped: a 16k-char line with tokens is well under 1 MB.
_MAX_RECORD_BYTES = 32 << 20
#: Per-line warnings shown before the rest are only counted (a fully damaged file has millions).
_MAX_LINE_WARNINGS = 20

_log = logging.getLogger(__name__)


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


def _chunks(path: Path, warn: Callable[[str], None]) -> Generator[bytes, None, None]:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    with open(path, "rb") as f:
        first = f.read(_CHUNK)
        if first.startswith(_GZIP_MAGIC):
            yield from _gunzip(f, first, warn)
            return
        while first:
            yield first
            first = f.read(_CHUNK)


_NEWLINES = re.compile(rb"\n+")


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
                if nl == begin and lineno and not oversize:
                    # A run of blank lines carries nothing: skipped at C speed (a small gzip of
                    # newlines expands to millions of them), only counted.
                    run = _NEWLINES.match(buf, begin)
                    assert run is not None
                    lineno += run.end() - begin
                    begin = start = run.end()
                    continue
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
    if not (is_finite_number(created) and (model is None or isinstance(model, str))
            and (threshold is None or is_finite_number(threshold)) and isinstance(meta, dict)):
        raise RecordingError(f"{path} has a malformed recording header (created, model, threshold or meta)")
    return RecordingHeader(version=version, created=float(created), model=model,
                           threshold=None if threshold is None else float(threshold), meta=meta)


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
    if not (isinstance(n, int) and not isinstance(n, bool) and is_finite_number(t) and isinstance(src, str)
            and isinstance(text, str) and isinstance(s, str) and isinstance(ts, (str, type(None)))
            and isinstance(lvl, (str, type(None)))
            and (loss is None or is_finite_number(loss)) and isinstance(a, bool) and isinstance(tok, list)):
        raise ValueError("a field has the wrong type")
    tokens = []
    for pair in tok:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and is_finite_number(pair[1])):
            raise ValueError("a token is not [piece, loss]")
        tokens.append((pair[0], float(pair[1])))
    # A recording stores no pattern (its format predates it): masked here, once per record, so
    # what reads a replayed line (alert groups, marks) has it as a scored line has it.
    return ScoredLine(n=n, source=src, arrival=float(t), text=text, session=s, pattern=mask_line(text), ts=ts,
                      level=lvl, loss=None if loss is None else float(loss), alert=a, tokens=tuple(tokens), why=_why(obj),
                      model=_model(obj))


def _model(obj: dict[str, Any]) -> ModelChange | None:
    """The ``model`` note of a line, or None (absent, or not one we wrote: a note is not worth a warning)."""
    note = obj.get("model")
    if not isinstance(note, dict):
        return None
    label, thr, learned_from = note.get("label"), note.get("thr"), note.get("from")
    if not (isinstance(label, str) and (thr is None or is_finite_number(thr))
            and isinstance(learned_from, int) and not isinstance(learned_from, bool)):
        return None
    return ModelChange(label[:200], None if thr is None else float(thr), max(0, learned_from))


def _why(obj: dict[str, Any]) -> tuple[str, ...]:
    """The alert's reasons; absent (an older recording) or malformed, none."""
    why = obj.get("why")
    if not isinstance(why, list) or not all(isinstance(x, str) for x in why):
        return ()
    return tuple(why[:8])


def _decode_end(obj: dict[str, Any]) -> SessionEnd:
    try:
        session, n, lines, check, thr, a = (obj[k] for k in ("end", "n", "lines", "check", "thr", "a"))
    except KeyError as exc:
        raise ValueError(f"missing key {exc}") from None
    if not (isinstance(session, str) and isinstance(n, int) and not isinstance(n, bool) and isinstance(lines, int)
            and not isinstance(lines, bool) and is_finite_number(check) and is_finite_number(thr) and isinstance(a, bool)):
        raise ValueError("a field has the wrong type")
    return SessionEnd(session, n, lines, float(check), float(thr), a, _why(obj))


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
