"""The stream's learning phase: probe, hold back, learn in a child process, hand over final lines."""

from __future__ import annotations

from pathlib import Path

from logwatch.core.engine import Engine
from logwatch.core.generator import generate_log
from logwatch.core.learning.learn import LearnConfig
from logwatch.core.learning.learning import Learning, LearnPlan
from logwatch.core.stream import LineSource, StreamStep, run_stream

QUICK = LearnConfig(token_budget=6_000, max_seconds=30, min_lines=100)
SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


def _run(engine: Engine, path: Path, plan: LearnPlan) -> tuple[list[StreamStep], Learning]:
    learning = Learning(plan, engine)
    with LineSource(str(path)) as source:
        steps = list(run_stream(engine, source, learning=learning, batch_lines=200))
    return steps, learning


def test_a_log_the_model_does_not_know_is_learned_and_every_line_comes_out_once(tiny_model_dir: Path,
                                                                                tmp_path: Path) -> None:
    log = generate_log(seed=41, n_instances=20, incidents=("disk_full",), dialect="other")
    path = tmp_path / "other.log"
    path.write_text("\n".join(log.lines) + "\n")
    engine = Engine.load(tiny_model_dir, device="cpu")
    before = engine.tokenizer
    steps, learning = _run(engine, path, LearnPlan(probe_lines=300, config=QUICK))
    final = [x for s in steps for x in s.lines]
    assert [x.n for x in final] == list(range(1, len(log.lines) + 1))  # once each, in order
    assert [x.text for x in final] == log.lines
    pending = [x.n for s in steps for x in s.pending]
    assert pending and set(pending) <= {x.n for x in final}  # shown first, final later
    phases = [s.learning.phase for s in steps if s.learning is not None]
    assert phases[0] == "probing" and "training" in phases and phases[-1] == "learned", phases
    assert learning.learned is not None and engine.tokenizer is not before  # the engine switched models
    assert all(x.loss is not None for x in final) and steps[-1].finished
    incident = log.incidents[0]
    assert any(x.alert for x in final if x.session == incident.session)


def test_the_bundled_model_knows_the_bundled_logs_so_nothing_is_learned(tmp_path: Path) -> None:
    path = SAMPLES / "incident_host_trouble.log"
    plain = Engine.load(None, device="cpu")
    with LineSource(str(path)) as source:
        expected = [(x.n, round(x.loss or 0, 4), x.alert) for s in run_stream(plain, source, batch_lines=200)
                    for x in s.lines]
    steps, learning = _run(Engine.load(None, device="cpu"), path, LearnPlan())
    assert learning.status.phase == "known" and learning.learned is None
    assert [(x.n, round(x.loss or 0, 4), x.alert) for s in steps for x in s.lines] == expected  # as without learning


def test_a_window_that_cannot_be_learned_keeps_the_model_and_says_why(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "errors.log"
    path.write_text("".join(f"ERROR nova.x [instance: 1b2c3d4e-0000-4000-8000-{i:012d}] boom\n" for i in range(400)))
    engine = Engine.load(tiny_model_dir, device="cpu")
    tokenizer = engine.tokenizer
    steps, learning = _run(engine, path, LearnPlan(mode="always", config=QUICK))
    assert learning.status.phase == "failed" and "errors" in learning.status.note
    assert engine.tokenizer is tokenizer and len([x for s in steps for x in s.lines]) == 400


def test_learning_off_or_without_a_model_is_no_phase_at_all(tiny_model_dir: Path) -> None:
    assert not Learning(LearnPlan(mode="off"), Engine.load(tiny_model_dir, device="cpu")).active
    assert not Learning(LearnPlan(), Engine.unscored()).active


def test_the_window_grows_until_it_covers_the_span_of_log_time(tiny_model_dir: Path, tmp_path: Path) -> None:
    from logwatch.core.learning.learn_window import WindowRule
    from logwatch.core.timeline import line_key

    log = generate_log(seed=41, n_instances=20, incidents=("disk_full",), dialect="other")
    path = tmp_path / "other.log"
    path.write_text("\n".join(log.lines) + "\n")
    stamps = [line_key(text) for text in log.lines]
    first = stamps[0]
    assert first is not None
    covered = next(i + 1 for i, key in enumerate(stamps) if key is not None and key - first >= 120)
    assert 300 < covered < len(log.lines) - 200  # the span, not the fewest lines, decides here
    plan = LearnPlan(probe_lines=300, config=QUICK, window=WindowRule(min_lines=300, span_seconds=120, max_lines=5_000))
    _, learning = _run(Engine.load(tiny_model_dir, device="cpu"), path, plan)
    assert learning.learned is not None
    window = learning.learned.summary["window_lines"]
    assert isinstance(window, int) and covered <= window < covered + 200  # whole batches of 200


def test_while_it_trains_a_big_history_waits_in_the_reader_not_in_memory(tiny_model_dir: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    import logwatch.core.learning.learning as learning_module
    from logwatch.core.learning.learn_window import WindowRule

    monkeypatch.setattr(learning_module, "HOLD_BEYOND_WINDOW", 100)
    log = generate_log(seed=41, n_instances=20, incidents=("disk_full",), dialect="other")
    path = tmp_path / "other.log"
    path.write_text("\n".join(log.lines) + "\n")
    plan = LearnPlan(mode="always", probe_lines=200, window=WindowRule.exactly(300), config=QUICK)
    steps, learning = _run(Engine.load(tiny_model_dir, device="cpu"), path, plan)
    assert learning.learned is not None
    held = [x.n for s in steps for x in s.pending]  # every line held back is shown pending once
    assert 300 + 100 <= len(held) <= 300 + 100 + 200, len(held)  # the window, the allowance, one batch
    assert [x.n for s in steps for x in s.lines] == list(range(1, len(log.lines) + 1))  # nothing lost


def test_the_eta_follows_the_pace_but_never_runs_past_the_time_budget() -> None:
    from logwatch.core.learning.learn_child import learning_eta

    assert learning_eta(10.0, 5, 100, None, 100.0) is None  # no pace before a second step
    assert learning_eta(10.0, 5, 100, (8.0, 5), 100.0) is None
    assert learning_eta(12.0, 10, 100, (2.0, 5), 1000.0) == 180.0  # 2 s a step, 90 steps left
    # the same pace under a budget ending at 50 s: training stops when the budget does
    assert learning_eta(12.0, 10, 100, (2.0, 5), 50.0) == 38.0
    assert learning_eta(60.0, 10, 100, (2.0, 5), 50.0) == 0.0
