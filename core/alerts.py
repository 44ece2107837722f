"""The one alert decision: a line's signals in, an alert with its reasons out; alerts grouped by pattern.

Signals, each cheap and each explainable in one phrase:

- ``surprise``: the line's loss is over the calibrated threshold (and its session has at least
  ``min_lines`` such lines): "surprise 12.3 > 1.53"; or a known line right after a known line it
  never followed in a normal session, with one token over the token threshold, the surprise a
  mean over the line's tokens hides (:meth:`AlertRule.new_order`): "new order: after '...' (token
  5.39 > 4.83)";
- ``severity``: an ERROR/CRITICAL/FATAL line, or a traceback, whose pattern is not known as
  normal (never seen in the model's normal data, never marked normal): "error-level";
- ``novelty``: a pattern never seen in the model's normal data (or the window it learned), at
  WARNING level or above: "new-pattern" (on a surprising line of any level it is added as the
  reason why it surprised);
- ``session``: the session-completeness check's verdict when a session ends: "session-check …".
  Where it judges, a known line below WARNING that surprises only by its place in a session
  whose lines so far fit a normal session's mix is left to it (:meth:`AlertRule.order_surprise`).

A *pattern* is the masked line (``LEVEL component message`` with volatile fields replaced by
typed placeholders, :mod:`.masking`): the unit the operator marks normal, the session check
counts, and alerts are grouped by. Lines marked normal (:mod:`.known_normal`) never alert.

Grouping: alerts fold into :class:`AlertGroup` s. An alert joins the group its session already
alerted in (a failing instance's error, traceback and cleanup lines are one story), else the
group of its pattern (the same error in many sessions is one problem), else it opens a new one.
A group *opens* with its first alert, *comes back* when it alerts again after being quiet, and
*jumps* when its rate rises well above what was last told; each is an :class:`AlertEvent`,
which is what an operator (the banner) or a pager (``logwatch score --alerts``) is told about,
instead of every line of a storm.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .parse import timestamp_seconds

if TYPE_CHECKING:
    from .types import ScoredLine

#: Every signal the rule knows, in the order reasons are given.
SIGNALS: tuple[str, ...] = ("surprise", "severity", "novelty", "session")
#: How much more a line of a known pattern must surprise: 1.5 beat 1.0 on the bundled incidents
#: (F1 1.0 vs 0.8) and on HDFS (0.727 vs 0.702, same recall); 2 and 3 did no better (docs/EVALUATION.md §5).
DEFAULT_KNOWN_MARGIN = 1.5
#: The severity ladder, lowest first: what the monitor's ``level:WARNING+`` filter climbs.
SEVERITY: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
#: Other names logs give a rung (BGL writes SEVERE and FAILURE for errors, many loggers FATAL).
LEVEL_ALIASES: dict[str, str] = {"WARN": "WARNING", "SEVERE": "ERROR", "FAILURE": "ERROR", "FATAL": "CRITICAL"}


def level_names(rungs: Iterable[str]) -> frozenset[str]:
    """Every level name a line may carry for these rungs of :data:`SEVERITY`, aliases included."""
    wanted = set(rungs)
    return frozenset(wanted | {alias for alias, rung in LEVEL_ALIASES.items() if rung in wanted})


def canonical_level(name: str) -> str | None:
    """The rung of :data:`SEVERITY` a level name means, in any case (``warn`` -> WARNING); None if none."""
    upper = name.strip().upper()
    rung = LEVEL_ALIASES.get(upper, upper)
    return rung if rung in SEVERITY else None


#: Levels that count as errors, and as warnings or worse.
ERROR_LEVELS = level_names(("ERROR", "CRITICAL"))
WARNING_LEVELS = level_names(("WARNING", "ERROR", "CRITICAL"))
#: A traceback or an exception line in the message, whatever level the line was logged at.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \"[^\"]+\", line \d+|"
                        r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception)(?::|$)")


def k_lines_reached(surprising: int, min_lines: int) -> bool:
    """The k-lines rule (LogBERT's r): a session's surprise may alert once ``surprising`` of its
    lines (this one included, none marked normal) were over the bar, and ``min_lines`` is k.

    The engine applies it live (:meth:`AlertRule.reasons`), evaluation when it replays an operator
    (:mod:`.eval.feedback`); calibration scores a session by its k-th largest loss, which is over a
    threshold exactly when this holds for it."""
    return surprising >= min_lines


def is_traceback(message: str) -> bool:
    return bool(_TRACEBACK.search(message[:500]))


def is_error_level(level: str | None, message: str) -> bool:
    """An ERROR/CRITICAL/FATAL line, or one that is part of a traceback."""
    return (level is not None and level in ERROR_LEVELS) or is_traceback(message)


@dataclass(frozen=True)
class AlertRule:
    """Which signals may raise an alert, and what they are measured against.

    ``signals`` empty means alerting is off (:meth:`off`): lines are still scored and shown.
    """

    threshold: float | None
    """Per-line loss above which a line is surprising; None when the model has no calibration."""
    min_lines: int = 1
    """Surprising lines a session needs before surprise alerts (LogBERT's r)."""
    signals: frozenset[str] = frozenset(SIGNALS)
    normal_patterns: frozenset[str] | None = None
    """Patterns seen in the model's normal data; None when the model does not know them (older
    model directories): novelty is then off and every error-level line counts as unknown."""
    known_margin: float = DEFAULT_KNOWN_MARGIN
    """A line whose pattern is known normal surprises only above ``threshold * known_margin``
    (1.0: the same threshold for every line)."""
    normal_pairs: frozenset[tuple[str, str]] | None = None
    """(pattern, next pattern) pairs of consecutive lines in a session of the model's normal data;
    None when the model does not know them: :meth:`new_order` is then off."""
    token_threshold: float | None = None
    """A line's largest token loss above which a known line in a new place surprises (None: off)."""

    def __post_init__(self) -> None:
        unknown = set(self.signals) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown alert signal(s) {', '.join(sorted(unknown))}; known: {', '.join(SIGNALS)}")

    @classmethod
    def off(cls) -> AlertRule:
        return cls(threshold=None, signals=frozenset())

    @property
    def active(self) -> bool:
        return bool(self.signals)

    def with_signals(self, signals: Iterable[str]) -> AlertRule:
        return replace(self, signals=frozenset(signals))

    def surprising(self, loss: float | None) -> bool:
        """Over the threshold (whether or not the surprise signal may alert)."""
        return loss is not None and self.threshold is not None and loss > self.threshold

    def surprise_bar(self, pattern: str) -> float | None:
        """The loss a line of this pattern must exceed to surprise (None: no threshold)."""
        if self.threshold is None:
            return None
        known = self.normal_patterns is not None and pattern in self.normal_patterns
        return self.threshold * (self.known_margin if known else 1.0)

    def new_order(self, *, pattern: str, after: str | None, top_token: float | None) -> bool:
        """A known line right after a known line it never followed in a normal session, with a
        token that surprised the model beyond the token threshold.

        A routine line in the wrong place ("VM Stopped" in an instance nobody asked to stop) has a
        low mean loss: its one telling token is averaged with the routine ones. Neither condition
        alone is rare enough on real logs (a line sample of nova breaks sessions into new pairs in
        6% of them; single tokens that high come with routine first lines of sessions); together
        they are. Lines of unknown patterns are novelty's and the mean loss's to judge.
        """
        if "surprise" not in self.signals or after is None or top_token is None:
            return False
        pairs, patterns = self.normal_pairs, self.normal_patterns
        if pairs is None or patterns is None or self.token_threshold is None:
            return False
        return top_token > self.token_threshold and pattern in patterns and after in patterns \
            and (after, pattern) not in pairs

    def order_surprise(self, *, loss: float | None, level: str | None, pattern: str, after: str | None = None,
                       top_token: float | None = None) -> bool:
        """A known pattern below WARNING over its bar, where a session check judges sessions.

        The line itself is routine; only its place in the session surprised. Such a line does
        not alert while its session's lines so far still fit a normal session's mix
        (:meth:`~logwatch.core.session_check.SessionCheck.fits_normal_mix`): whether the
        session's story is wrong is the check's question when the session ends. Measured on
        HDFS: every false block the line rule added to the check's came from this kind of line.
        """
        if "session" not in self.signals or self.normal_patterns is None or pattern not in self.normal_patterns:
            return False
        if level is not None and level in WARNING_LEVELS:
            return False
        bar = self.surprise_bar(pattern)
        return (loss is not None and bar is not None and loss > bar) \
            or self.new_order(pattern=pattern, after=after, top_token=top_token)

    def reasons(self, *, loss: float | None, level: str | None, message: str, pattern: str,
                surprising_in_session: int, normal_mix: bool = False, after: str | None = None,
                top_token: float | None = None) -> tuple[str, ...]:
        """Why this line alerts (empty: it does not). ``surprising_in_session`` counts this line;
        ``normal_mix``: the session's lines so far fit a normal session's (see :meth:`order_surprise`);
        ``after``: the pattern of the session's line before this one; ``top_token``: this line's
        largest token loss."""
        reasons: list[str] = []
        known = self.normal_patterns is not None and pattern in self.normal_patterns
        bar = self.surprise_bar(pattern)
        waits = normal_mix and self.order_surprise(loss=loss, level=level, pattern=pattern, after=after,
                                                   top_token=top_token)
        surprise = "surprise" in self.signals and k_lines_reached(surprising_in_session, self.min_lines) \
            and loss is not None and bar is not None and loss > bar and not waits
        if surprise:
            reasons.append(f"surprise {loss:.2f} > {bar:.2f}")
        elif not waits and self.new_order(pattern=pattern, after=after, top_token=top_token):
            assert top_token is not None and after is not None and self.token_threshold is not None
            reasons.append(f"new order: after {_short(after)} (token {top_token:.2f} > {self.token_threshold:.2f})")
        if "severity" in self.signals and not known and is_error_level(level, message):
            reasons.append("error-level")
        if "novelty" in self.signals and self.normal_patterns is not None and not known \
                and (surprise or (level is not None and level in WARNING_LEVELS)):
            reasons.append("new-pattern")
        return tuple(reasons)


def _short(pattern: str, limit: int = 60) -> str:
    """A pattern quoted in a reason: its message end, which tells lines apart, at most ``limit`` characters."""
    text = " ".join(pattern.split())
    return repr(text if len(text) <= limit else "..." + text[-(limit - 3):])


def session_reason(score: float, threshold: float) -> str:
    return f"session-check {score:.3f} > {threshold:.3f}"


def order_reason(n: int) -> str:
    """Added to a flagged session's reasons: its line that surprised by its place only."""
    return f"order surprise at line {n}"


# -- grouping ------------------------------------------------------------------------------------
@dataclass
class AlertGroup:
    """Every alert of one pattern: how many, in which sessions, when, and how fast lately."""

    key: int
    """1-based number of the group, in the order groups opened."""
    pattern: str
    """The pattern of the alert that opened it (later alerts of other patterns may join)."""
    why: tuple[str, ...]
    """Reasons of the alert that opened the group."""
    first_n: int
    first_ts: str | None
    first_time: float
    last_n: int = 0
    last_ts: str | None = None
    last_time: float = 0.0
    count: int = 0
    sessions: list[str] = field(default_factory=list)
    """The first sessions it alerted in (at most :data:`MAX_GROUP_SESSIONS`)."""
    session_count: int = 0
    """Distinct sessions it alerted in (exact up to :data:`MAX_COUNTED_SESSIONS`)."""
    _seen: set[str] = field(default_factory=set, repr=False)
    recent: deque[float] = field(default_factory=deque)
    """Times of its alerts within the last rate window."""
    last_event_rate: float = 0.0

    def to_json_dict(self) -> dict[str, object]:
        return {"group": self.key, "pattern": self.pattern, "count": self.count, "sessions": list(self.sessions),
                "session_count": self.session_count, "first_n": self.first_n, "first_ts": self.first_ts,
                "last_n": self.last_n, "last_ts": self.last_ts, "why": list(self.why)}


#: Sessions listed per group (the count goes on).
MAX_GROUP_SESSIONS = 20
#: Distinct sessions remembered per group for counting; past it every new alert's session counts.
MAX_COUNTED_SESSIONS = 10_000
#: Groups kept (the longest quiet go first); a storm of distinct patterns cannot grow memory.
MAX_GROUPS = 5_000


@dataclass(frozen=True)
class AlertEvent:
    """What an operator is told: a group opened, came back after a quiet spell, or its rate jumped."""

    kind: str
    """``open``, ``back`` or ``rate``."""
    group: AlertGroup
    n: int
    """The line that caused the event."""
    ts: str | None
    why: tuple[str, ...]

    def to_json_dict(self) -> dict[str, object]:
        """``logwatch score --alerts``: one object per event (docs/DESIGN.md §4)."""
        return {"alert": self.kind, **self.group.to_json_dict(), "n": self.n, "ts": self.ts, "why": list(self.why)}


class AlertGroups:
    """Folds alerts into groups by pattern and says which alerts are news.

    Times are seconds of the log's own clock where lines carry a timestamp (so a replay or a
    file read at once groups as the live system did), else of arrival.
    """

    def __init__(self, *, quiet_seconds: float = 900.0, rate_window: float = 60.0, rate_jump: float = 5.0,
                 min_burst: int = 10) -> None:
        self.quiet_seconds = quiet_seconds
        self.rate_window = rate_window
        self.rate_jump = rate_jump
        self.min_burst = min_burst
        self.groups: OrderedDict[int, AlertGroup] = OrderedDict()
        """Groups by number, least recently alerted first."""
        self._by_pattern: OrderedDict[str, int] = OrderedDict()
        self._by_session: OrderedDict[str, int] = OrderedDict()
        self.opened = 0

    def group_of(self, pattern: str, session: str) -> AlertGroup | None:
        """The group an alert of this pattern in this session would join (None: it would open one)."""
        key = self._by_session.get(session)
        if key is None:
            key = self._by_pattern.get(pattern)
        return self.groups.get(key) if key is not None else None

    @staticmethod
    def _remember(index: OrderedDict[str, int], name: str, key: int) -> None:
        index[name] = key
        index.move_to_end(name)
        while len(index) > MAX_GROUPS * 4:
            index.popitem(last=False)

    def add_line(self, line: ScoredLine, why: tuple[str, ...] | None = None) -> tuple[AlertGroup, AlertEvent | None]:
        """File an alerting scored line (with ``why``, e.g. a session verdict's reasons, instead of
        its own): the group it joined, and the event it causes, if any. Its pattern is the one the
        engine masked when it scored the line; its time the log's own clock when the line has a
        timestamp, else its arrival."""
        return self._file(line.pattern, n=line.n, ts=line.ts, time=timestamp_seconds(line.ts) or line.arrival,
                          session=line.session, why=line.why if why is None else why)

    def add(self, pattern: str, *, n: int, ts: str | None, time: float, session: str,
            why: tuple[str, ...]) -> AlertEvent | None:
        """File one alerting line; the event it causes, if any."""
        return self._file(pattern, n=n, ts=ts, time=time, session=session, why=why)[1]

    def _file(self, pattern: str, *, n: int, ts: str | None, time: float, session: str,
              why: tuple[str, ...]) -> tuple[AlertGroup, AlertEvent | None]:
        group = self.group_of(pattern, session)
        kind: str | None = None
        if group is None:
            self.opened += 1
            group = AlertGroup(self.opened, pattern, why, n, ts, time)
            self.groups[group.key] = group
            if len(self.groups) > MAX_GROUPS:
                self.groups.popitem(last=False)
            kind = "open"
        else:
            self.groups.move_to_end(group.key)
            if time - group.last_time > self.quiet_seconds:
                kind = "back"
                group.recent.clear()
                group.last_event_rate = 0.0
        self._remember(self._by_pattern, pattern, group.key)
        self._remember(self._by_session, session, group.key)
        group.count += 1
        group.last_n, group.last_ts, group.last_time = n, ts, time
        if session not in group._seen:
            if len(group._seen) < MAX_COUNTED_SESSIONS:
                group._seen.add(session)
            if len(group.sessions) < MAX_GROUP_SESSIONS:
                group.sessions.append(session)
            group.session_count += 1
        recent = group.recent
        recent.append(time)
        while recent and time - recent[0] > self.rate_window:
            recent.popleft()
        if kind is None:
            # A jump: this window holds rate_jump times what the group last told about, and at
            # least min_burst alerts. After each event the bar moves up, so a growing storm is
            # told about a few times (10, 50, 250 a minute), never once per line.
            # Sustained: a traceback's ten lines in one second are one event, not a jump.
            rate = len(recent)
            sustained = recent[-1] - recent[0] >= self.rate_window / 4
            if sustained and rate >= self.min_burst and rate >= self.rate_jump * max(group.last_event_rate, 1.0):
                kind = "rate"
        if kind is None:
            return group, None
        group.last_event_rate = max(group.last_event_rate, float(len(recent)))
        return group, AlertEvent(kind, group, n, ts, why)
