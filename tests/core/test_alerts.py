"""The one alert decision and the grouping of alerts, without a model."""

from __future__ import annotations

import pytest

from logwatch.core.alerts import (
    ERROR_LEVELS,
    SIGNALS,
    WARNING_LEVELS,
    AlertGroups,
    AlertRule,
    canonical_level,
    is_error_level,
    level_names,
)

KNOWN = frozenset({"INFO nova.compute.manager Claim successful", "ERROR nova.virt routine retry"})


def _why(rule: AlertRule, *, loss: float | None = 0.1, level: str | None = "INFO", message: str = "x",
         pattern: str = "INFO nova.compute.manager Claim successful", count: int = 1) -> tuple[str, ...]:
    return rule.reasons(loss=loss, level=level, message=message, pattern=pattern, surprising_in_session=count)


def test_each_signal_gives_its_reason() -> None:
    rule = AlertRule(threshold=1.5, normal_patterns=KNOWN, known_margin=1.0)
    assert _why(rule) == ()
    assert _why(rule, loss=12.3) == ("surprise 12.30 > 1.50",)
    assert _why(rule, loss=0.2, level="ERROR", pattern="ERROR nova disk full") == ("error-level", "new-pattern")
    assert _why(rule, loss=0.2, level="ERROR", pattern="ERROR nova.virt routine retry") == ()  # a normal error
    assert _why(rule, loss=0.2, level="WARNING", pattern="WARNING nova never seen") == ("new-pattern",)
    assert _why(rule, loss=0.2, level="INFO", pattern="INFO never seen") == ()  # new but quiet and routine-looking
    assert _why(rule, loss=3.0, level="INFO", pattern="INFO never seen") == ("surprise 3.00 > 1.50", "new-pattern")
    tb = _why(rule, level=None, message='  File "/usr/lib/python2.7/x.py", line 3, in f', pattern="  File <PATH>")
    assert tb == ("error-level",)  # a traceback line counts as an error whatever its level


def test_k_lines_rule_and_signals_alone() -> None:
    rule = AlertRule(threshold=1.5, min_lines=2, normal_patterns=KNOWN, known_margin=1.0)
    assert _why(rule, loss=9.0, count=1) == () and _why(rule, loss=9.0, count=2) == ("surprise 9.00 > 1.50",)
    only_severity = rule.with_signals(["severity"])
    assert _why(only_severity, loss=9.0, count=5) == ()
    assert _why(only_severity, level="FATAL", pattern="FATAL x") == ("error-level",)
    assert not AlertRule.off().active and _why(AlertRule.off(), loss=99.0, level="ERROR", pattern="E") == ()


def test_a_known_pattern_must_surprise_by_the_margin_a_new_one_need_not() -> None:
    rule = AlertRule(threshold=1.5, normal_patterns=KNOWN)  # the product's default margin
    assert rule.known_margin == 1.5
    assert _why(rule, loss=2.2) == ()  # a known routine line a little over the threshold
    assert _why(rule, loss=2.3) == ("surprise 2.30 > 2.25",)
    assert _why(rule, loss=1.6, pattern="INFO never seen") == ("surprise 1.60 > 1.50", "new-pattern")
    assert rule.surprise_bar("INFO nova.compute.manager Claim successful") == 2.25
    assert rule.surprise_bar("INFO never seen") == 1.5 and AlertRule.off().surprise_bar("x") is None


def test_a_known_routine_line_that_surprises_by_its_place_is_left_to_the_session_check() -> None:
    rule = AlertRule(threshold=1.5, normal_patterns=KNOWN)
    known = "INFO nova.compute.manager Claim successful"

    def why(**kw: object) -> tuple[str, ...]:
        args: dict = {"loss": 9.0, "level": "INFO", "message": "x", "pattern": known, "surprising_in_session": 1}
        return rule.reasons(**(args | kw))

    assert rule.order_surprise(loss=9.0, level="INFO", pattern=known)
    assert why(normal_mix=True) == () and why() == ("surprise 9.00 > 2.25",)  # the mix so far is no normal one
    assert why(level=None, normal_mix=True) == ()  # a line without a level is no warning either
    # what still alerts in a normal mix: a warning, a new pattern, a surprise under the bar is none at all
    assert not rule.order_surprise(loss=9.0, level="WARNING", pattern=known)
    assert why(level="WARNING", normal_mix=True) == ("surprise 9.00 > 2.25",)
    assert why(pattern="INFO never seen", normal_mix=True) == ("surprise 9.00 > 1.50", "new-pattern")
    assert not rule.order_surprise(loss=2.0, level="INFO", pattern=known)
    # no session check among the signals: nothing judges the session later, so the line alerts
    alone = rule.with_signals(["surprise", "severity", "novelty"])
    assert not alone.order_surprise(loss=9.0, level="INFO", pattern=known)
    assert alone.reasons(loss=9.0, level="INFO", message="x", pattern=known, surprising_in_session=1,
                         normal_mix=True) == ("surprise 9.00 > 2.25",)
    assert not AlertRule(threshold=1.5).order_surprise(loss=9.0, level="INFO", pattern=known)  # nothing known


