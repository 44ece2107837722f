"""The session-completeness check on its own: fit, threshold, storage, and what it refuses."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from logwatch.core.session_check import SessionCheck, SessionCheckError


def _normal(n: int, offset: int = 0) -> dict[str, list[str]]:
    """Sessions that open, do 2-4 steps and close: the same story with varying lengths."""
    return {f"s{i + offset}": ["INFO open", *(["INFO step"] * (2 + (i + offset) % 3)), "INFO close"] for i in range(n)}


def test_fit_sets_the_threshold_on_held_out_normal_sessions_and_flags_a_session_that_stopped() -> None:
    check = SessionCheck.fit(_normal(60), _normal(40, offset=100), max_fpr=0.05)
    assert check.enabled and check.normal_sessions == 40
    scores = check.score_many(_normal(40, offset=100))
    assert sum(check.flags(s) for s in scores.values()) <= 2  # the 5% budget on the calibration set
    stopped = check.score_many({"early": ["INFO open", "INFO step"], "new": ["INFO open", "ERROR disk", "INFO close"]})
    assert check.flags(stopped["early"]) and check.flags(stopped["new"])
    assert stopped["new"] >= 1.0  # an unseen line counts one whole unit on top of the distance


def test_it_round_trips_through_calibration_json_exactly() -> None:
    check = SessionCheck.fit(_normal(30), _normal(10, offset=50), max_fpr=0.1)
    again = SessionCheck.from_dict(json.loads(json.dumps(check.to_dict())))
    probe = {"a": ["INFO open", "INFO close"], "b": ["INFO open", "INFO step", "INFO step", "INFO close"]}
    assert again.score_many(probe) == check.score_many(probe)
    assert again.threshold == check.threshold and again.storable()
    assert check.score_many({"c": Counter(probe["b"])}) == check.score_many({"c": probe["b"]})


def test_operator_confirmed_sessions_extend_the_reference() -> None:
    check = SessionCheck.fit(_normal(30), _normal(10, offset=50), max_fpr=0.1)
    odd = Counter(["INFO open", "INFO migrate", "INFO close"])
    assert check.flags(check.score_many({"x": odd})["x"])
    wider = check.extended([odd])
    assert not wider.flags(wider.score_many({"x": odd})["x"]) and wider.threshold == check.threshold


@pytest.mark.parametrize("data, message", [
    ({"kind": "other"}, "not a"),
    ({"kind": "count-vector-knn", "version": 99}, "newer"),
    ({"kind": "count-vector-knn", "templates": ["a"], "vectors": [[[[5, 1]], 1]], "threshold": 0.1}, "unknown template"),
    ({"kind": "count-vector-knn", "templates": ["a"], "vectors": [], "threshold": 0.1}, "no reference"),
    ({"kind": "count-vector-knn", "templates": ["a"], "vectors": "x", "threshold": 0.1}, "malformed"),
    # counts a hostile file could use to exhaust memory when the reference is rebuilt
    ({"kind": "count-vector-knn", "templates": ["a"], "vectors": [[[[0, 10**30]], 1]], "threshold": 0.1}, "count"),
    ({"kind": "count-vector-knn", "templates": ["a"], "vectors": [[[[0, 1]], 10**15]], "threshold": 0.1}, "count"),
    ({"kind": "count-vector-knn", "templates": ["a"], "vectors": [[[[0, 1]], 0]], "threshold": 0.1}, "count"),
    ({"kind": "count-vector-knn", "templates": [str(i) for i in range(20_001)], "vectors": [[[[0, 1]], 1]],
      "threshold": 0.1}, "too big"),
])
def test_a_damaged_stored_check_is_one_clear_error(data: dict, message: str) -> None:
    with pytest.raises(SessionCheckError, match=message):
        SessionCheck.from_dict(data)


def test_fitting_needs_sessions() -> None:
    with pytest.raises(ValueError, match="held-out"):
        SessionCheck.fit(_normal(5), {}, max_fpr=0.1)
    with pytest.raises(ValueError, match="non-empty"):
        SessionCheck.fit({"a": []}, _normal(5), max_fpr=0.1)


def test_a_running_sessions_mix_fits_when_one_normal_session_holds_all_of_it() -> None:
    reference = {"a": ["INFO open", "INFO step", "INFO step", "INFO close"], "b": ["INFO open", "INFO retry", "INFO close"]}
    check = SessionCheck.fit(reference, _normal(5), max_fpr=0.5)
    assert check.fits_normal_mix(Counter(["INFO open", "INFO step"]))  # a's beginning
    assert check.fits_normal_mix(Counter(["INFO close", "INFO step", "INFO step"]))  # order is not its question
    assert not check.fits_normal_mix(Counter(["INFO step"] * 3))  # more steps than any normal session
    assert not check.fits_normal_mix(Counter(["INFO step", "INFO retry"]))  # each is normal, never together
    assert not check.fits_normal_mix(Counter(["INFO open", "INFO never seen"]))
    assert check.fits_normal_mix(Counter())  # nothing yet: any normal session can follow
    again = SessionCheck.from_dict(json.loads(json.dumps(check.to_dict())))
    assert again.fits_normal_mix(Counter(["INFO retry"])) and not again.fits_normal_mix(Counter(["INFO retry"] * 2))


def test_a_stored_reference_with_huge_counts_is_rebuilt_without_spelling_them_out() -> None:
    """A session of a million lines of one template (an unkeyed catch-all) costs no million strings."""
    data = {"kind": "count-vector-knn", "templates": ["INFO tick", "INFO tock"], "threshold": 0.1,
            "vectors": [[[[0, 10**9]], 3], [[[0, 2], [1, 2]], 10**6]]}
    check = SessionCheck.from_dict(data)
    scores = check.score_many({"like_the_many": Counter({"INFO tick": 5, "INFO tock": 5}),
                               "half_and_half": Counter({"INFO tick": 1, "INFO tock": 3})})
    assert scores["like_the_many"] < 1e-9 < scores["half_and_half"] < 1.0
    assert check.fits_normal_mix(Counter({"INFO tick": 10**9})) and not check.fits_normal_mix(Counter({"INFO tock": 3}))
