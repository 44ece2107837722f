"""Which session a line belongs to: a VM instance, a request, an HDFS block, or nothing.

A *session rule* is either the built-in one (instance UUID, then HDFS block, then request
id) or a user regex with one capture group. The rule is saved in a model's spec.json so a
model keys lines the way it was trained unless the operator overrides it.
"""

from __future__ import annotations

import re
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

BUILTIN_RULE = "builtin"

_INSTANCE = re.compile(r"\[instance:\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\]")
_BLOCK = re.compile(r"\b(blk_-?\d+)\b")
_REQUEST = re.compile(r"\b(req-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b")


class SessionRuleError(ValueError):
    """A --session-regex that cannot be used; the message is shown to the user as is."""


def compile_session_regex(pattern: str) -> re.Pattern[str]:
    """Compile a user regex once, checking it has exactly one capture group."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise SessionRuleError(f"invalid --session-regex {pattern!r}: {exc}") from None
    if compiled.groups != 1:
        raise SessionRuleError(
            f"--session-regex must have exactly one capture group (it has {compiled.groups}): {pattern!r}"
        )
    return compiled


def unkeyed_session(source: str) -> str:
    """The catch-all session of one source, for lines that carry no key."""
    return f"<unkeyed:{source}>"


class SessionKeyer:
    """Maps a line's text to its session key under one rule."""

    def __init__(self, rule: str | None = None) -> None:
        self.rule = rule or BUILTIN_RULE
        self._custom = None if self.rule == BUILTIN_RULE else compile_session_regex(self.rule)

    def key(self, text: str, source: str) -> str:
        if self._custom is not None:
            match = self._custom.search(text)
            if match and match.group(1):
                return match.group(1)
            return unkeyed_session(source)
        # Instance first: a request that acts on a VM belongs to that VM's story.
        for pattern in (_INSTANCE, _BLOCK, _REQUEST):
            match = pattern.search(text)
            if match:
                return match.group(1)
        return unkeyed_session(source)


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
