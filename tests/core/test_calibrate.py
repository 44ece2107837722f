"""Calibration: the threshold keeps the share of flagged normal sessions within budget."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logwatch.core.calibrate import calibrate, kth_largest, session_losses, threshold_for_fpr
from logwatch.core.types import ScoredLine


def test_kth_largest() -> None:
    assert kth_largest([1.0, 5.0, 3.0], 1) == 5.0
    assert kth_largest([1.0, 5.0, 3.0], 2) == 3.0
    assert kth_largest([1.0], 2) == -math.inf


@given(st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=300), st.floats(0, 0.5))
def test_threshold_flags_at_most_the_budget(scores: list[float], max_fpr: float) -> None:
    t = threshold_for_fpr(scores, max_fpr)
    flagged = sum(s > t for s in scores)
    assert flagged <= math.floor(max_fpr * len(scores) + 1e-9)
    assert t in scores  # the threshold is one of the scores: no slack above the budget


def test_max_fpr_rule_with_k_lines() -> None:
    rng = random.Random(0)
    sessions = {f"s{i}": [rng.uniform(0, 2) for _ in range(20)] for i in range(200)}
    sessions["noisy"] = [9.0] + [0.1] * 19  # one spike: flagged with k=1, not with k=2
    one = calibrate(sessions, max_fpr=0.0, min_lines=1)
    two = calibrate(sessions, max_fpr=0.0, min_lines=2)
    assert one.line_threshold == 9.0 and one.flagged_sessions == 0
    assert two.line_threshold < 2.0 and two.min_lines == 2
    loose = calibrate(sessions, max_fpr=0.05)
    assert loose.flagged_sessions <= 0.05 * len(sessions)
    assert loose.line_threshold < one.line_threshold


def test_study_rule_is_mean_plus_three_sigma() -> None:
    sessions = {"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0]}
    cal = calibrate(sessions, method="mean+3sigma")
    values = [1.0, 2.0, 3.0, 2.0, 2.0]
    mean = sum(values) / 5
    sd = (sum((v - mean) ** 2 for v in values) / 5) ** 0.5
    assert cal.line_threshold == pytest.approx(mean + 3 * sd, abs=1e-6)
    assert cal.method == "mean+3sigma" and cal.max_fpr is None


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "median"}, "unknown calibration method"),
    ({"max_fpr": 1.5}, "max-fpr"),
    ({"min_lines": 0}, "min-lines"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate({"a": [1.0]}, **kwargs)


def test_empty_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="no scored"):
        calibrate({"a": []})


def test_session_losses_skips_unscored_lines() -> None:
    lines = [ScoredLine(n=1, source="x", arrival=0, text="a", session="s", pattern="a", loss=1.5),
             ScoredLine(n=2, source="x", arrival=0, text="b", session="s", pattern="b", loss=None),
             ScoredLine(n=3, source="x", arrival=0, text="c", session="t", pattern="c", loss=0.5)]
    assert session_losses(lines) == {"s": [1.5], "t": [0.5]}


def test_threshold_for_fpr_keeps_the_false_alarm_budget_on_any_scores() -> None:
    rng = random.Random(5)
    for _ in range(300):
        n = rng.randint(1, 300)
        scores = [float(rng.randrange(rng.choice([5, 50, 10**6]))) for _ in range(n)]
        max_fpr = rng.choice([0.0, 0.001, 0.01, 0.05, 0.29, 0.5, 0.99])
        t = threshold_for_fpr(scores, max_fpr)
        assert sum(1 for s in scores if s > t) <= max_fpr * n + 1e-9
        below = [s for s in scores if s < t]
        if below:  # smallest such t: the next lower score would break the budget
            lower = max(below)
            assert sum(1 for s in scores if s > lower) > max_fpr * n


def test_threshold_for_fpr_errors() -> None:
    assert threshold_for_fpr([3.0, 1.0, 2.0], 0.0) == 3.0
    with pytest.raises(ValueError, match="max_fpr"):
        threshold_for_fpr([1.0], 1.0)
    with pytest.raises(ValueError, match="no normal"):
        threshold_for_fpr([], 0.1)
    with pytest.raises(ValueError, match="NaN"):
        threshold_for_fpr([1.0, math.nan], 0.1)


@given(st.lists(st.floats(0, 20, allow_nan=False), min_size=20, max_size=200), st.floats(0.01, 0.3),
       st.sets(st.integers(0, 199), max_size=30))
def test_sessions_the_session_check_flags_count_against_the_same_budget(scores: list[float], max_fpr: float,
                                                                        checked: set[int]) -> None:
    sessions = {str(i): [s] for i, s in enumerate(scores)}
    flagged_by_check = {str(i) for i in checked if i < len(scores)}
    alone = calibrate(sessions, max_fpr=max_fpr)
    joint = calibrate(sessions, max_fpr=max_fpr, flagged_elsewhere=flagged_by_check)
    budget = math.floor(max_fpr * len(scores) + 1e-9)
    by_line = {k for k, (s,) in sessions.items() if s > joint.line_threshold}
    assert joint.line_threshold >= alone.line_threshold  # never more line alerts than the line rule alone
    # the line rule adds only what the check left of the budget (nothing once the check used it up)
    assert len(by_line - flagged_by_check) <= max(budget - len(flagged_by_check), 0)
    if flagged_by_check:
        assert len(by_line | flagged_by_check) <= joint.details["flagged_with_session_check"]
        assert joint.details["flagged_with_session_check"] <= max(budget, len(flagged_by_check))


def test_the_token_threshold_is_the_largest_token_loss_most_normal_lines_stay_under(tmp_path) -> None:
    from logwatch.core.calibrate import TOKEN_QUANTILE, Calibration, costliest_token_losses, token_threshold
    from logwatch.core.spec import ModelDirError

    maxima = [float(i) for i in range(1, 2001)]  # 2,000 lines: 0.1% of them (2) may be over it
    assert TOKEN_QUANTILE == 0.999 and token_threshold(maxima) == 1998.0
    assert token_threshold([]) is None and token_threshold([math.nan, 2.0]) == 2.0
    lines = [ScoredLine(n=1, source="f", arrival=0.0, text="a", session="s", pattern="a", tokens=(("a", 0.5), ("b", 3.25))),
             ScoredLine(n=2, source="f", arrival=0.0, text="b", session="s", pattern="b")]  # not scored: no tokens
    assert costliest_token_losses(lines) == [3.25]
    result = calibrate({"s": [0.1, 0.2]}, token_maxima=[1.0, 4.0])
    assert result.token_threshold == 4.0 and calibrate({"s": [0.1]}).token_threshold is None
    result.save(tmp_path)
    assert Calibration.load(tmp_path) == result
    (tmp_path / "calibration.json").write_text('{"line_threshold": 1.0, "token_threshold": "NaN"}')
    with pytest.raises(ModelDirError, match="token_threshold"):
        Calibration.load(tmp_path)
