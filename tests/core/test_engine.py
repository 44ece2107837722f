"""The engine with a real tiny model: any text scored one for one, long and many sessions, and
sessions judged as they end (the engine side of ``logwatch score --session-ends``).

Hypothesis throws NULs, invalid UTF-8, ANSI escapes, Rich markup, carriage returns and very
long sessions at it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwatch.core.engine import Engine, EngineError
from logwatch.core.sessions import SessionKeyer
from logwatch.core.types import LogLine

HOSTILE = st.sampled_from([
    "\x1b]0;pwned\x07", "\x1b[2J", "[bold red]x[/]", "\r", "\x00", "\udcff", "\u202e", "blk_-42", "req-",
    "[instance: 1b2c3d4e-0000-4000-8000-000000000000]", "ERROR", "\t", "é", "💥",
])
LINE_TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=40)), max_size=12).map("".join)

_ENGINES: dict[str, Engine] = {}


@pytest.fixture
def engine(tiny_model_dir: Path) -> Engine:
    if "tiny" not in _ENGINES:
        _ENGINES["tiny"] = Engine.load(tiny_model_dir, device="cpu")
    return _ENGINES["tiny"]


def test_a_traceback_under_its_error_line_is_scored_in_that_lines_session(engine: Engine) -> None:
    uuid = "1b2c3d4e-0000-4000-8000-000000000000"
    texts = [f"ERROR nova.compute.manager [instance: {uuid}] Build failed", "Traceback (most recent call last):",
             '  File "manager.py", line 1, in build', "ValueError: bad"]
    lines = [LogLine(n=i, text=t, source="tb.log", arrival=float(i)) for i, t in enumerate(texts, 1)]
    assert [s.session for s in engine.score_batch(lines[:2])] == [uuid, uuid]
    assert [s.session for s in engine.score_batch(lines[2:])] == [uuid, uuid]  # the entry spans batches


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE_TEXT, min_size=1, max_size=40))
def test_engine_scores_any_text_one_for_one(engine: Engine, texts: list[str]) -> None:
    lines = [LogLine(n=i, text=t, source="fuzz", arrival=float(i)) for i, t in enumerate(texts, 1)]
    scored = engine.score_batch(lines)
    assert [s.n for s in scored] == [x.n for x in lines]
    assert [s.text for s in scored] == texts
    for s in scored:
        assert s.loss is None or (math.isfinite(s.loss) and s.loss >= 0)


def test_very_long_session_slides_and_stays_bounded(engine: Engine) -> None:
    instance = "[instance: 1b2c3d4e-0000-4000-8000-000000000000]"
    lines = [LogLine(n=i, text=f"INFO nova.compute.manager {instance} step {i} of a long life", source="x",
                     arrival=float(i)) for i in range(1, 3001)]
    scored = []
    for start in range(0, len(lines), 250):
        scored += engine.score_batch(lines[start:start + 250])
    assert len(scored) == 3000 and all(s.loss is not None for s in scored)
    window = engine.scorer.windows[scored[0].session]
    assert window.length <= engine.scorer.spec.n_ctx


def test_a_huge_batch_of_one_line_sessions(engine: Engine) -> None:
    lines = [LogLine(n=i, text=f"INFO nova.api [req-{i:08d}-0000-4000-8000-000000000000 - - -] GET /v2", source="x",
                     arrival=float(i)) for i in range(1, 2001)]
    scored = engine.score_batch(lines)
    assert len({s.session for s in scored}) == 2000 and len(scored) == 2000


# -- sessions judged as they end -------------------------------------------------------------
def _feed(engine: Engine, texts: list[str], start: float = 0.0, step: float = 1.0) -> None:
    engine.score_batch([LogLine(n=i, text=t, source="x.log", arrival=start + i * step) for i, t in enumerate(texts, 1)])


def test_every_session_is_judged_once_and_the_one_that_stopped_early_alerts(checked_model: Path, truncated) -> None:
    texts, victim = truncated
    engine = Engine.load(checked_model, device="cpu", session_ends=True)
    _feed(engine, texts)
    assert engine.take_ended() == []  # nothing idled: the input is still open
    engine.close_all()
    ended = engine.take_ended()
    keyer = SessionKeyer("builtin")
    keys = [keyer.key(t, "x.log") for t in texts]
    assert sorted(e.session for e in ended) == sorted(set(keys))
    last = {k: i for i, k in enumerate(keys, 1)}
    assert all(e.n == last[e.session] and e.lines == keys.count(e.session) for e in ended)
    verdict = {e.session: e for e in ended}
    assert verdict[victim].alert and verdict[victim].score > verdict[victim].threshold
    others = [e for e in ended if e.session != victim]
    assert sum(e.alert for e in others) <= 0.2 * len(others)  # calibrated at 5% on the same kind of log
    assert len(engine.sessions) == 0 and engine.take_ended() == []


def test_only_idle_sessions_end_before_the_input_does(checked_model: Path, truncated) -> None:
    texts, _ = truncated
    engine = Engine.load(checked_model, device="cpu", session_ends=True, idle_seconds=100.0)
    _feed(engine, texts[:200], start=0.0, step=0.0)  # all at t=0
    _feed(engine, texts[200:210], start=500.0, step=0.0)  # ten more lines at t=500
    keyer = SessionKeyer("builtin")
    recent = {keyer.key(t, "x.log") for t in texts[200:210]}
    evicted = engine.evict_idle(now=550.0)
    assert evicted and not set(evicted) & recent
    assert [e.session for e in engine.take_ended()] == evicted


def test_asking_for_session_ends_without_a_check_is_a_clear_error(tiny_model_dir: Path, truncated) -> None:
    with pytest.raises(EngineError, match="train it with `logwatch train --session-check`"):
        Engine.load(tiny_model_dir, device="cpu", session_ends=True)
    plain = Engine.load(tiny_model_dir, device="cpu")  # without the flag nothing is judged or kept
    _feed(plain, truncated[0][:50])
    plain.close_all()
    assert plain.take_ended() == [] and plain.session_check is None


def test_scoring_gives_a_core_to_a_learning_child_while_it_trains(tiny_model_dir: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        engine = Engine.load(tiny_model_dir, device="cpu", threads=2)
        assert torch.get_num_threads() == 2
        engine.share_cores(True)
        assert torch.get_num_threads() == 1
        engine.share_cores(False)
        assert torch.get_num_threads() == 2
        Engine.load(tiny_model_dir, device="cpu", threads=1).share_cores(True)
        assert torch.get_num_threads() == 1  # never below one
    finally:
        torch.set_num_threads(before)


def test_known_lines_that_surprise_by_their_place_wait_for_the_session_check(checked_model: Path,
                                                                           normal_log_lines: list[str]) -> None:
    """With a check judging sessions, a known routine line alerts only once the session's mix is no normal one."""
    from dataclasses import replace

    from logwatch.core.train import group_sessions

    sessions = group_sessions((("normal.log", t) for t in normal_log_lines), "builtin")
    reference = [key for i, key in enumerate(sessions) if i % 4]  # the check's reference (see checked_model)
    story = next(sessions[key] for key in reference if len(key) == 36 and len(sessions[key]) >= 8)  # an instance

    def run(engine: Engine, texts: list[str]) -> list:
        engine.rule = replace(engine.rule, threshold=1e-6)  # every line surprises: only the rule's order logic decides
        return engine.score_batch([LogLine(n=i, text=t, source="x.log", arrival=0.0) for i, t in enumerate(texts, 1)])

    judged = Engine.load(checked_model, device="cpu", session_ends=True)
    known = [s for s in run(judged, story[::-1]) if s.level not in ("WARNING", "ERROR")]  # the story told backwards
    assert known and all(s.order_only and not s.alert for s in known)
    cut = Engine.load(checked_model, device="cpu", session_ends=True)  # the story's start, backwards, then it stops
    held = [s for s in run(cut, story[:3][::-1]) if s.order_only]
    cut.close_all()
    (verdict,) = cut.take_ended()
    assert held and verdict.alert and verdict.why[1:] == (f"order surprise at line {held[0].n}",)
    again = Engine.load(checked_model, device="cpu", session_ends=True)
    repeated = run(again, story + [story[1]] * 40)  # one step far more often than any normal session did it
    assert not repeated[0].alert and repeated[-1].alert and not repeated[-1].order_only
    plain = Engine.load(checked_model, device="cpu")  # no one judges the sessions: the surprise alerts
    assert all(s.alert for s in run(plain, story[::-1]) if s.level not in ("WARNING", "ERROR"))


