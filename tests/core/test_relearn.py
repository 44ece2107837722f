"""Keep learning: the model learns again on recent lines of sessions that did not alert, in the
background, and takes over between batches at a line that does not depend on the machine's speed."""

from __future__ import annotations

from pathlib import Path

from helpers import wait_for

from logwatch.core.engine import Engine
from logwatch.core.generator import generate_log
from logwatch.core.learning.learn import LearnConfig
from logwatch.core.learning.relearn import Relearning, RelearnPlan
from logwatch.core.masking import mask_line
from logwatch.core.stream import LineSource, run_stream
from logwatch.core.types import ScoredLine

QUICK = LearnConfig(token_budget=6_000, max_seconds=30, min_lines=100)


def _log(tmp_path: Path) -> tuple[Path, list[str]]:
    log = generate_log(seed=41, n_instances=20, incidents=("disk_full",), dialect="other")
    path = tmp_path / "other.log"
    path.write_text("\n".join(log.lines) + "\n")
    return path, log.lines


def _scored(n: int, session: str, alert: bool = False) -> ScoredLine:
    text = f"INFO x [{session}] line {n}"
    return ScoredLine(n=n, source="log", arrival=0.0, text=text, session=session, pattern=mask_line(text), alert=alert)


def test_a_due_learning_takes_over_at_a_fixed_line_and_says_so(tiny_model_dir: Path, tmp_path: Path) -> None:
    path, lines = _log(tmp_path)
    # The tiny model does not know this log; a threshold out of reach keeps its sessions unalerted
    # (only the incident's error lines alert), so they are learned from.
    engine = Engine.load(tiny_model_dir, device="cpu", threshold=1e6)
    before = engine.loaded
    relearning = Relearning(RelearnPlan(every_lines=300, recent_lines=300, takeover_lines=200, config=QUICK),
                            engine, armed=True)
    with LineSource(str(path)) as source:
        steps = list(run_stream(engine, source, batch_lines=100, relearning=relearning))
    final = [x for s in steps for x in s.lines]
    assert [x.n for x in final] == list(range(1, len(lines) + 1))  # each line once, in order
    # Due after line 300, taken at the first batch more than 200 lines later (line 501), however
    # long training took; the next one (due at 800) is still training when the input ends.
    changed = [x for x in final if x.model is not None]
    assert [x.n for x in changed] == [501], [x.n for x in changed]
    change = changed[0].model
    assert change is not None and engine.loaded is not before and relearning.changes == 1
    assert change.threshold == engine.threshold and change.learned_from > 0
    assert all(x.loss is not None for x in final if x.text.strip())
    notes = [s.learning.text() for s in steps if s.learning is not None]
    assert any(note.startswith("learning again from ") for note in notes), notes
    assert any(note.startswith("learned again from ") and " at line 300; threshold 1000000.00" in note
               for note in notes), notes


def test_the_window_leaves_out_what_alerted_and_short_sessions_that_did() -> None:
    relearning = Relearning(RelearnPlan(recent_lines=5, rehearse_lines=0), Engine.unscored())
    relearning.observe([_scored(1, "a"), _scored(2, "b"), _scored(3, "a", alert=True), _scored(4, "c"),
                        _scored(5, "b"), _scored(6, "c"), _scored(7, "d"), _scored(8, "c")])
    assert [text.rsplit(" ", 1)[1] for _, text in relearning.window()] == ["4", "5", "6", "7", "8"]
    relearning.observe([_scored(9, "d")])
    assert [text.rsplit(" ", 1)[1] for _, text in relearning.window()] == ["5", "6", "7", "8", "9"]


def test_a_long_session_that_alerted_loses_only_its_alerting_lines() -> None:
    relearning = Relearning(RelearnPlan(recent_lines=1_000, rehearse_lines=0), Engine.unscored())
    relearning.observe([_scored(n, "periodic", alert=n == 10) for n in range(1, 101)])  # a host's all-day request
    window = [int(text.rsplit(" ", 1)[1]) for _, text in relearning.window()]
    assert window == [n for n in range(1, 101) if n != 10]


def test_earlier_lines_are_rehearsed_from_a_uniform_sample_in_line_order() -> None:
    relearning = Relearning(RelearnPlan(recent_lines=10, rehearse_lines=50), Engine.unscored())
    relearning.observe([_scored(n, f"s{n % 7}", alert=n % 100 == 0 and n < 2_000) for n in range(1, 3_001)])
    window = [int(text.rsplit(" ", 1)[1]) for _, text in relearning.window()]
    assert window == sorted(window) and len(window) == 60 and window[-10:] == list(range(2_991, 3_001))
    earlier = window[:-10]
    assert not [n for n in earlier if n % 100 == 0 and n < 2_000]  # no alerting line
    assert min(earlier) < 1_000 and max(earlier) > 1_500  # spread over the whole stream, not its end


