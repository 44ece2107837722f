"""One timeline from several logs: their lines interleaved by the lines' own timestamps.

Each log is already in its own order, and that order is kept whatever its timestamps say (a
clock step backwards inside one file must not reorder it). Across logs, a line goes before
another when its timestamp is earlier; a line without a timestamp (a traceback frame, a
continuation) takes the timestamp of the last stamped line of its file, so it stays right
after that line. Ties go to the log given first.

Timestamps are compared as UTC seconds. A stamp with an offset or ``Z`` is converted; a naive
one (most logs) is taken as UTC too, which is right when the logs come from hosts with one
clock setting and only shifts a naive log against an offset-aware one otherwise. Syslog's
year-less stamps get the current year.

Pure functions over iterators: no threads, no files; :mod:`.merge` drives them.
"""

from __future__ import annotations

import heapq
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from operator import itemgetter

from .parse import parse_line
from .types import LogLine

#: Timestamp shapes that :func:`datetime.fromisoformat` does not read, tried in this order.
_OTHER_FORMATS = ("%y%m%d %H%M%S", "%Y-%m-%d-%H.%M.%S.%f", "%Y-%m-%d %H:%M:%S,%f")
_SYSLOG_STAMP = re.compile(r"^[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}$")
_EPOCH = re.compile(r"^\d{9,11}(?:\.\d+)?$")
#: Before every stamped line of its file: a log's head that carries no timestamp at all.
NO_TIME = -math.inf


def timestamp_key(ts: str | None, *, year: int | None = None) -> float | None:
    """UTC seconds for a timestamp as a log wrote it, or None when it is not one we can read."""
    if not ts:
        return None
    text = " ".join(ts.split())
    if _EPOCH.match(text):
        return float(text)
    stamp: datetime | None = None
    try:
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        if _SYSLOG_STAMP.match(text):
            text = f"{year or datetime.now().year} {text}"
            formats: Sequence[str] = ("%Y %b %d %H:%M:%S",)
        else:
            formats = _OTHER_FORMATS
        for fmt in formats:
            try:
                stamp = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


#: The commonest header, an ISO-like stamp first or after one word (Loghub's log-file prefix),
#: read without parsing the whole line; anything else goes through :func:`parse_line`.
_LEADING_STAMP = re.compile(r"(?:\S+ +)?(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)[ \]]")


def line_key(text: str) -> float | None:
    """The timeline position of a raw line: its timestamp, or None."""
    match = _LEADING_STAMP.match(text)
    if match:
        key = timestamp_key(match.group(1))
        if key is not None:
            return key
    return timestamp_key(parse_line(text).ts)


def keyed(lines: Iterable[LogLine]) -> Iterator[tuple[float, LogLine]]:
    """Each line with its position; an unstamped line inherits the last stamped line's."""
    last = NO_TIME
    for line in lines:
        key = line_key(line.text)
        if key is not None:
            last = key
        yield last, line


def merge_by_time(logs: Sequence[Iterable[LogLine]]) -> Iterator[LogLine]:
    """The lines of several logs as one timeline (see the module's docstring); lazy, so only
    one pending line per log is held, however long the logs are."""
    if len(logs) == 1:
        yield from logs[0]
        return
    for _key, line in heapq.merge(*(keyed(log) for log in logs), key=itemgetter(0)):
        yield line


def source_tag(source: str) -> str:
    """A short name for a source, for a narrow column: its file name without directory or ``.log``."""
    if source == "-":
        return "stdin"
    base = os.path.basename(source.rstrip("/")) or source
    for suffix in (".log", ".txt"):
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base
