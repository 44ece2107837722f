"""Sessions judged as they end: the engine side of ``logwatch score --session-ends``."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwatch.core.engine import Engine, EngineError
from logwatch.core.sessions import SessionKeyer
from logwatch.core.types import LogLine


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