def test_not_armed_it_waits_to_be_asked_and_too_few_lines_keep_the_model(tiny_model_dir: Path) -> None:
    engine = Engine.load(tiny_model_dir, device="cpu")
    model = engine.loaded
    relearning = Relearning(RelearnPlan(every_lines=10, config=QUICK), engine)  # not armed: a model not of this log
    relearning.observe([_scored(n, f"s{n % 3}") for n in range(1, 51)])
    assert not relearning.running and relearning.status is None
    assert relearning.request().startswith("learning again")
    status = relearning.poll(51)  # started here, on the stream's thread
    assert status is not None and status.text().startswith("not learned again: 50 lines")
    assert not relearning.running and engine.loaded is model


def test_asked_it_takes_over_as_soon_as_it_is_ready(tiny_model_dir: Path, tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    engine = Engine.load(tiny_model_dir, device="cpu", threshold=1e6)
    relearning = Relearning(RelearnPlan(every_lines=0, config=QUICK), engine)
    with LineSource(str(path)) as source:
        relearning.observe([x for step in run_stream(engine, source, batch_lines=1_000) for x in step.lines])
    assert relearning.request().startswith("learning again from ")
    assert relearning.request() == "already learning again"
    status = relearning.poll(None)
    assert status is not None and status.phase == "relearning" and relearning.running

    def taken_over() -> bool:  # asked: taken as soon as it is ready, never waited for inside poll
        nonlocal status
        status = relearning.poll(None)
        return status is None or status.phase != "relearning"

    wait_for(taken_over, 120, interval=0.2)
    assert status is not None and status.phase == "learned" and relearning.changes == 1
    assert f"threshold {engine.threshold:.2f}" in status.text()


def test_lines_held_while_the_log_was_first_learned_also_see_the_next_learning(tiny_model_dir: Path,
                                                                              tmp_path: Path) -> None:
    """A file's history is held while it is learned, then scored in one go: learning again must
    still take over inside that go (and the first learning arms it)."""
    from logwatch.core.learning.learn_window import WindowRule
    from logwatch.core.learning.learning import Learning, LearnPlan

    path, lines = _log(tmp_path)
    engine = Engine.load(tiny_model_dir, device="cpu", threshold=1e6)
    learning = Learning(LearnPlan(mode="always", window=WindowRule.exactly(300), config=QUICK), engine)
    relearning = Relearning(RelearnPlan(every_lines=400, recent_lines=300, takeover_lines=100, config=QUICK), engine)
    with LineSource(str(path)) as source:
        steps = list(run_stream(engine, source, batch_lines=100, learning=learning, relearning=relearning))
    final = [x for s in steps for x in s.lines]
    assert [x.n for x in final] == list(range(1, len(lines) + 1))
    assert learning.learned is not None and relearning.armed
    # The first learned model scores from line 1; learning again is due after 400 of its lines
    # and takes over at the first batch more than 100 lines later (the next is due after the end).
    assert [x.n for x in final if x.model is not None] == [1, 501]


def test_a_learning_still_running_when_the_input_ends_is_stopped_and_cleaned_up(tiny_model_dir: Path,
                                                                               tmp_path: Path, monkeypatch) -> None:
    import tempfile

    path, lines = _log(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the learning child's job directory goes
    engine = Engine.load(tiny_model_dir, device="cpu", threshold=1e6)
    relearning = Relearning(RelearnPlan(every_lines=len(lines) - 100, recent_lines=300, takeover_lines=10_000,
                                        config=QUICK), engine, armed=True)
    with LineSource(str(path)) as source:
        steps = run_stream(engine, source, batch_lines=100, relearning=relearning)
        for _step in steps:
            if relearning.running:
                break  # the consumer stops early (Ctrl-C, a closed pipe): the generator is closed
        steps.close()
    assert not relearning.running and list(scratch.iterdir()) == []
    relearning = Relearning(RelearnPlan(every_lines=len(lines) - 100, recent_lines=300, takeover_lines=10_000,
                                        config=QUICK), engine, armed=True)
    with LineSource(str(path)) as source:
        assert list(run_stream(engine, source, batch_lines=100, relearning=relearning))[-1].finished
    assert not relearning.running and list(scratch.iterdir()) == []  # the input ended before its turn
