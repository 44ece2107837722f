"""Which session a line belongs to: a VM instance, a request, an HDFS block, or nothing.

A *session rule* is either the built-in one (instance UUID, then HDFS block, then request
id) or a user regex with one capture group. The rule is saved in a model's spec.json so a
model keys lines the way it was trained unless the operator overrides it.
"""

from __future__ import annotations

import functools
import re
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .parse import clean_field, parse_line

if TYPE_CHECKING:
    import regex

BUILTIN_RULE = "builtin"

_INSTANCE = re.compile(r"\[instance:\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\]")
_BLOCK = re.compile(r"\b(blk_-?\d+)\b")
_REQUEST = re.compile(r"\b(req-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b")
#: The built-in rules in order, each with a literal no match can lack.
_BUILTIN_RULES = (("[instance:", _INSTANCE), ("blk_", _BLOCK), ("req-", _REQUEST))


class SessionRuleError(ValueError):
    """A --session-regex that cannot be used; the message is shown to the user as is."""


#: A user regex gets this long per line (the ``regex`` engine's timeout); past it the line is
#: unkeyed. Real session regexes take microseconds: only catastrophic backtracking gets near it.
REGEX_SECONDS = 0.05
#: After this many lines past the time limit the regex is given up for the rest of the run.
REGEX_STRIKES = 3
#: A user regex sees at most this much of a line (a 10 MB line is not searched for its key).
REGEX_TEXT_CHARS = 16_384


def compile_session_regex(pattern: str) -> regex.Pattern[str]:
    """Compile a user regex once, checking it has exactly one capture group.

    It is compiled with the ``regex`` engine (Python's syntax) because that one can stop a search
    that runs too long: a user regex must never hang the monitor.
    """
    import regex  # here, not at the top: importing it takes 0.1 s that only a user regex needs

    if not pattern:
        raise SessionRuleError("--session-regex is empty; give a pattern with one capture group, e.g. 'job=(\\w+)'")
    try:
        compiled = regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise SessionRuleError(f"invalid --session-regex {pattern!r}: {exc}") from None
    if compiled.groups != 1:
        raise SessionRuleError(
            f"--session-regex must have exactly one capture group (it has {compiled.groups}): {pattern!r}"
        )
    return compiled


#: Longest session key kept: a capture longer than this is cut (keys are shown, stored and indexed).
MAX_KEY_CHARS = 200


@functools.lru_cache(maxsize=1024)
def unkeyed_session(source: str) -> str:
    """The catch-all session of one source, for lines that carry no key: named after the
    file's name, never its whole path (so it reads the same wherever the log lies).

    A file name is untrusted too (and on Linux may hold undecodable bytes as surrogates): it is
    cleaned like any field, so a key can always be printed, encoded and drawn.
    """
    name = source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or source
    return f"<unkeyed:{clean_field(name, MAX_KEY_CHARS)}>"


@functools.lru_cache(maxsize=256)
def source_label(source: str) -> str:
    """A file name as scored lines carry it: untrusted too (undecodable bytes arrive as lone
    surrogates, which no output can encode), so cleaned like a parsed field."""
    return clean_field(source, 4096)


class SessionKeyer:
    """Maps a line's text to its session key under one rule."""

    def __init__(self, rule: str | None = None) -> None:
        self.rule = BUILTIN_RULE if rule is None else rule  # "" is a (refused) regex, not the default
        self._custom = None if self.rule == BUILTIN_RULE else compile_session_regex(self.rule)
        self.strikes = 0
        self.failure: str | None = None
        """Why the user regex was given up (it ran past its time limit), or None while it is used."""

    def _strike(self) -> None:
        self.strikes += 1
        if self.strikes >= REGEX_STRIKES:
            self.failure = (f"--session-regex {self.rule!r} took over {REGEX_SECONDS * 1000:.0f} ms on "
                            f"{self.strikes} lines (catastrophic backtracking?); given up, lines keep their "
                            "unkeyed sessions")

    def key(self, text: str, source: str) -> str:
        if self._custom is not None:
            if self.failure is not None:
                return unkeyed_session(source)
            try:
                match = self._custom.search(text[:REGEX_TEXT_CHARS], timeout=REGEX_SECONDS)
            except TimeoutError:
                self._strike()
                match = None
            if match and match.group(1):
                return clean_field(match.group(1), MAX_KEY_CHARS)
            return unkeyed_session(source)
        # Instance first: a request that acts on a VM belongs to that VM's story. Each rule
        # runs only where its literal occurs: a regex that begins with \b scans every position
        # (on 54,000 real nova lines the block rule alone took 0.43 s; the substring test, ~0.01).
        for literal, pattern in _BUILTIN_RULES:
            if literal in text:
                match = pattern.search(text)
                if match:
                    return match.group(1)
        return unkeyed_session(source)


