"""The one entry point a run starts learning through: which model, which plan, what is remembered,
when learning again is armed; and eval's learning of the first lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwatch.core.engine import EngineError
from logwatch.core.learning import memory
from logwatch.core.learning.learn import LearnConfig, Learned, LearnError
from logwatch.core.learning.learn_window import WindowRule, first_window
from logwatch.core.learning.start import learn_first_lines, learn_label, prepare, remember
from logwatch.core.model import load_model_dir
from logwatch.core.settings import RunSettings
from logwatch.core.types import LogLine


def _remember_tiny(tiny_model_dir: Path, name: str) -> Path:
    return memory.save(Learned(load_model_dir(tiny_model_dir), {"usable_lines": 1}), name, source=f"/logs/{name}")


def test_a_run_starts_from_the_model_remembered_for_its_log_and_learns_again_at_once(tiny_model_dir: Path) -> None:
    saved = _remember_tiny(tiny_model_dir, "nova.log")
    run = prepare(RunSettings(), "/var/log/nova.log", known_normal=None, threads=1)
    assert run.engine.loaded is not None and run.engine.loaded.directory == saved
    assert run.engine.model_name == "learned: nova.log"
    assert run.note.startswith("using the model learned for 'nova.log' earlier")
    assert run.learning is not None and run.learning.plan.name == "nova.log" and run.learning.plan.mode == "auto"
    assert run.relearning is not None and run.relearning.armed  # a model of this log: learn again by line count
    other = prepare(RunSettings(), "/var/log/other.log", known_normal=None, threads=1)
    assert other.note == "" and other.engine.loaded is not None and other.engine.loaded.directory != saved
    assert other.relearning is not None and not other.relearning.armed  # armed once the stream learns the log


def test_model_fresh_and_a_number_of_lines_do_not_start_from_the_remembered_model(tiny_model_dir: Path) -> None:
    saved = _remember_tiny(tiny_model_dir, "nova.log")
    for settings in (RunSettings(model_dir=str(tiny_model_dir)), RunSettings(learn="fresh"),
                     RunSettings(learn="300", learn_seconds=12)):
        run = prepare(settings, "nova.log", known_normal=None, threads=1)
        assert run.engine.loaded is not None and run.engine.loaded.directory != saved, settings
        assert run.note == "" and run.relearning is not None and not run.relearning.armed
    assert run.learning is not None
    plan = run.learning.plan
    assert plan.mode == "always" and plan.window == WindowRule.exactly(300) and plan.config.max_seconds == 12
    assert run.relearning.plan.every_lines == 50_000 and run.relearning.plan.takeover_lines == 25_000


def test_learn_off_gives_no_learning_and_a_given_config_replaces_the_measured_one(tiny_model_dir: Path) -> None:
    off = prepare(RunSettings(model_dir=str(tiny_model_dir), learn="off"), "x.log", known_normal=None, threads=1)
    assert off.learning is None and off.relearning is None and off.engine.loaded is not None
    quick = LearnConfig(token_budget=6_000, max_seconds=30, min_lines=100)
    run = prepare(RunSettings(model_dir=str(tiny_model_dir), relearn=0), "x.log", known_normal=None, threads=1,
                  config=quick)
    assert run.learning is not None and run.learning.plan.config == quick
    assert run.relearning is not None and run.relearning.plan.config == quick and run.relearning.plan.every_lines == 0


def test_an_engine_that_cannot_start_is_the_callers_to_report(tmp_path: Path) -> None:
    with pytest.raises(EngineError):
        prepare(RunSettings(model_dir=str(tmp_path / "missing")), "x.log", known_normal=None, threads=1)


def test_a_damaged_remembered_model_is_said_and_the_bundled_one_used(tiny_model_dir: Path) -> None:
    saved = _remember_tiny(tiny_model_dir, "nova.log")
    (saved / "model.safetensors").write_bytes(b"not weights")
    run = prepare(RunSettings(), "nova.log", known_normal=None, threads=1)
    assert "cannot be read" in run.note and run.engine.loaded is not None and run.engine.loaded.directory != saved


def test_a_learned_model_is_remembered_under_the_plan_name(tiny_model_dir: Path) -> None:
    run = prepare(RunSettings(model_dir=str(tiny_model_dir), name="mine"), "x.log", known_normal=None, threads=1)
    assert run.learning is not None
    learned = Learned(load_model_dir(tiny_model_dir), {"usable_lines": 7})
    said = remember(run.learning.plan)(learned)
    assert said == f"remembered as {memory.models_dir() / 'mine'}" and learned.model.directory == memory.models_dir() / "mine"
    assert [m.name for m in memory.listing()] == ["mine"] and memory.listing()[0].learned["source"] == "x.log"


def test_the_label_a_model_is_remembered_by() -> None:
    assert learn_label(["/var/log/a.log"], []) == "/var/log/a.log"
    assert learn_label(["a.log", "b.log", "c.log"], []) == "a.log+2"
    assert learn_label([], ["/var/log/*.log"]) == "/var/log/*.log" and learn_label([], []) == "-"


def _lines(count: int) -> list[LogLine]:
    return [LogLine(n=i, text=f"INFO nova.x [req-{i % 9}] line {i % 5}", source="x.log", arrival=0.0)
            for i in range(1, count + 1)]


def test_the_first_window_reads_only_as_far_as_it_needs() -> None:
    lines = iter(_lines(1_000))
    window = first_window(lines, WindowRule.exactly(300), batch_lines=256)
    assert len(window) == 300 and window[0] == ("x.log", _lines(1)[0].text)
    assert next(lines).n == 513  # two batches read, the rest left to the caller
    assert len(first_window(_lines(120), WindowRule.exactly(300))) == 120  # the input ended first


def test_learning_the_first_lines_that_cannot_be_learned_keeps_the_model(tiny_model_dir: Path) -> None:
    from logwatch.core.engine import Engine

    engine = Engine.load(tiny_model_dir, device="cpu")
    model = engine.loaded
    told: list[int] = []
    with pytest.raises(LearnError, match="too few lines"):
        learn_first_lines(engine, _lines(150), WindowRule.exactly(300), on_window=told.append)
    assert told == [150] and engine.loaded is model
