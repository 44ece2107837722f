"""A complete model directory in one call (core/build.py), and recalibration that keeps what it
does not recompute."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from logwatch.cli.main import main
from logwatch.core.build import build_model_dir, calibrate_engine, session_lines
from logwatch.core.calibrate import Calibration
from logwatch.core.engine import Engine
from logwatch.core.generator import generate_log
from logwatch.core.masking import mask_line
from logwatch.core.spec import load_patterns, session_pairs
from logwatch.core.train import TrainConfig, group_sessions

MICRO = TrainConfig(n_layer=1, n_head=1, n_embd=16, n_ctx=32, max_line_tokens=12, vocab_size=300, epochs=1,
                    batch_size=8, warmup_steps=2, device="cpu", seed=3)


def test_a_built_directory_alerts_by_its_calibration_and_carries_its_session_check(tmp_path: Path) -> None:
    lines = [("gen.log", t) for t in generate_log(seed=4, n_instances=20).lines]
    built = build_model_dir(lines, tmp_path / "m", MICRO, max_fpr=0.1, session_check=True)
    assert built.calibration is not None and built.calibration.session_check is not None
    assert built.notes and "session check" in built.notes[0] and not built.warnings
    stored = Calibration.load(tmp_path / "m")
    assert stored is not None and stored.line_threshold == built.calibration.line_threshold
    assert stored.session_check == json.loads(json.dumps(built.calibration.session_check))  # as written
    assert stored.flagged_sessions <= 0.1 * stored.normal_sessions  # the budget, on the held-out sessions
    engine = Engine.load(tmp_path / "m", device="cpu", session_ends=True)
    assert engine.threshold == stored.line_threshold and engine.session_check is not None
    # a known line in a new place is judged against the training data's pairs and the token threshold
    assert stored.token_threshold is not None and engine.rule.token_threshold == stored.token_threshold
    assert engine.rule.normal_pairs and engine.rule.normal_patterns is not None
    assert all(a in engine.rule.normal_patterns and b in engine.rule.normal_patterns for a, b in engine.rule.normal_pairs)


def test_calibrating_on_given_sessions_uses_them_and_no_others(tmp_path: Path) -> None:
    lines = [("gen.log", t) for t in generate_log(seed=4, n_instances=12).lines]
    cal = group_sessions(((("gen.log", t) for t in generate_log(seed=5, n_instances=10).lines)), "builtin")
    built = build_model_dir(lines, tmp_path / "m", MICRO, max_fpr=0.05, calibrate_on=cal)
    assert built.calibration is not None
    assert built.calibration.normal_sessions == len({line.session for line in _keyed(cal)})
    assert built.calibration.details["calibrated_on"] == "given normal sessions"


def _keyed(sessions: dict[str, list[str]]) -> list:
    return Engine.unscored().score_batch(session_lines(sessions))


def test_recalibrating_keeps_the_session_check(checked_model: Path, normal_log_lines: list[str], tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(checked_model, model)
    before = Calibration.load(model)
    assert before is not None and before.session_check is not None
    engine = Engine.load(model, device="cpu")
    again = calibrate_engine(engine, session_lines(group_sessions((("n.log", t) for t in normal_log_lines), "builtin")),
                             max_fpr=0.2)
    assert again.session_check == before.session_check and again.max_fpr == 0.2
    log = tmp_path / "normal.log"
    log.write_text("\n".join(normal_log_lines[:400]) + "\n")
    pairs_before = load_patterns(model)[1]
    result = CliRunner().invoke(main, ["calibrate", "--model", str(model), str(log), "--max-fpr", "0.05"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["session_check_kept"] is True
    after = Calibration.load(model)
    assert after is not None and after.session_check == before.session_check and after.max_fpr == 0.05
    assert after.token_threshold is not None
    # the calibration log's pairs join the model's (it is normal data too)
    logged = session_pairs([mask_line(t) for t in ts]
                           for ts in group_sessions((("n.log", t) for t in normal_log_lines[:400]), "builtin").values())
    pairs_after = load_patterns(model)[1]
    assert pairs_before is not None and pairs_after is not None and pairs_before | logged == pairs_after
