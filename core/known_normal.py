"""Lines the operator confirmed as normal: they are still scored, but never alert again.

Why it exists: a model trained on last month's logs meets routine operations it never saw (an
HDFS block re-replicated after a datanode died, a nova audit line with a rare field). Every such
line alerts every time, and an operator who has looked once should not be paged again — the
same loop as logreduce/logjuicer's ``ignore_patterns``, but learned from one key press instead
of a hand-written regex.

What is stored is the *raw* example line, and the pattern is its masked text computed on load.
So a masking change (``MASK_VERSION``) re-derives every pattern instead of silently keeping
stale ones, and the file stays readable to a person: it says what was marked, when, and in
which session. The set of patterns is replaced as a whole on every change (copy on write), so
the pipeline thread can test membership while the UI thread adds a mark.

Each mark's pattern is masked once, when the mark is read or made (:attr:`Mark.pattern`). A
line that was scored already carries its pattern (:attr:`~logwatch.core.types.ScoredLine.pattern`),
so the checks on a scored line take that pattern (:meth:`KnownNormal.is_known_pattern`,
:meth:`~KnownNormal.unmark_pattern`, ...) and mask nothing; only raw text (an example being
marked, a line no engine scored) is masked here.

File: JSON, ``{"format": "logwatch-known-normal", "version": 1, "lines": [{"text", "session",
"marked"}]}``, written atomically (temp file + rename), by default under
``$XDG_STATE_HOME/logwatch/`` (``~/.local/state/logwatch/``) so it outlives a model retrain.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .escape import describe
from .jsonl import loads
from .masking import mask_line

FORMAT = "logwatch-known-normal"
VERSION = 1
#: The version written when the file holds snoozes: an older logwatch, which would read a snooze
#: as a mark for ever, refuses the file instead.
SNOOZE_VERSION = 2
FILENAME = "known-normal.json"
#: ``--known-normal none`` turns the feature off for one run.
OFF = "none"
#: A store bigger than this is refused on load: nobody marks this many lines by hand, and a
#: file that large is more likely a mistake (a log passed by accident) than feedback.
MAX_ENTRIES = 100_000
#: Example lines are cut to this many characters (the masked pattern only reads a line's head).
MAX_TEXT_CHARS = 4_000


class KnownNormalError(ValueError):
    """The known-normal file cannot be read or written; the message is one line for the user."""


def default_path() -> Path:
    """``$XDG_STATE_HOME/logwatch/known-normal.json``, with the XDG fallback ``~/.local/state``."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "logwatch" / FILENAME


@dataclass(frozen=True)
class Mark:
    """One operator confirmation: an example line, the session it was seen in, and when."""

    text: str
    session: str = ""
    marked: str = ""
    """UTC time of the mark, ISO 8601 (informational)."""

    until: str = ""
    """A snooze (key z) ends at this UTC time, ISO 8601; empty for a mark (for ever)."""

    pattern: str = field(default="", compare=False, repr=False)
    """``text`` masked: what the mark applies to. Derived from ``text`` when the mark is made
    unless given (the caller masked that same text already), and never written to the file."""

    def __post_init__(self) -> None:
        if not self.pattern:  # frozen: the one moment it may be set
            object.__setattr__(self, "pattern", mask_line(self.text))

    def to_dict(self) -> dict[str, str]:
        out = {"text": self.text, "session": self.session, "marked": self.marked}
        if self.until:
            out["until"] = self.until
        return out

    def active(self, now: datetime) -> bool:
        return not self.until or _parse_time(self.until) > now