STARTED = "INFO nova.compute.manager [instance: <UUID>] Took <NUM> seconds to build instance."
STOPPING = "INFO nova.compute.manager [instance: <UUID>] Stopping instance"
STOPPED = "INFO nova.compute.manager [instance: <UUID>] VM Stopped (Lifecycle Event)"


def test_a_known_line_after_one_it_never_followed_surprises_by_its_top_token() -> None:
    rule = AlertRule(threshold=1.5, normal_patterns=frozenset({STARTED, STOPPING, STOPPED}),
                     normal_pairs=frozenset({(STARTED, STOPPING), (STOPPING, STOPPED)}), token_threshold=4.83)

    def why(**kw: object) -> tuple[str, ...]:
        args: dict = {"loss": 0.97, "level": "INFO", "message": "x", "pattern": STOPPED, "surprising_in_session": 0,
                      "after": STARTED, "top_token": 5.39}
        return rule.reasons(**(args | kw))

    reasons = why()
    assert len(reasons) == 1 and reasons[0].startswith("new order: after '") and "(token 5.39 > 4.83)" in reasons[0]
    assert "Took <NUM> seconds to build instance." in reasons[0]
    assert why(after=STOPPING) == ()  # the order normal sessions have
    assert why(top_token=4.83) == ()  # new order, but nothing in the line surprised the model
    assert why(after=None) == ()  # a session's first line follows nothing
    assert why(after="INFO never seen before") == ()  # after a new line, everything is new: novelty's to judge
    assert why(pattern="INFO never seen", after=STARTED) == ()  # a new line is novelty's and the mean loss's
    assert why(loss=9.0, surprising_in_session=1) == ("surprise 9.00 > 2.25",)  # over the bar anyway: one reason, the stronger
    assert rule.with_signals(["severity", "novelty"]).reasons(
        loss=0.97, level="INFO", message="x", pattern=STOPPED, surprising_in_session=0, after=STARTED,
        top_token=5.39) == ()  # part of the surprise signal
    # A model without pairs (older directories) or a calibration without a token threshold: off.
    for older in (AlertRule(threshold=1.5, normal_patterns=rule.normal_patterns, token_threshold=4.83),
                  AlertRule(threshold=1.5, normal_patterns=rule.normal_patterns, normal_pairs=rule.normal_pairs)):
        assert not older.new_order(pattern=STOPPED, after=STARTED, top_token=50.0)
    # Where a session check judges, it is an order surprise like any other: it waits while the
    # session's lines still fit a normal mix.
    assert rule.order_surprise(loss=0.97, level="INFO", pattern=STOPPED, after=STARTED, top_token=5.39)
    assert why(normal_mix=True) == ()
    assert not rule.order_surprise(loss=0.97, level="WARNING", pattern=STOPPED, after=STARTED, top_token=5.39)


def test_without_known_patterns_novelty_is_off_and_every_error_is_unknown() -> None:
    rule = AlertRule(threshold=None)
    assert _why(rule, loss=50.0, level="WARNING", pattern="W new") == ()  # no threshold, no reference
    assert _why(rule, level="ERROR", pattern="ERROR nova.virt routine retry") == ("error-level",)


def test_unknown_signals_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown alert signal"):
        AlertRule(threshold=1.0, signals=frozenset({"vibes"}))
    assert set(SIGNALS) == {"surprise", "severity", "novelty", "session"}


def test_error_levels_of_other_formats() -> None:
    assert is_error_level("SEVERE", "x") and is_error_level("FAILURE", "x") and not is_error_level("INFO", "ok")
    assert is_error_level(None, "Traceback (most recent call last):")
    assert is_error_level(None, "libvirtError: internal error") and not is_error_level(None, "no error here")



def test_level_names_are_one_ladder_with_aliases() -> None:
    assert canonical_level("warn") == canonical_level(" WARNING ") == "WARNING"
    assert canonical_level("Fatal") == "CRITICAL" and canonical_level("severe") == canonical_level("FAILURE") == "ERROR"
    assert canonical_level("WARNINGING") is None and canonical_level("LOUD") is None and canonical_level("") is None
    assert level_names(["CRITICAL"]) == {"CRITICAL", "FATAL"} and level_names(["INFO"]) == {"INFO"}
    # The alert rule's sets are rungs of the same ladder, and what they always were.
    assert {"ERROR", "CRITICAL", "FATAL", "SEVERE", "FAILURE"} == ERROR_LEVELS
    assert ERROR_LEVELS | {"WARNING", "WARN"} == WARNING_LEVELS


