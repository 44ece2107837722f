"""The simulated operator: marks silence only later alerts, only false alarms are marked, the
budget is respected, and session-check alerts feed the check's reference."""

from __future__ import annotations

from collections import Counter

from logwatch.core.alerts import AlertRule
from logwatch.core.eval.feedback import feedback_report, line_alert_at, simulate_feedback
from logwatch.core.eval.traces import SessionTrace
from logwatch.core.session_check import SessionCheck


def trace(key: str, surprising: list[tuple[int, str]], *, last: int | None = None,
          templates: Counter[str] | None = None) -> SessionTrace:
    t = SessionTrace(key, surprising=surprising, templates=templates or Counter())
    t.last_line = (last if last is not None else max([n for n, _ in surprising], default=1), None)
    return t


def test_one_mark_silences_the_later_false_alarms_of_that_pattern() -> None:
    traces = {"a": trace("a", [(10, "replicate")]), "b": trace("b", [(20, "replicate")]),
              "c": trace("c", [(30, "replicate")]), "bad": trace("bad", [(25, "disk error")])}
    labels = {"a": False, "b": False, "c": False, "bad": True}
    none = simulate_feedback(traces, labels, min_lines=1, check=None, reviews=0)
    assert none.flags == {"a": True, "b": True, "c": True, "bad": True}
    one = simulate_feedback(traces, labels, min_lines=1, check=None, reviews=1)
    assert one.flags == {"a": True, "b": False, "c": False, "bad": True}  # the reviewed one stays a false alarm
    assert one.marked_lines == ["replicate"]
    report = feedback_report(traces, labels, min_lines=1, check=None, reviews=1)
    assert (report["tp"], report["fp"], report["fn"]) == (1, 1, 0) and "auroc" not in report


def test_anomalous_alerts_are_never_marked_and_the_budget_holds() -> None:
    traces = {"bad": trace("bad", [(5, "x")]), "n1": trace("n1", [(6, "x")]), "n2": trace("n2", [(7, "y")]),
              "n3": trace("n3", [(8, "y")]), "n4": trace("n4", [(9, "x")])}
    labels = {"bad": True, "n1": False, "n2": False, "n3": False, "n4": False}
    run = simulate_feedback(traces, labels, min_lines=1, check=None, reviews=1)
    # "x" is marked at n1 (not at the anomalous session before it); the budget is gone by "y".
    assert run.marked_lines == ["x"]
    assert run.flags == {"bad": True, "n1": True, "n2": True, "n3": True, "n4": False}


def test_a_mark_does_not_reach_back_before_it_was_made() -> None:
    # k = 2: session s has "p" at line 3 (before anyone marked p) and "q" at line 20.
    traces = {"s": trace("s", [(3, "p"), (20, "q")]), "m": trace("m", [(10, "p"), (11, "p")])}
    labels = {"s": True, "m": False}
    assert line_alert_at(traces["s"], 2, {"p": 10}) == 20  # p at line 3 still counts
    assert line_alert_at(traces["s"], 2, {"p": 1}) is None
    run = simulate_feedback(traces, labels, min_lines=2, check=None, reviews=5)
    assert run.flags == {"s": True, "m": True}


def _check() -> SessionCheck:
    train = {f"t{i}": ["open", "write", "close"] for i in range(20)}
    train.update({f"u{i}": ["open", "read", "close"] for i in range(20)})
    cal = {f"c{i}": ["open", "write", "close"] for i in range(10)}
    return SessionCheck.fit(train, cal, max_fpr=0.01)


def test_session_check_alerts_feed_the_reference() -> None:
    check = _check()
    replicated = Counter(["open", "replicate", "transfer", "close"])
    early_stop = Counter(["open"])
    traces = {"r1": trace("r1", [], last=100, templates=replicated),
              "r2": trace("r2", [], last=200, templates=replicated),
              "bad": trace("bad", [], last=300, templates=early_stop),
              "ok": trace("ok", [], last=400, templates=Counter(["open", "write", "close"]))}
    labels = {"r1": False, "r2": False, "bad": True, "ok": False}
    assert check.flags(check.score_many({"r": replicated})["r"])
    with_sessions = simulate_feedback(traces, labels, min_lines=1, check=check, reviews=3)
    assert with_sessions.flags == {"r1": True, "r2": False, "bad": True, "ok": False}
    assert with_sessions.marked_sessions == 1
    lines_only = simulate_feedback(traces, labels, min_lines=1, check=check, reviews=3, sessions_too=False)
    assert lines_only.flags == {"r1": True, "r2": True, "bad": True, "ok": False}
    # The extended check keeps its threshold and still flags the early stop.
    extended = check.extended([replicated])
    assert extended.threshold == check.threshold
    assert extended.flags(extended.score_many({"e": early_stop})["e"])


