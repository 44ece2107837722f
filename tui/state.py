"""What the monitor keeps, headless: sessions, recent lines, alerts, the view, the filter and search.

The app files every batch the pipeline posts into a :class:`MonitorState` and hands the
widgets what changed; nothing here knows about Textual, so the bookkeeping is unit-tested
without an app. Everything is bounded (:class:`AppLimits`) however long the monitor runs.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from logwatch.core.alerts import AlertEvent, AlertGroup, AlertGroups
from logwatch.core.types import ScoredLine, SessionEnd

from .filters import LineFilter

#: The view key of the "all lines" pane (no session key can look like it: keys have no '*').
ALL = "*all*"


@dataclass
class AppLimits:
    """Caps that keep memory bounded however long the app runs."""

    all_lines: int = 100_000
    """Lines kept for the "all lines" view."""
    session_lines: int = 5_000
    """Lines kept per session."""
    sessions: int = 2_000
    """Sessions kept for the list (least recently active dropped first; alerted ones kept longer)."""
    alerts: int = 500
    """Alerts kept in the alert list."""
    spark_points: int = 120
    """Recent losses drawn in each sparkline."""


@dataclass
class SessionView:
    """One session as the app shows it: its recent lines and losses, and whether it alerted."""

    key: str
    lines: deque[ScoredLine]
    losses: deque[float]
    alerted: bool = False
    last_n: int = 0
    max_loss: float = 0.0
    count: int = 0


@dataclass(frozen=True)
class NewAlert:
    """Something to tell the operator: an alert group opened, came back or jumped (the banner)."""

    line: ScoredLine
    event: AlertEvent
    ended: SessionEnd | None = None
    """The session check's verdict, when that is what alerted."""


@dataclass
class Changes:
    """What one batch changed, for the widgets to redraw."""

    shown: list[ScoredLine] = field(default_factory=list)
    """New lines that belong in the current view, in order."""
    updated: bool = False
    """Lines already shown (pending) became final in place: the view must be drawn again."""
    alerts: list[NewAlert] = field(default_factory=list)
    """Alert events of this batch, oldest first (the banner shows the last)."""


