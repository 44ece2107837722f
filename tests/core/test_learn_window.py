"""When a learning window is complete: two hours of the log's time, within line bounds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from logwatch.core.learning.learn_window import WindowGauge, WindowRule
from logwatch.core.types import LogLine

START = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


def _stamped(n: int, seconds_apart: float, first: int = 1) -> list[LogLine]:
    return [LogLine(i, f"{(START + timedelta(seconds=(i - 1) * seconds_apart)).isoformat(sep=' ')} 7 INFO nova.x [-] line {i}",
                    "log", 0.0) for i in range(first, first + n)]


def _plain(n: int, first: int = 1) -> list[LogLine]:
    return [LogLine(i, f"INFO nova.compute.manager [req-1] line {i}", "log", 0.0) for i in range(first, first + n)]


def _fill(gauge: WindowGauge, lines: list[LogLine], batch: int) -> int | None:
    """Feed in batches; the line count at which the window said it was complete."""
    for start in range(0, len(lines), batch):
        gauge.add(lines[start:start + batch])
        if gauge.complete:
            return gauge.lines
    return None


def test_a_stamped_log_grows_until_it_covers_the_span() -> None:
    rule = WindowRule(min_lines=500, span_seconds=3_000, max_lines=10_000)
    # One line a second: 3,000 s are covered at line 3,001, past the fewest lines.
    assert _fill(WindowGauge(rule), _stamped(8_000, 1.0), batch=100) == 3_100


def test_a_dense_log_stops_at_the_most_lines_and_a_sparse_one_at_the_fewest() -> None:
    rule = WindowRule(min_lines=500, span_seconds=3_000, max_lines=2_000)
    dense = WindowGauge(rule)
    assert _fill(dense, _stamped(5_000, 0.1), batch=300) == 2_000  # never counts past the bound
    assert dense.span_seconds < 3_000
    assert _fill(WindowGauge(rule), _stamped(5_000, 60.0), batch=100) == 500
    assert _fill(WindowGauge(rule), _stamped(5_000, 60.0), batch=333) == 500  # not the crossing batch's end


def test_a_log_without_a_clock_is_learned_from_the_fewest_lines() -> None:
    rule = WindowRule(min_lines=1_000, span_seconds=3_000, max_lines=10_000)
    assert _fill(WindowGauge(rule), _plain(5_000), batch=100) == 1_000
    # A stray dated line now and then (a message quoting a date) is no clock either.
    mixed = _plain(5_000)
    for i in range(0, 5_000, 400):
        mixed[i] = LogLine(i + 1, f"{(START + timedelta(hours=i)).isoformat(sep=' ')} 7 INFO nova.x [-] dated", "log", 0.0)
    assert _fill(WindowGauge(rule), mixed, batch=100) == 1_000


def test_learn_n_takes_exactly_n_lines() -> None:
    gauge = WindowGauge(WindowRule.exactly(700))
    assert _fill(gauge, _stamped(3_000, 0.01), batch=300) == 700
    assert WindowGauge(WindowRule.exactly(700)).rule.max_lines == 700


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40),
       st.floats(min_value=0.0, max_value=20.0))
def test_the_gauge_counts_every_line_up_to_the_bound_however_batched(sizes: list[int], apart: float) -> None:
    rule = WindowRule(min_lines=100, span_seconds=600, max_lines=2_000)
    gauge = WindowGauge(rule)
    lines = _stamped(sum(sizes), apart)
    at = 0
    for size in sizes:
        gauge.add(lines[at:at + size])
        at += size
    assert gauge.span_seconds <= apart * max(0, at - 1) + 1e-6
    if gauge.complete:  # ends at a batch's end, or at the fewest lines when the crossing batch completed it
        assert rule.min_lines <= gauge.lines <= min(at, rule.max_lines)
    else:
        assert gauge.lines == at < rule.max_lines


def test_status_says_what_the_window_waits_for() -> None:
    rule = WindowRule(min_lines=100, span_seconds=7_200, max_lines=10_000)
    gauge = WindowGauge(rule)
    gauge.add(_stamped(50, 1.0))
    assert gauge.target() == ""  # not growing yet: the count says it all
    gauge.add(_stamped(200, 1.0, first=51))
    assert gauge.target().startswith("2 h 00 min of the log (covered 4 min")
    gauge.add(_stamped(7_000, 1.0, first=251))
    assert gauge.complete and gauge.target() == ""
