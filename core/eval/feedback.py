"""What operator feedback would change: replay a scored log with an operator who marks false alarms.

A detector trained on an earlier period flags every routine operation that period never showed
(HDFS re-replication, docs/EVALUATION.md §1): no threshold can tell "new and fine" from "new
and broken" without being told once. The monitor's answer is the ``m`` / ``M`` keys
(:mod:`.known_normal`): the operator confirms an alert as normal and that pattern never alerts
again. This module measures what that is worth on labelled logs, honestly:

* alerts reach the operator in the order they would fire live (the line rule at the line that
  crossed it, the session check when the session closes), and a mark silences only what comes
  *after* it;
* each false alarm the operator reviews costs one review, up to ``reviews``. With ``scope="line"``
  the review happens when the alert fires and marks the crossing line's pattern (key ``m``);
  with ``scope="session"`` it happens when the session is over and marks the pattern of every
  line of it that was over the threshold (key ``M``);
* a session the session check flagged is added to the check's normal reference when reviewed
  (``sessions_too``: what a review of a session-check alert would do if the monitor fed it back
  to the check; today the monitor's ``m`` / ``M`` mark line patterns only);
* the reviewed false alarms stay false alarms in the metrics: feedback only helps later ones.

Labels are used only to play the operator (is this alert a false alarm?), never to set a
threshold.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..alerts import k_lines_reached
from ..session_check import SessionCheck
from .metrics import decision_metrics
from .traces import SessionTrace

#: When a review happens and what it marks: "line" (key m) or "session" (key M), see above.
SCOPES: tuple[str, ...] = ("line", "session")


@dataclass
class FeedbackRun:
    """Which sessions alerted with an operator in the loop, and what the operator marked."""

    flags: dict[str, bool]
    marked_lines: list[str] = field(default_factory=list)
    """Patterns (masked lines) marked normal, in the order they were marked."""
    marked_sessions: int = 0
    """Sessions added to the session check's normal reference."""


def line_alert_at(trace: SessionTrace, min_lines: int, marked: Mapping[str, int]) -> int | None:
    """Line number where the line rule fires, given patterns marked normal (pattern -> line of the mark)."""
    count = 0
    for n, pattern in trace.surprising:
        when = marked.get(pattern)
        if when is None or n <= when:  # a mark only silences lines that come after it
            count += 1
            if k_lines_reached(count, min_lines):
                return n
    return None


class _Reference:
    """The session check with the sessions reviewed so far, each counted only after its review."""

    def __init__(self, check: SessionCheck | None) -> None:
        self.check = check if check is not None and check.enabled else None
        self.added: list[tuple[int, Counter[str]]] = []  # (line of the review, session), sorted
        self._checks: dict[int, SessionCheck] = {}

    def add(self, when: int, templates: Counter[str]) -> None:
        bisect.insort(self.added, (when, templates), key=lambda item: item[0])
        self._checks.clear()

    def flags(self, traces: Mapping[str, SessionTrace], keys: set[str]) -> dict[str, bool]:
        """Does the check flag each session when it closes, given the reviews made before then?"""
        if self.check is None:
            return {}
        times = [when for when, _ in self.added]
        groups: dict[int, list[str]] = {}
        for key in keys:
            groups.setdefault(bisect.bisect_left(times, traces[key].last_line[0]), []).append(key)
        out: dict[str, bool] = {}
        for known, members in groups.items():
            check = self._checks.get(known)
            if check is None:
                check = self._checks[known] = self.check.extended([t for _, t in self.added[:known]])
            scores = check.score_many({key: traces[key].templates for key in members})
            out.update({key: check.flags(score) for key, score in scores.items()})
        return out


def simulate_feedback(traces: Mapping[str, SessionTrace], labels: Mapping[str, bool], *, min_lines: int,
                      check: SessionCheck | None, reviews: int, scope: str = "line", sessions_too: bool = True,
                      line_rule: bool = True) -> FeedbackRun:
    """Replay the alerts in firing order; the operator reviews the first ``reviews`` false alarms.

    ``line_rule=False`` replays the session check alone (its own row in the experiments).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    marked: dict[str, int] = {}
    reference = _Reference(check)
    run = FeedbackRun(flags=dict.fromkeys(traces, False))
    left = reviews
    changes = 0  # reviews made so far: a queued alert time computed before the last one may be stale
    check_flags = reference.flags(traces, set(traces))

    def alert_at(key: str, flagged: bool | None = None) -> tuple[int, bool] | None:
        """(line where the session alerts now, whether the line rule fired) or None."""
        trace = traces[key]
        at = line_alert_at(trace, min_lines, marked) if line_rule else None
        if at is not None:
            return at, True
        if flagged is None:
            flagged = reference.flags(traces, {key}).get(key, False)
        return (trace.last_line[0], False) if flagged else None

    # A heap of (alert line, session, by line rule, reviews when computed). Reviews only ever
    # delay or cancel alerts, so an entry popped with no review since it was computed is final,
    # and a stale one is recomputed and pushed back (lazy re-evaluation, O(alerts log sessions)).
    heap: list[tuple[int, str, bool, int]] = []
    for key in traces:
        first = alert_at(key, check_flags.get(key, False))
        if first is not None:
            heap.append((first[0], key, first[1], 0))
    heapq.heapify(heap)
    while heap:
        at, key, by_line, seen = heapq.heappop(heap)
        if seen != changes:
            now = alert_at(key)
            if now is not None:
                heapq.heappush(heap, (now[0], key, now[1], changes))
            continue
        run.flags[key] = True
        if labels[key] or left <= 0:
            continue
        left -= 1
        changes += 1
        trace = traces[key]
        if scope == "line" and by_line:
            patterns = [next(p for n, p in trace.surprising if n == at)]
            when = at
        else:
            patterns = list(dict.fromkeys(p for _, p in trace.surprising))
            when = trace.last_line[0]
        for pattern in patterns:
            if pattern not in marked:
                marked[pattern] = when
                run.marked_lines.append(pattern)
        if sessions_too and reference.check is not None and not (scope == "line" and by_line):
            reference.add(when, trace.templates)
            run.marked_sessions += 1
    return run


def feedback_report(traces: Mapping[str, SessionTrace], labels: Mapping[str, bool], *, min_lines: int,
                    check: SessionCheck | None, reviews: int, scope: str = "line", sessions_too: bool = True,
                    line_rule: bool = True) -> dict[str, object]:
    """Session metrics with the operator in the loop (no AUROC/AUPRC: marks change decisions, not scores)."""

    run = simulate_feedback(traces, labels, min_lines=min_lines, check=check, reviews=reviews, scope=scope,
                            sessions_too=sessions_too, line_rule=line_rule)
    return decision_metrics(run.flags, labels, reviews=reviews, scope=scope, marked_lines=len(run.marked_lines),
                            marked_sessions=run.marked_sessions, sessions_too=sessions_too, line_rule=line_rule)