class MonitorState:
    """Sessions, lines and alerts of one monitor run, and what the operator chose to look at."""

    def __init__(self, limits: AppLimits | None = None) -> None:
        self.limits = limits or AppLimits()
        self.sessions: OrderedDict[str, SessionView] = OrderedDict()
        """Sessions in least-recently-active order."""
        self.all_lines: deque[ScoredLine] = deque(maxlen=self.limits.all_lines)
        self.stream_losses: deque[float] = deque(maxlen=self.limits.spark_points)
        self.groups = AlertGroups()
        """Alerts folded into groups (a session's story, a pattern across sessions): the alert list."""
        self.line_group: OrderedDict[int, int] = OrderedDict()
        """Line number -> its alert group, for the alert lines still kept."""
        self.alert_count = 0
        """Sessions alerted since the start."""
        self.view = ALL
        """The pane shown: :data:`ALL` or a session key."""
        self.focused: str | None = None
        """The session whose sparkline is drawn."""
        self.pending: dict[int, ScoredLine] = {}
        """Lines shown before they are final (the log is being learned), by line number."""
        self.line_filter: LineFilter | None = None
        self.search: re.Pattern[str] | None = None
        self.sessions_changed = False
        self.alerts_changed = False

    # -- what arrives ---------------------------------------------------------------------
    def add_lines(self, lines: Iterable[ScoredLine], pending: Iterable[ScoredLine] = ()) -> Changes:
        """File a batch: final lines (a session's first alerting line becomes its alert), and
        pending ones, shown until their final version (same ``n``) takes their place."""
        changes = Changes()
        first_keyed: str | None = None
        for line in pending:
            self.pending[line.n] = line
            self.all_lines.append(line)
            view = self._session(line.session)
            view.lines.append(line)
            if line.alert:  # an error line while the log is being learned
                self._alert(view, line, changes)
            if self.view in (ALL, line.session):
                changes.shown.append(line)
        for final in lines:
            line = final
            shown_before = self.pending.pop(final.n, None)
            if shown_before is not None:  # it was on screen already: it becomes final in place
                line = shown_before
                line.loss, line.alert, line.why, line.tokens = final.loss, final.alert, final.why, final.tokens
                line.order_only = final.order_only
                changes.updated = True
            if first_keyed is None and not line.session.startswith("<unkeyed"):
                first_keyed = line.session
            view = self._session(line.session)
            if shown_before is None:
                self.all_lines.append(line)
                view.lines.append(line)
            view.count += 1
            view.last_n = line.n
            if line.loss is not None:
                view.losses.append(line.loss)
                view.max_loss = max(view.max_loss, line.loss)
                self.stream_losses.append(line.loss)
            if line.alert and (shown_before is None or line.n not in self.line_group):
                self._alert(view, line, changes)
            if shown_before is None and self.view in (ALL, line.session):
                changes.shown.append(line)
        self.sessions_changed = True
        if self.focused is None:
            self.focused = first_keyed
        if changes.alerts:
            self.focused = changes.alerts[-1].line.session
        return changes

    def _alert(self, view: SessionView, line: ScoredLine, changes: Changes, ended: SessionEnd | None = None) -> None:
        """File an alerting line into its group; an event (open, back, rate jump) is news."""
        if not view.alerted:
            view.alerted = True
            self.alert_count += 1
        group, event = self.groups.add_line(line, why=ended.why if ended is not None else None)
        self.line_group[line.n] = group.key
        while len(self.line_group) > self.limits.all_lines:
            self.line_group.popitem(last=False)
        self.alerts_changed = True
        if event is not None:
            changes.alerts.append(NewAlert(line, event, ended))

    def add_ends(self, ends: Sequence[SessionEnd]) -> list[NewAlert]:
        """Session-check verdicts: a session that ended unlike any normal one alerts at its last line."""
        changes = Changes()
        for end in ends:
            view = self.sessions.get(end.session)
            if not end.alert or view is None or view.alerted or not view.lines:
                continue
            self._alert(view, view.lines[-1], changes, end)
        if changes.alerts:
            self.sessions_changed = True
            self.focused = changes.alerts[-1].line.session
        return changes.alerts

    def _session(self, key: str) -> SessionView:
        view = self.sessions.get(key)
        if view is None:
            view = SessionView(key, deque(maxlen=self.limits.session_lines), deque(maxlen=self.limits.spark_points))
            self.sessions[key] = view
            if len(self.sessions) > self.limits.sessions:
                self._evict_session()
        else:
            self.sessions.move_to_end(key)
        return view

    def _evict_session(self) -> None:
        """Drop the least recently active session, sparing alerted ones and the one on screen."""
        victim = next((k for k, v in self.sessions.items() if not v.alerted and k != self.view), None)
        victim = victim or next(k for k in self.sessions if k != self.view)
        del self.sessions[victim]

    # -- what the operator looks at -------------------------------------------------------
    def show(self, key: str) -> list[ScoredLine] | None:
        """Switch the pane to a session (or :data:`ALL`); its lines, or None if it is not known."""
        if key != ALL and key not in self.sessions:
            return None
        self.view = key
        if key != ALL:
            self.focused = key
        return list(self.all_lines if key == ALL else self.sessions[key].lines)

    def focused_losses(self) -> list[float]:
        view = self.sessions.get(self.focused) if self.focused is not None else None
        return list(view.losses) if view is not None else []

    def session_rows(self, limit: int = 200) -> list[SessionView]:
        """The session list: alerted sessions first, then the most recently active."""
        return sorted(self.sessions.values(), key=lambda v: (not v.alerted, -v.last_n))[:limit]

    def alert_rows(self) -> list[AlertGroup]:
        """The alert list: groups, the most recently alerted first (at most ``limits.alerts``)."""
        return list(reversed(self.groups.groups.values()))[: self.limits.alerts]

    def group_lines(self, key: int) -> list[ScoredLine]:
        """The kept lines of one alert group (its occurrences), in order."""
        return [line for line in self.all_lines if self.line_group.get(line.n) == key]

    def take_changes(self) -> tuple[bool, bool]:
        """(sessions changed, alerts changed) since the last call: what the sidebar must redraw."""
        changed = self.sessions_changed, self.alerts_changed
        self.sessions_changed = self.alerts_changed = False
        return changed
