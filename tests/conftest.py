"""Shared fixtures: a tiny real model trained in seconds, and generated nova logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwatch.core.generator import generate_log
from logwatch.core.train import TrainConfig

#: Small enough to train in a few seconds on 2 CPU cores, big enough to learn nova lifecycles.
TINY = dict(n_layer=2, n_head=2, n_embd=64, n_ctx=64, max_line_tokens=24, vocab_size=512,
            epochs=3, batch_size=16, lr=3e-3, warmup_steps=10, seed=0, device="cpu")


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Marks a developer made in their own monitor (~/.local/state/logwatch) must not change any
    test's alerts, and no test may write there: every test gets its own XDG state directory."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


@pytest.fixture(scope="session")
def normal_log_lines() -> list[str]:
    """A normal (incident-free) generated nova log, a few hundred instances."""
    return generate_log(seed=101, n_instances=60).lines


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, normal_log_lines: list[str]) -> Path:
    """A real model (tokenizer, weights, calibration) trained on generated normal logs."""
    from logwatch.core.build import build_model_dir

    out = tmp_path_factory.mktemp("tiny_model")
    built = build_model_dir([("normal.log", t) for t in normal_log_lines], out, TrainConfig(**TINY), max_fpr=0.05)
    assert built.calibration is not None
    return out


@pytest.fixture(scope="session")
def checked_model(tiny_model_dir: Path, normal_log_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model plus a session check fitted on its normal log (3/4 reference, 1/4 threshold)."""
    import dataclasses
    import shutil

    from logwatch.core.calibrate import Calibration
    from logwatch.core.session_check import SessionCheck
    from logwatch.core.train import group_sessions

    out = tmp_path_factory.mktemp("checked") / "model"
    shutil.copytree(tiny_model_dir, out)
    sessions = group_sessions((("normal.log", t) for t in normal_log_lines), "builtin")
    keys = list(sessions)
    cal = {k: sessions[k] for k in keys[::4]}
    train = {k: v for k, v in sessions.items() if k not in cal}
    check = SessionCheck.fit_raw(train, cal, max_fpr=0.05)
    calibration = Calibration.load(out)
    assert calibration is not None
    dataclasses.replace(calibration, session_check=check.to_dict()).save(out)
    return out


@pytest.fixture(scope="session")
def truncated() -> tuple[list[str], str]:
    """A normal generated log in which one instance stops after its first two lines (and that instance)."""
    return truncated_log()


def truncated_log(seed: int = 202) -> tuple[list[str], str]:
    """A normal generated log in which one instance stops after its first two lines."""
    from collections import Counter

    from logwatch.core.sessions import SessionKeyer

    lines = generate_log(seed=seed, n_instances=30).lines
    keyer = SessionKeyer("builtin")
    counts = Counter(keyer.key(t, "x.log") for t in lines)
    victim = next(k for k, n in counts.items() if n >= 12 and len(k) == 36)  # an instance UUID with a lifecycle
    kept, seen = [], 0
    for text in lines:
        if keyer.key(text, "x.log") == victim:
            seen += 1
            if seen > 2:
                continue
        kept.append(text)
    return kept, victim