PATTERN_KINDS = [
    "2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae "
    "113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 \"GET /v2/servers/detail "
    "HTTP/1.1\" status: 200 len: 1893 time: 0.2477829",  # openstack
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 "
    "terminating",  # hdfs
    "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO "
    "instruction cache parity error corrected",  # bgl
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4",  # syslog
    '{"level": "error", "logger": "api", "msg": "upstream 10.0.0.7:8080 timed out after 30s"}',  # json
    "Traceback (most recent call last):",  # a continuation line, keyed to the entry above
    "free text with 0xdeadbeef and /var/lib/nova/instances/x/disk",  # no format
    "",  # blank: shown, not scored
    "   ",
    "\x1b[2J\x00 [bold]x[/] \udcff \u202e 💥",  # hostile
    "ERROR " + "z9 " * 3000,  # longer than the masked text is kept
]


def test_each_scored_line_carries_its_masked_text_as_its_pattern(engine: Engine) -> None:
    from logwatch.core.alerts import AlertRule
    from logwatch.core.masking import mask_line

    lines = [LogLine(n=i, text=t, source="kinds.log", arrival=float(i)) for i, t in enumerate(PATTERN_KINDS, 1)]
    want = [mask_line(t) for t in PATTERN_KINDS]
    assert len(set(want)) > 8  # the kinds really mask differently
    assert [s.pattern for s in engine.score_batch(lines)] == want
    # Lines shown while a model is learned carry it too (their alerts are grouped by it).
    preview = engine.preview(lines, AlertRule(threshold=None, signals=frozenset({"severity"})))
    assert [s.pattern for s in preview] == want
