"""What operator feedback would change: replay a scored log with an operator who marks false alarms.

A detector trained on an earlier period flags every routine operation that period never showed
(HDFS re-replication, docs/EVALUATION.md §1): no threshold can tell "new and fine" from "new
and broken" without being told once. The monitor's answer is the ``m`` key
(:mod:`.known_normal`): the operator confirms an alert's line as normal and that pattern never
alerts again. This module measures what that is worth on labelled logs, honestly:

* alerts reach the operator in the order they would fire live (the line rule at the line that
  crossed it, the session check when the session closes), and only what was marked *before*
  an alert fired can silence it;
* each false alarm the operator reviews costs one mark, up to ``reviews``; a session alerted by
  the line rule gets its crossing line's pattern marked (exactly what ``m`` does), a session
  alerted by the session check joins the check's normal reference (``sessions_too``: what the
  same key would do once the check runs live; today it runs in ``logwatch eval`` only);
* the reviewed false alarms stay false alarms in the metrics: feedback only helps later ones.

Labels are used only to play the operator (is this alert a false alarm?), never to set a
threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .evaluate import SessionTrace
from .session_check import SessionCheck


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
            if count >= min_lines:
                return n
    return None


def simulate_feedback(traces: Mapping[str, SessionTrace], labels: Mapping[str, bool], *, min_lines: int,
                      check: SessionCheck | None, reviews: int, sessions_too: bool = True) -> FeedbackRun:
    """Replay the alerts in firing order; the operator marks the first ``reviews`` false alarms."""
    marked: dict[str, int] = {}
    reference: list[Counter[str]] = []
    live_check = check if check is not None and check.enabled else None
    check_flags: dict[str, bool] = {}
    run = FeedbackRun(flags={key: False for key in traces})
    pending = set(traces)
    left = reviews

    def rescore_check() -> None:
        if live_check is None:
            return
        scores = live_check.score_many({key: traces[key].templates for key in pending})
        check_flags.update({key: live_check.flags(score) for key, score in scores.items()})

    rescore_check()
    while pending:
        # When each undecided session would alert now; marks only ever delay or cancel alerts,
        # so the earliest one is final and every mark it causes lies before the others' alerts.
        best: tuple[float, str, bool] | None = None
        for key in pending:
            trace = traces[key]
            at: float | None = line_alert_at(trace, min_lines, marked)
            by_line = at is not None
            if at is None and check_flags.get(key):
                at = trace.last_line[0]
            if at is not None and (best is None or (at, key) < best[:2]):
                best = (at, key, by_line)
        if best is None:
            break
        at, key, by_line = best
        pending.discard(key)
        run.flags[key] = True
        if labels[key] or left <= 0:
            continue
        trace = traces[key]
        if by_line:
            pattern = next(p for n, p in trace.surprising if n == at)
            marked[pattern] = int(at)
            run.marked_lines.append(pattern)
            left -= 1
        elif sessions_too and live_check is not None:
            reference.append(trace.templates)
            live_check = check.extended(reference) if check is not None else None
            run.marked_sessions += 1
            left -= 1
            rescore_check()
    return run


def feedback_report(traces: Mapping[str, SessionTrace], labels: Mapping[str, bool], *, min_lines: int,
                    check: SessionCheck | None, reviews: int, sessions_too: bool = True) -> dict[str, object]:
    """Session metrics with the operator in the loop (no AUROC/AUPRC: marks change decisions, not scores)."""
    from .evaluate import metrics_dict, outcomes_for

    run = simulate_feedback(traces, labels, min_lines=min_lines, check=check, reviews=reviews,
                            sessions_too=sessions_too)
    report = metrics_dict(outcomes_for({key: 0.0 for key in traces}, run.flags, labels), None)
    for key in ("auroc", "auprc", "threshold"):
        report.pop(key, None)
    report.update(reviews=reviews, marked_lines=len(run.marked_lines), marked_sessions=run.marked_sessions,
                  sessions_too=sessions_too)
    return report