def test_a_storm_is_one_group_told_about_at_open_on_rate_jumps_and_when_it_comes_back() -> None:
    groups = AlertGroups(quiet_seconds=600, rate_window=60, rate_jump=5, min_burst=10)
    events = []
    # one pattern across 50 sessions: a minute at 1 a second, then a minute at 10 a second
    times = [1000.0 + i for i in range(60)] + [1060.0 + k * 0.1 for k in range(600)]
    for i, time in enumerate(times):
        event = groups.add("ERROR disk full", n=i + 1, ts=None, time=time, session=f"s{i % 50}",
                           why=("error-level",))
        if event is not None:
            events.append(event)
    # told at the first line; once the rate has held for a quarter of the window (16 a minute);
    # then each time the minute's count is five times the last told (80, 400): four events, not 660
    assert [(e.kind, e.n) for e in events] == [("open", 1), ("rate", 16), ("rate", 83), ("rate", 438)]
    burst = AlertGroups(rate_window=60, min_burst=10)
    told = [burst.add("ERROR Traceback", n=i, ts=None, time=5.0 + i * 0.05, session="vm", why=("error-level",))
            for i in range(1, 21)]  # a traceback's twenty lines in one second: news once
    assert [e.kind for e in told if e is not None] == ["open"]
    group = groups.groups[1]
    assert group.count == 660 and group.session_count == 50 and len(group.sessions) == 20
    assert (group.first_n, group.last_n) == (1, 660)
    other = groups.add("WARNING other", n=661, ts=None, time=1121, session="x", why=("new-pattern",))
    assert other is not None and other.kind == "open" and other.group.key == 2
    assert groups.add("ERROR disk full", n=662, ts=None, time=1300, session="s1", why=()) is None  # still busy
    back = groups.add("ERROR disk full", n=663, ts=None, time=2000, session="s1", why=("error-level",))
    assert back is not None and back.kind == "back"
    assert back.to_json_dict()["alert"] == "back" and back.to_json_dict()["count"] == 662


def test_a_sessions_story_is_one_group_and_its_pattern_elsewhere_joins_it() -> None:
    groups = AlertGroups()
    opened = [groups.add(p, n=n, ts=None, time=float(n), session=s, why=("error-level",))
              for n, (p, s) in enumerate([("ERROR spawn failed", "vm1"), ("ERROR Traceback", "vm1"),
                                          ("INFO Terminating instance", "vm1"),  # cleanup: the same story
                                          ("ERROR spawn failed", "vm2"),  # the same failure elsewhere
                                          ("WARNING disk low", "host"),  # another problem
                                          ("INFO Terminating instance", "vm3")], 1)]
    assert [e.kind if e else None for e in opened] == ["open", None, None, None, "open", None]
    assert groups.group_of("INFO Terminating instance", "vm3") is groups.groups[1]
    assert groups.groups[1].count == 5 and groups.groups[1].sessions == ["vm1", "vm2", "vm3"]
    assert groups.groups[2].sessions == ["host"]


def test_a_scored_line_is_filed_by_its_pattern_and_its_own_clock() -> None:
    from logwatch.core.types import ScoredLine

    groups = AlertGroups(quiet_seconds=60)
    first = ScoredLine(n=1, source="s", arrival=5.0, text="ERROR nova.x disk 7 full", session="vm1",
                       pattern="ERROR nova.x disk <NUM> full", ts="2017-05-16 00:00:00.000", why=("error-level",))
    group, event = groups.add_line(first)
    assert event is not None and event.kind == "open" and group.pattern == "ERROR nova.x disk <NUM> full"
    later = ScoredLine(n=2, source="s", arrival=6.0, text="ERROR nova.x disk 9 full", session="vm2",
                       pattern="ERROR nova.x disk <NUM> full", ts="2017-05-16 00:05:00.000", why=("error-level",))
    again, back = groups.add_line(later, why=("session-check 3.0 > 1.0",))
    # the same pattern elsewhere joins the group; five minutes of the log's clock (not the one
    # second of arrival) is a quiet spell, so the group is back, told with the reasons given
    assert again is group and back is not None and back.kind == "back" and back.why == ("session-check 3.0 > 1.0",)


def test_groups_read_the_pattern_a_line_carries_not_its_text() -> None:
    """The engine masks each line once; grouping takes that pattern and never masks the text again."""
    from logwatch.core.types import ScoredLine

    def alert(n: int, text: str, session: str, pattern: str) -> ScoredLine:
        return ScoredLine(n=n, source="s", arrival=float(n), text=text, session=session, pattern=pattern,
                          why=("error-level",))

    groups = AlertGroups()
    group, _ = groups.add_line(alert(1, "ERROR nova.x disk 7 full", "vm1", "carried pattern A"))
    assert group.pattern == "carried pattern A"
    # Other text, the same carried pattern, another session: it joins A's group.
    joined, event = groups.add_line(alert(2, "WARNING something else entirely", "vm2", "carried pattern A"))
    assert joined is group and event is None
    # The first line's very text, but carrying another pattern, in a third session: a new group.
    other, opened = groups.add_line(alert(3, "ERROR nova.x disk 7 full", "vm3", "carried pattern B"))
    assert other is not group and opened is not None and opened.kind == "open" and other.pattern == "carried pattern B"