#: The shapes of a line that continues the entry above it when it carries no header of its own:
#: indented (a traceback's frames, Java's "at ..." lines, a pretty-printed document), an XML or
#: HTML tag (a dumped libvirt domain), a traceback's first line, a "Caused by:", or an
#: exception's own line ("ValueError: ...", "java.lang.IllegalStateException").
_CONTINUATION = re.compile(r"\s|</?[A-Za-z!?]|Traceback \(most recent call last\)|Caused by:"
                           r"|(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception)\b")
#: Sources whose latest entry is remembered (one per file a stream merges).
MAX_ENTRY_SOURCES = 1024


def is_continuation(text: str, fmt: str | None = None) -> bool:
    """A line that belongs to the entry above it: no header that any format recognises
    (``fmt`` "raw", parsed here when not given) and the shape of a multi-line entry's body."""
    if not text or not _CONTINUATION.match(text):
        return False
    return (fmt if fmt is not None else parse_line(text).fmt) == "raw"


class EntryKeys:
    """Session keys for lines read in order: a multi-line entry is one session's.

    Many logs write one entry over several lines: a traceback under its ERROR line, a domain's
    XML under the line that dumps it. Only the first line carries the header and the ids, so
    keyed alone the rest would fall into the source's catch-all session, every instance's
    traceback and XML mixed in one stream (on a nova log in that dialect, the learned threshold
    rose from 2.29 to 14.32 nats, into the 12-17 its incidents' lines score). A continuation line
    (:func:`is_continuation`) takes the session of the latest entry of its source instead.

    Stateful: one instance per pass over a stream, fed its lines in order.
    """

    def __init__(self, keyer: SessionKeyer) -> None:
        self.keyer = keyer
        self._latest: OrderedDict[str, str] = OrderedDict()  # source -> session of its latest entry

    def key(self, text: str, source: str, fmt: str | None = None) -> str:
        latest = self._latest.get(source)
        if latest is not None and is_continuation(text, fmt):
            return latest
        key = self.keyer.key(text, source)
        self._latest[source] = key
        self._latest.move_to_end(source)
        if len(self._latest) > MAX_ENTRY_SOURCES:
            self._latest.popitem(last=False)
        return key


@dataclass(slots=True)
class SessionInfo:
    """Book-keeping the engine keeps per live session."""

    key: str
    first_seen: float
    last_seen: float
    lines: int = 0
    over_threshold: int = 0
    alerted: bool = False
    last_n: int = 0
    """Arrival number of the session's latest line."""
    templates: Counter[str] | None = None
    """Masked line -> count, kept only when the engine judges sessions as they end."""
    order_only_n: int = 0
    """Arrival number of its first line that surprised by its place only (left to the session check)."""
    last_pattern: str | None = None
    """Pattern (masked line) of its latest line: what a new line follows."""


class SessionTable:
    """Live sessions in least-recently-active order, evicted when idle or over capacity.

    Bounded so that an endless stream of short-lived requests cannot grow memory forever.
    """

    def __init__(self, *, idle_seconds: float = 900.0, max_sessions: int = 20_000) -> None:
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, SessionInfo] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, key: str) -> bool:
        return key in self._sessions

    def get(self, key: str) -> SessionInfo | None:
        return self._sessions.get(key)

    def touch(self, key: str, now: float | None = None) -> tuple[SessionInfo, list[str]]:
        """Mark ``key`` active; returns its info and any keys evicted to stay under capacity."""
        now = time.time() if now is None else now
        info = self._sessions.get(key)
        if info is None:
            info = SessionInfo(key=key, first_seen=now, last_seen=now)
            self._sessions[key] = info
        else:
            info.last_seen = now
            self._sessions.move_to_end(key)
        info.lines += 1
        evicted: list[str] = []
        while len(self._sessions) > self.max_sessions:
            old_key, _ = self._sessions.popitem(last=False)
            evicted.append(old_key)
        return info, evicted

    def evict_idle(self, now: float | None = None) -> list[str]:
        """Close sessions quiet for longer than ``idle_seconds``; oldest first."""
        return [info.key for info in self.pop_idle(now)]

    def pop_idle(self, now: float | None = None) -> list[SessionInfo]:
        """Remove and return the sessions quiet for longer than ``idle_seconds``; oldest first."""
        now = time.time() if now is None else now
        ended: list[SessionInfo] = []
        while self._sessions:
            key, info = next(iter(self._sessions.items()))
            if now - info.last_seen <= self.idle_seconds:
                break
            del self._sessions[key]
            ended.append(info)
        return ended

    def pop_all(self) -> list[SessionInfo]:
        """Remove and return every session (the input ended), least recently active first."""
        ended = list(self._sessions.values())
        self._sessions.clear()
        return ended
