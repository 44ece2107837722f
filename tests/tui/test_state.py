"""The monitor's headless state, without an app: what each batch files where, and what it changes."""

from __future__ import annotations

from logwatch.core.masking import mask_line
from logwatch.core.types import ScoredLine, SessionEnd
from logwatch.tui.state import ALL, AppLimits, MonitorState


def _line(n: int, session: str, loss: float = 0.1, alert: bool = False) -> ScoredLine:
    text = f"{session} line {n}"
    return ScoredLine(n=n, source="x.log", arrival=float(n), text=text, session=session, pattern=mask_line(text),
                      loss=loss, alert=alert)


def test_lines_are_filed_per_session_and_shown_in_the_current_view() -> None:
    state = MonitorState()
    changes = state.add_lines([_line(1, "a"), _line(2, "b"), _line(3, "a", 2.5)])
    assert [x.n for x in changes.shown] == [1, 2, 3]
    assert state.sessions["a"].count == 2 and state.sessions["a"].max_loss == 2.5
    assert list(state.stream_losses) == [0.1, 0.1, 2.5]
    assert state.focused == "a"  # the first keyed session gets the sparkline
    assert [x.n for x in state.show("b") or []] == [2]
    assert state.view == "b" and state.focused == "b"
    assert [x.n for x in state.add_lines([_line(4, "a"), _line(5, "b")]).shown] == [5]
    assert state.show("nope") is None and state.view == "b"
    assert len(state.show(ALL) or []) == 5


def test_a_session_alerts_once_at_the_line_that_crossed_the_rule() -> None:
    state = MonitorState()
    changes = state.add_lines([_line(1, "a"), _line(2, "a", 9.0, alert=True), _line(3, "a", 9.5, alert=True),
                               _line(4, "b", 8.0, alert=True)])
    assert [(a.line.n, a.event.kind) for a in changes.alerts] == [(2, "open"), (4, "open")]  # two groups opened
    assert state.alert_count == 2 and [g.key for g in state.alert_rows()] == [2, 1]  # newest first
    assert [g.count for g in state.alert_rows()] == [1, 2]  # a's two alert lines are one group
    assert [x.n for x in state.group_lines(1)] == [2, 3]
    assert state.focused == "b"  # the newest alert's session
    assert [v.key for v in state.session_rows()][:2] == ["b", "a"]  # alerted first, most recent first
    assert state.take_changes() == (True, True)
    assert state.take_changes() == (False, False)


def test_unkeyed_lines_do_not_take_the_sparkline() -> None:
    state = MonitorState()
    state.add_lines([_line(1, "<unkeyed:x.log>"), _line(2, "<unkeyed:x.log>")])
    assert state.focused is None
    state.add_lines([_line(3, "req-1")])
    assert state.focused == "req-1"


def test_session_check_verdicts_alert_a_session_at_its_last_line() -> None:
    state = MonitorState()
    state.add_lines([_line(1, "a"), _line(2, "a"), _line(3, "b", 9.0, alert=True)])
    ends = [SessionEnd("a", 2, 2, 0.7, 0.5, True), SessionEnd("b", 3, 1, 0.9, 0.5, True),
            SessionEnd("gone", 9, 1, 0.9, 0.5, True), SessionEnd("a", 2, 2, 0.1, 0.5, False)]
    new = state.add_ends(ends)
    assert [(a.line.n, a.ended, a.event.kind) for a in new] == [(2, ends[0], "open")]  # b had alerted; "gone" unknown
    assert state.alert_count == 2 and state.sessions["a"].alerted


def test_memory_stays_bounded_and_alerted_sessions_are_kept_longest() -> None:
    limits = AppLimits(all_lines=50, session_lines=5, sessions=10, alerts=3, spark_points=4)
    state = MonitorState(limits)
    state.add_lines([_line(1, "alarm", 9.0, alert=True)])
    state.add_lines([_line(n, f"s{n % 30}") for n in range(2, 200)])
    state.add_lines([_line(200 + n, f"z{n}", 9.0, alert=True) for n in range(5)])
    assert len(state.all_lines) == 50 and len(state.stream_losses) == 4
    assert len(state.sessions) <= 10 and "alarm" in state.sessions
    assert all(len(v.lines) <= 5 for v in state.sessions.values())
    assert len(state.alert_rows()) == 3 and state.alert_count == 6