def test_the_session_check_alone_ignores_surprising_lines() -> None:
    check = _check()
    usual = Counter(["open", "write", "close"])
    traces = {"s": trace("s", [(5, "odd line")], last=9, templates=usual)}
    labels = {"s": False}
    assert simulate_feedback(traces, labels, min_lines=1, check=check, reviews=0).flags == {"s": True}
    assert simulate_feedback(traces, labels, min_lines=1, check=check, reviews=0, line_rule=False).flags == {"s": False}


def test_a_session_review_marks_all_its_surprising_lines_once_the_session_is_over() -> None:
    # Re-replication-like sessions: each has three new lines; "early" alerts while "a" is still open.
    new = [(0, "ask to replicate"), (1, "start transfer"), (2, "transmitted")]
    traces = {"a": trace("a", [(10 + d, p) for d, p in new], last=40),
              "early": trace("early", [(20 + d, p) for d, p in new], last=25),
              "late": trace("late", [(50 + d, p) for d, p in new], last=60),
              "later": trace("later", [(70 + d, p) for d, p in [(0, "start transfer"), (1, "transmitted")]], last=80)}
    labels = dict.fromkeys(traces, False)
    by_line = simulate_feedback(traces, labels, min_lines=1, check=None, reviews=1, scope="line")
    # One line review silences only the first pattern: the others still alert at their next line.
    assert by_line.marked_lines == ["ask to replicate"] and all(by_line.flags.values())
    by_session = simulate_feedback(traces, labels, min_lines=1, check=None, reviews=1, scope="session")
    assert by_session.marked_lines == ["ask to replicate", "start transfer", "transmitted"]
    # "early" alerted (line 20) before "a" was over (line 40): the review cannot reach back.
    assert by_session.flags == {"a": True, "early": True, "late": False, "later": False}


def _slow_replay(traces: dict[str, SessionTrace], labels: dict[str, bool], *, min_lines: int,
                 check: SessionCheck | None, reviews: int, scope: str) -> dict[str, bool]:
    """The definition, written the obvious way: every step recomputes every open session."""
    marked: dict[str, int] = {}
    added: list[tuple[int, Counter[str]]] = []
    flags = dict.fromkeys(traces, False)
    pending, left = set(traces), reviews
    while pending:
        best = None
        for key in pending:
            t = traces[key]
            at, by_line = line_alert_at(t, min_lines, marked), True
            if at is None and check is not None:
                ref = check.extended([c for when, c in added if when < t.last_line[0]])
                at, by_line = (t.last_line[0] if ref.flags(ref.score_many({key: t.templates})[key]) else None), False
            if at is not None and (best is None or (at, key) < best[:2]):
                best = (at, key, by_line)
        if best is None:
            break
        at, key, by_line = best
        pending.discard(key)
        flags[key] = True
        if labels[key] or left <= 0:
            continue
        left -= 1
        t = traces[key]
        if scope == "line" and by_line:
            new, when = [next(p for n, p in t.surprising if n == at)], at
        else:
            new, when = [p for _, p in t.surprising], t.last_line[0]
        for p in new:
            marked.setdefault(p, when)
        if check is not None and not (scope == "line" and by_line):
            added.append((when, t.templates))
    return flags


def test_the_fast_replay_equals_the_definition_on_random_logs() -> None:
    import random

    check = _check()
    shapes = [Counter(["open", "write", "close"]), Counter(["open", "read", "close"]), Counter(["open"]),
              Counter(["open", "replicate", "close"]), Counter(["open", "write", "write", "close"])]
    for seed in range(40):
        rng = random.Random(seed)
        traces, labels = {}, {}
        for i in range(rng.randint(3, 25)):
            start = rng.randint(1, 200)
            lines = sorted(rng.sample(range(start, start + 60), rng.randint(0, 4)))
            traces[f"s{i}"] = trace(f"s{i}", [(n, rng.choice("pqrstu")) for n in lines], last=start + 60 + rng.randint(0, 30),
                                    templates=rng.choice(shapes))
            labels[f"s{i}"] = rng.random() < 0.2
        for scope in ("line", "session"):
            for use_check in (None, check):
                kwargs = dict(min_lines=rng.choice([1, 1, 2]), check=use_check, reviews=rng.randint(0, 6))
                fast = simulate_feedback(traces, labels, scope=scope, **kwargs)  # type: ignore[arg-type]
                assert fast.flags == _slow_replay(traces, labels, scope=scope, **kwargs), (seed, scope, kwargs)


def test_the_replay_alerts_where_the_engines_k_lines_rule_does() -> None:
    surprising = [(3, "a"), (5, "b"), (9, "c")]
    rule = AlertRule(threshold=1.0, min_lines=2)
    live = [n for count, (n, pattern) in enumerate(surprising, 1)
            if rule.reasons(loss=2.0, level="INFO", message="x", pattern=pattern, surprising_in_session=count)]
    assert line_alert_at(trace("s", surprising), 2, {}) == live[0] == 5
    assert line_alert_at(trace("s", surprising), 2, {"a": 0}) == 9  # a marked line never counts toward k
