"""The one stream driver (core/stream.py): every line once and in order, quiet steps, idle
sessions closed while the input is quiet, verdicts at the end, and a failing reader."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

from helpers import wait_for

from logwatch.core.batching import score_lines
from logwatch.core.engine import Engine
from logwatch.core.stream import LineSource, StreamStep, run_stream
from logwatch.core.types import LogLine, ScoredLine, SessionEnd


class _Sink:
    def __init__(self) -> None:
        self.records: list[ScoredLine | SessionEnd] = []

    def write(self, lines: object) -> None:
        self.records.extend(lines)  # type: ignore[arg-type]


def test_a_file_comes_out_whole_in_order_then_every_session_ends(checked_model: Path, truncated,
                                                                   tmp_path: Path) -> None:
    texts, victim = truncated
    path = tmp_path / "x.log"
    path.write_text("\n".join(texts) + "\n")
    engine = Engine.load(checked_model, device="cpu", session_ends=True)
    sink = _Sink()
    with LineSource(str(path)) as source:
        steps = list(run_stream(engine, source, writer=sink, batch_lines=100))
    lines = [x for step in steps for x in step.lines]
    assert [x.text for x in lines] == texts and [x.n for x in lines] == list(range(1, len(texts) + 1))
    assert max(len(step.lines) for step in steps) <= 100
    assert steps[-1].finished and not any(step.finished for step in steps[:-1])
    ends = steps[-1].ends
    assert {e.session for e in ends} == {x.session for x in lines}  # every session ended with the input
    assert next(e for e in ends if e.session == victim).alert  # the one that stopped early
    assert sink.records == [*lines, *ends]  # the recording got everything, in the order it was yielded
    assert len(engine.sessions) == 0


def test_a_quiet_pipe_yields_empty_steps_and_its_idle_sessions_close() -> None:
    r, w = os.pipe()
    engine = Engine.unscored(idle_seconds=0.0)  # any session is idle at the next check
    ticks = itertools.count(0.0, 2.0)  # every step is two "seconds" after the last: idle checks run
    halt = threading.Event()
    seen: list[StreamStep] = []

    def drive() -> None:
        with LineSource(r) as source:
            for step in run_stream(engine, source, halt=halt, clock=lambda: next(ticks)):
                seen.append(step)

    t = threading.Thread(target=drive)
    t.start()
    try:
        os.write(w, b"INFO a [instance: 1b2c3d4e-0000-4000-8000-000000000000] x\nINFO b\n")
        assert wait_for(lambda: sum(len(s.lines) for s in seen) == 2)
        assert all(x.loss is None for s in seen for x in s.lines)  # no model: parsed and keyed only
        count = len(seen)
        assert wait_for(lambda: len(seen) >= count + 3)  # quiet: empty steps keep coming
        assert all(not s.lines and not s.finished and s.backlog == 0 for s in seen[count:])
        assert wait_for(lambda: len(engine.sessions) == 0)  # closed while the pipe is still open
    finally:
        os.close(w)
    t.join(10)
    assert not t.is_alive() and seen[-1].finished  # the writer closed: the input is over


def test_halt_stops_the_stream_without_an_end_of_input() -> None:
    r, w = os.pipe()
    halt = threading.Event()
    with LineSource(r) as source:
        steps = run_stream(Engine.unscored(), source, halt=halt)
        next(steps)
        halt.set()
        assert all(not step.finished for step in steps)
    os.close(w)
    os.close(r)


def test_a_source_that_fails_ends_the_stream_with_its_error(tmp_path: Path) -> None:
    with LineSource(str(tmp_path)) as source:  # a directory
        steps = list(run_stream(Engine.unscored(), source))
    assert not any(step.finished for step in steps)
    assert source.error is not None and "directory" in source.error


def test_score_lines_batches_in_order() -> None:
    lines = [LogLine(n=i, text=f"INFO line {i}", source="x", arrival=0.0) for i in range(1, 8)]
    out = list(score_lines(Engine.unscored(), lines, batch_lines=3))
    assert [x.n for x in out] == list(range(1, 8))


def test_only_a_source_that_can_pause_may_end_learning_early(tmp_path: Path) -> None:
    """A lull while a regular file is read is the reader falling behind (a busy machine), not the
    end of the log's history: it must not cut the learning probe short."""
    log = tmp_path / "x.log"
    log.write_text("INFO a\n")
    assert not LineSource(str(log)).can_pause
    assert LineSource(str(log), follow=True).can_pause
    assert LineSource("-").can_pause
