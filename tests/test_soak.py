"""A short soak (the full 200k-line run is `python benchmarks/soak.py`, see its docstring)."""

from __future__ import annotations

from pathlib import Path

from soak import run_soak


def test_soak_score_kill_app_and_replays_agree(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = run_soak(3_000, str(tiny_model_dir), tmp_path)
    assert result["lines"] == result["app_lines"] == 3_000
    assert result["alerted_sessions"], "the injected incidents should alert"
    assert 0 < result["replayed_after_kill"] <= 3_000
