"""Training: session splits, the windows the model learns from, determinism, and that a tiny
model trained in seconds already tells an injected failure from its session's normal lines."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from logwatch.core.engine import Engine
from logwatch.core.generator import generate_log
from logwatch.core.model import hf_model
from logwatch.core.spec import ModelSpec
from logwatch.core.train import (
    IGNORE,
    LONG_SESSION_LINES,
    Fitted,
    Progress,
    Schedule,
    TrainConfig,
    build_windows,
    fit,
    split_sessions,
    train_model,
)
from logwatch.core.types import LogLine


def test_split_holds_out_every_nth_short_session_and_the_tail_of_long_ones() -> None:
    sessions = {f"s{i}": [f"s{i} line {j}" for j in range(3)] for i in range(20)}
    sessions["periodic"] = [f"audit {j}" for j in range(LONG_SESSION_LINES * 2)]
    train, held = split_sessions(sessions, 0.1)
    assert len([k for k in held if k.startswith("s")]) == 2
    # The long session is split in time, not held out whole: the model must see audits.
    assert train["periodic"] == sessions["periodic"][: len(train["periodic"])]
    assert held["periodic"] == sessions["periodic"][len(train["periodic"]):]
    assert 0 < len(held["periodic"]) < len(train["periodic"])
    total = sum(map(len, sessions.values()))
    assert sum(map(len, train.values())) + sum(map(len, held.values())) == total


def test_no_holdout_keeps_everything() -> None:
    sessions = {"a": ["x"], "b": ["y"], "c": ["z"], "d": ["w"]}
    assert split_sessions(sessions, 0.0) == (sessions, {})


def test_windows_label_only_new_lines_and_respect_the_context() -> None:
    spec = ModelSpec(vocab_size=50, n_ctx=16, max_line_tokens=6)
    lines = [[10 + i, 11 + i, 12 + i] for i in range(8)]  # 8 lines × 3 tokens > one window
    windows = build_windows([lines], spec, bos_id=1, cont_id=2)
    assert len(windows) > 1
    labelled = [t for ids, labels in windows for t in labels if t != IGNORE]
    assert labelled == [t for line in lines for t in line]  # every token learnt exactly once
    for ids, labels in windows:
        assert len(ids) == len(labels) <= spec.n_ctx
    assert windows[0][0][0] == 1 and windows[1][0][0] == 2  # BOS first, CONT after a slide


def test_training_is_deterministic_with_a_seed(tmp_path: Path) -> None:
    lines = [("gen.log", t) for t in generate_log(seed=4, n_instances=6).lines]
    config = TrainConfig(n_layer=1, n_head=1, n_embd=16, n_ctx=32, max_line_tokens=12, vocab_size=300,
                         epochs=1, batch_size=8, warmup_steps=2, device="cpu", seed=3)
    train_model(lines, tmp_path / "a", config)
    train_model(lines, tmp_path / "b", config)
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


def test_tiny_model_directory_is_complete(tiny_model_dir: Path) -> None:
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"spec.json", "tokenizer.json", "model.safetensors", "calibration.json", "training_summary.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)


@pytest.mark.parametrize("kind", ["volume_attach", "auth_error", "vif_plugging"])
def test_injected_failure_scores_above_its_sessions_normal_lines(tiny_model_dir: Path, kind: str) -> None:
    log = generate_log(seed=77, n_instances=14, incidents=(kind,))
    engine = Engine.load(tiny_model_dir, device="cpu")
    scored = engine.score_batch([LogLine(n=i, text=t, source="x", arrival=0.0) for i, t in enumerate(log.lines, 1)])
    incident = next(i for i in log.incidents if len(log.sessions) and i.session in {s.session for s in scored})
    session = [s for s in scored if s.session == incident.session]
    before = [s.loss for s in session if s.n < incident.first_line]
    after = [s.loss for s in session if s.n >= incident.first_line]
    assert before and after
    assert max(after) > max(before), (kind, max(after), max(before))


def test_long_sessions_are_chunked_into_session_starts() -> None:
    from logwatch.core.train import chunk_long_sessions

    sessions = {"short": ["a", "b"], "long": [str(i) for i in range(150)]}
    chunks = chunk_long_sessions(sessions, size=64)
    assert chunks["short"] == ["a", "b"]
    assert [len(v) for k, v in chunks.items() if k.startswith("long#")] == [64, 64, 22]
    assert [x for k, v in chunks.items() if k.startswith("long#") for x in v] == sessions["long"]
    starts = {v[0] for k, v in chunks.items() if k.startswith("long@")}
    assert set(sessions["long"][:-4:2]) <= starts  # every other line also opens a short sample


def test_model_files_follow_the_umask(tiny_model_dir: Path) -> None:
    import os

    mask = os.umask(0)
    os.umask(mask)
    for name in ("model.safetensors", "spec.json", "tokenizer.json", "calibration.json"):
        assert (tiny_model_dir / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


class _Clock:
    """A wall clock that moves one second per optimiser step (advanced from the progress callback)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def step(self, progress: Progress) -> None:
        if progress.phase == "train":
            self.now += 1.0


def _fit_with_clock(monkeypatch: pytest.MonkeyPatch, max_seconds: float | None, val_seconds: float = 0.0) -> Fitted:
    """A fit of 2 x 50 planned steps taking one second a step and ``val_seconds`` a held-out pass."""
    import logwatch.core.train as train_module

    clock = _Clock()
    monkeypatch.setattr(train_module, "time", clock)
    mean_loss = train_module._mean_loss

    def slow_mean_loss(*args: object, **kwargs: object) -> float:
        clock.now += val_seconds
        return mean_loss(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(train_module, "_mean_loss", slow_mean_loss)
    rng = random.Random(0)
    windows = [([1] + [rng.randrange(3, 40) for _ in range(8)], [IGNORE] + [5] * 8) for _ in range(400)]
    spec = ModelSpec(vocab_size=40, n_layer=1, n_head=1, n_embd=16, n_ctx=16, max_line_tokens=8)
    schedule = Schedule(epochs=2, batch_size=8, warmup_steps=2, max_seconds=max_seconds)
    return fit(hf_model(spec), windows, windows[:16], pad_id=0, schedule=schedule, device=torch.device("cpu"),
               rng=rng, on_progress=clock.step)


def test_fit_runs_its_planned_steps_without_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    fitted = _fit_with_clock(monkeypatch, None)
    assert fitted.steps == fitted.planned_steps == 100
    assert not fitted.stopped_early


def test_a_time_limit_stops_the_fit_when_it_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # one second a step: the step that starts once 30 s have passed is not taken
    fitted = _fit_with_clock(monkeypatch, 30.0)
    assert fitted.planned_steps == 100
    assert fitted.steps == 31
    assert fitted.stopped_early


def test_the_time_limit_leaves_room_for_the_last_held_out_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # 50 steps (50 s) and a 10 s held-out pass reach the 60 s limit: one more step would end past
    # it once the pass after it is counted
    fitted = _fit_with_clock(monkeypatch, 60.0, val_seconds=10.0)
    assert fitted.steps == 50
    assert fitted.stopped_early