@dataclass
class KnownNormal:
    """The marks and the masked patterns derived from them; optionally bound to a file."""

    path: Path | None = None
    marks: list[Mark] = field(default_factory=list)
    _patterns: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    _next_expiry: float = field(default=math.inf, init=False, repr=False)
    """When the first snooze still running ends (epoch seconds): then the patterns are recomputed."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _stamp: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)
    """(mtime_ns, size) of the file as last read or written: :meth:`refresh` reloads when it changes."""

    def __post_init__(self) -> None:
        self._set_marks(self.marks)

    def _set_marks(self, marks: list[Mark]) -> None:
        """Replace the marks and their patterns together (callers hold the lock once running)."""
        now = _now()
        self.marks = marks
        live = [m for m in marks if m.active(now)]
        self._patterns = frozenset(m.pattern for m in live)  # a new set: readers never see it change
        ends = [_parse_time(m.until).timestamp() for m in live if m.until]
        self._next_expiry = min(ends) if ends else math.inf

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None) -> KnownNormal:
        """The store at ``path`` (None = :func:`default_path`); a missing file is an empty store."""
        target = default_path() if path is None else Path(path)
        store = cls(path=target)
        if target.exists():
            store._load()
        return store

    def refresh(self) -> bool:
        """Re-read the file if another process changed it since (a monitor marked a line while
        ``score --follow`` runs); True if the marks changed. A broken file keeps the old marks."""
        if self.path is None or _stamp(self.path) == self._stamp:
            return False
        try:
            self._load()
        except KnownNormalError:
            self._stamp = _stamp(self.path)  # do not retry a broken file on every call
            return False
        return True

    def _load(self) -> None:
        assert self.path is not None
        stamp = _stamp(self.path)
        try:
            data = loads(self.path.read_text(encoding="utf-8"))  # strict: NaN or deep nesting is damage
        except (OSError, ValueError) as exc:
            raise KnownNormalError(f"cannot read known-normal file {self.path}: {describe(exc)}") from None
        marks = _marks_from(data, self.path)
        with self._lock:
            self._set_marks(marks)
            self._stamp = stamp

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> KnownNormal:
        """An in-memory store (no file) marking these raw lines: for tests and experiments."""
        return cls(marks=[Mark(_clip(t)) for t in lines])

    def is_known_pattern(self, pattern: str) -> bool:
        """Is this pattern (a scored line's :attr:`~logwatch.core.types.ScoredLine.pattern`) one
        the operator marked normal (or snoozed, until then)?"""
        if time.time() >= self._next_expiry:  # a snooze just ended: its pattern alerts again
            with self._lock:
                self._set_marks(self.marks)
        return pattern in self._patterns

    def __contains__(self, pattern: object) -> bool:
        """``pattern in store``: :meth:`is_known_pattern`."""
        return isinstance(pattern, str) and self.is_known_pattern(pattern)

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def patterns(self) -> frozenset[str]:
        return self._patterns

    def matches(self, raw: str) -> bool:
        """Does this raw line mask to a marked pattern? For text no engine scored: a scored line
        has its pattern already (:meth:`is_known_pattern`)."""
        return mask_line(raw) in self._patterns

    # -- marking -----------------------------------------------------------------------------
    def mark(self, text: str, session: str = "", *, seconds: float | None = None) -> bool:
        """Mark a raw line's pattern normal (for ``seconds`` only: a snooze); False (and nothing
        stored) if it already was. A mark for ever replaces a snooze of the same pattern."""
        self.refresh()  # change what is on disk now, not a stale copy (another logwatch may have edited it)
        text = _clip(text)
        # Masked here, not taken from a scored line: the pattern is the stored example's, clipped
        # as stored, so it is what every later load derives from the file.
        pattern = mask_line(text)
        with self._lock:
            now = _now()
            same = [m for m in self.marks if m.pattern == pattern and m.active(now)]
            if any(not m.until for m in same) or (same and seconds is not None):
                return False
            if len(self.marks) >= MAX_ENTRIES:
                raise KnownNormalError(f"the known-normal file already holds {MAX_ENTRIES} marks")
            until = "" if seconds is None else (now + timedelta(seconds=seconds)).isoformat(timespec="seconds")
            kept = [m for m in self.marks if m not in same and m.active(now)]  # drops snoozes that ended
            self._set_marks([*kept, Mark(text, session, now.isoformat(timespec="seconds"), until, pattern)])
        return True

    def unsnooze_pattern(self, pattern: str) -> bool:
        """End the snoozes of this pattern (a scored line's) now; False if there was none."""
        self.refresh()  # change what is on disk now, not a stale copy (another logwatch may have edited it)
        with self._lock:
            kept = [m for m in self.marks if not (m.until and m.pattern == pattern)]
            if len(kept) == len(self.marks):
                return False
            self._set_marks(kept)
        return True

    def pattern_snoozed_until(self, pattern: str) -> str | None:
        """When the snooze of this pattern (a scored line's) ends (None: not snoozed)."""
        now = _now()
        ends = [m.until for m in self.marks if m.until and m.active(now) and m.pattern == pattern]
        return max(ends) if ends else None

    def unmark_pattern(self, pattern: str) -> bool:
        """Forget every mark of this pattern (a scored line's); False if there was none."""
        self.refresh()  # change what is on disk now, not a stale copy (another logwatch may have edited it)
        with self._lock:
            kept = [m for m in self.marks if m.pattern != pattern]
            if len(kept) == len(self.marks):
                return False
            self._set_marks(kept)
        return True

    def remove(self, numbers: Iterable[int]) -> list[Mark]:
        """Drop marks by their 1-based position in :attr:`marks`; returns what was dropped."""
        self.refresh()  # change what is on disk now, not a stale copy (another logwatch may have edited it)
        wanted = set(numbers)
        with self._lock:
            bad = sorted(n for n in wanted if not 1 <= n <= len(self.marks))
            if bad:
                raise KnownNormalError(f"no mark number {bad[0]}: there are {len(self.marks)} (see `logwatch marks`)")
            dropped = [m for i, m in enumerate(self.marks, 1) if i in wanted]
            self._set_marks([m for i, m in enumerate(self.marks, 1) if i not in wanted])
        return dropped

    def save(self) -> None:
        """Write the marks atomically to the bound file (creating its directory)."""
        if self.path is None:
            return
        with self._lock:
            version = SNOOZE_VERSION if any(m.until for m in self.marks) else VERSION
            data = {"format": FORMAT, "version": version, "lines": [m.to_dict() for m in self.marks]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".known-normal-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, ensure_ascii=False)
                out.write("\n")
            os.replace(tmp, self.path)
            self._stamp = _stamp(self.path)
        except OSError as exc:
            raise KnownNormalError(f"cannot write known-normal file {self.path}: {exc}") from None


def open_store(option: str | None) -> KnownNormal | None:
    """What ``--known-normal`` asks for: None for ``none``, else the store (default path if unset)."""
    if option is not None and option.strip().lower() == OFF:
        return None
    return KnownNormal.open(option)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _clip(text: str) -> str:
    return text[:MAX_TEXT_CHARS]


def _marks_from(data: Any, path: Path) -> list[Mark]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KnownNormalError(f"{path} is not a logwatch known-normal file")
    if not isinstance(data.get("version"), int) or data["version"] > SNOOZE_VERSION:
        raise KnownNormalError(f"{path} was written by a newer logwatch (version {data.get('version')!r})")
    lines = data.get("lines", [])
    if not isinstance(lines, list):
        raise KnownNormalError(f"{path}: 'lines' must be a list")
    if len(lines) > MAX_ENTRIES:
        raise KnownNormalError(f"{path} holds {len(lines)} marks (at most {MAX_ENTRIES} are read)")
    marks = []
    for i, item in enumerate(lines):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise KnownNormalError(f"{path}: mark {i} needs a 'text' string")
        until = str(item.get("until", "") or "")
        if until and _parse_time(until) == _NEVER:
            raise KnownNormalError(f"{path}: mark {i} has an unreadable 'until' time {until[:40]!r}")
        marks.append(Mark(_clip(item["text"]), str(item.get("session", "")), str(item.get("marked", "")), until))
    return marks


_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    """The time marks and snoozes are judged at (one clock: ``time.time``)."""
    return datetime.fromtimestamp(time.time(), timezone.utc)


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time (UTC when it says no zone); the distant past when it cannot be read."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return _NEVER
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
