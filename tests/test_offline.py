"""Offline by design: scoring, training and the eval never open a network connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

GUARD = '''
import socket

def _refuse(*args, **kwargs):
    raise RuntimeError("logwatch tried to use the network")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
'''

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sitecustomize.py").write_text(GUARD)
    env = {**os.environ, "PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}  # offline must not depend on these
    return subprocess.run([sys.executable, "-m", "logwatch.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)


def test_guard_works(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(GUARD)
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert "tried to use the network" in probe.stderr


def test_score_train_and_eval_stay_offline(tmp_path: Path) -> None:
    log = SAMPLES / "incident_build_failures.log"
    score = _run(tmp_path, "score", str(log), "--fail-on-alert")
    assert score.returncode == 1 and "network" not in score.stderr, score.stderr[-500:]
    small = tmp_path / "small.log"
    small.write_text("".join(SAMPLES.joinpath("nova_train.log").read_text().splitlines(keepends=True)[:400]))
    train = _run(tmp_path, "train", str(small), "--out", str(tmp_path / "m"), "--epochs", "1", "--vocab-size", "300")
    assert train.returncode == 0, train.stderr[-500:]
    # Without --session-check, train stores the line rule only (the check is opt-in).
    assert json.loads((tmp_path / "m" / "calibration.json").read_text()).get("session_check") is None
    evaluation = _run(tmp_path, "eval", "--labels", str(SAMPLES / "incident_build_failures.labels.csv"), str(log),
                      "--json")
    assert evaluation.returncode == 0 and "network" not in evaluation.stderr, evaluation.stderr[-500:]
