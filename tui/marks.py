"""What the mark keys do to the known-normal store, as plain functions (tested without the app).

``m`` toggles the selected line's pattern; ``M`` marks every line of the selected line's session
that is over the threshold (a whole request or block confirmed as routine). Each returns the
sentence the app shows; the store is saved by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

from logwatch.core.known_normal import KnownNormal
from logwatch.core.types import ScoredLine

from .render import short_session


def toggle_line(store: KnownNormal, line: ScoredLine, *, replaying: bool = False) -> str:
    """Mark the line's pattern normal, or take the mark back if it already was."""
    if store.unmark_pattern(line.pattern):
        return f"unmarked: lines like this can alert again; {len(store)} pattern(s) marked"
    store.mark(line.text, line.session)
    return f"marked normal: lines like this will not alert again{_later(replaying)}; {len(store)} pattern(s) marked"


def mark_session(store: KnownNormal, line: ScoredLine, session_lines: Iterable[ScoredLine], threshold: float | None,
                 *, replaying: bool = False) -> str:
    """Mark every line of the session over the threshold (at least the selected one)."""
    surprising = [x for x in session_lines
                  if threshold is not None and x.loss is not None and x.loss > threshold] or [line]
    added = sum(store.mark(x.text, x.session) for x in surprising)
    return (f"session {short_session(line.session)}: {added} new pattern(s) of {len(surprising)} surprising "
            f"line(s) marked normal{_later(replaying)}; {len(store)} pattern(s) marked")


#: How long key z snoozes an alert's pattern.
SNOOZE_SECONDS = 3600.0


def toggle_snooze(store: KnownNormal, line: ScoredLine, *, seconds: float = SNOOZE_SECONDS,
                  replaying: bool = False) -> str:
    """Snooze the line's pattern (no alert from it for a while), or end its snooze if it has one."""
    if store.unsnooze_pattern(line.pattern):
        return "snooze ended: lines like this can alert again"
    if store.is_known_pattern(line.pattern):
        return "lines like this are marked normal already (m unmarks them)"
    store.mark(line.text, line.session, seconds=seconds)
    until = (store.pattern_snoozed_until(line.pattern) or "")[11:16]
    return f"snoozed until {until} UTC: lines like this will not alert until then{_later(replaying)} (z again ends it)"


def _later(replaying: bool) -> str:
    return " (this replay still shows what was recorded)" if replaying else ""
