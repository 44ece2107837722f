"""``--learn`` on the command line, remembering what was learned, and ``logwatch models``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from logwatch.core.generator import generate_log


def _logwatch(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "XDG_STATE_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "logwatch.cli.main", *args], capture_output=True, text=True,
                          timeout=600, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def other_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    log = generate_log(seed=43, n_instances=25, incidents=("volume_attach",), dialect="other")
    path = tmp_path_factory.mktemp("other") / "compute.log"
    path.write_text("\n".join(log.lines) + "\n")
    return path, log


def test_score_learns_remembers_and_reuses_a_log_it_did_not_know(other_log, tmp_path: Path) -> None:
    path, log = other_log
    # --learn auto: the bundled model does not know it; --learn-seconds bounds the learning
    first = _logwatch("score", str(path), "--learn-seconds", "12", env_home=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(x) for x in first.stdout.splitlines()]
    assert [r["n"] for r in rows] == list(range(1, len(log.lines) + 1))  # the contract holds while learning
    assert "learned this log" in first.stderr and "remembered as" in first.stderr
    assert "training (at most 12 s, --learn-seconds)" in first.stderr
    listed = [json.loads(x) for x in _logwatch("models", "--json", env_home=tmp_path).stdout.splitlines()]
    assert [m["name"] for m in listed] == ["compute.log"] and listed[0]["source"] == str(path)
    summary = json.loads((tmp_path / "logwatch" / "models" / "compute.log" / "training_summary.json").read_text())
    assert summary["config"]["max_seconds"] == 12.0
    again = _logwatch("score", str(path), env_home=tmp_path)
    assert again.returncode == 0 and "using the model learned for 'compute.log'" in again.stderr
    assert "nothing to learn" in again.stderr
    table = _logwatch("models", env_home=tmp_path)
    assert "compute.log" in table.stdout and "1 learned model" in table.stdout
    removed = _logwatch("models", "--remove", "compute.log", env_home=tmp_path)
    assert removed.returncode == 0 and _logwatch("models", "--json", env_home=tmp_path).stdout == ""
    missing = _logwatch("models", "--remove", "compute.log", env_home=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("logwatch: no learned model")


@pytest.mark.parametrize("args, message", [
    (("--learn", "sometimes"), "--learn must be"),
    (("--learn", "10"), "between 200"),
    (("--name", "../escape"), "model name"),
    (("--learn-seconds", "1"), "--learn-seconds"),
])
def test_bad_learning_options_are_usage_errors(other_log, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    path, _ = other_log
    result = _logwatch("score", str(path), *args, env_home=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_learn_off_scores_with_the_model_as_it_is(other_log, tmp_path: Path) -> None:
    path, log = other_log
    result = _logwatch("score", str(path), "--learn", "off", env_home=tmp_path)
    assert result.returncode == 0 and "learn" not in result.stderr
    assert len(result.stdout.splitlines()) == len(log.lines)
    assert not (tmp_path / "logwatch" / "models").exists()


def test_train_from_a_model_adapts_it_to_the_files(other_log, tmp_path: Path) -> None:
    """``train --from``: the learning path, written to a model directory that alerts by its own threshold."""
    log_path, _ = other_log

    def logwatch(*args: str) -> subprocess.CompletedProcess[str]:
        return _logwatch(*args, env_home=tmp_path / "state")

    other = str(log_path)
    out = tmp_path / "adapted"
    result = logwatch("train", other, "--out", str(out), "--from", "default")
    assert result.returncode == 0, result.stderr
    assert {"spec.json", "tokenizer.json", "model.safetensors", "calibration.json", "patterns.json"} <= {
        p.name for p in out.iterdir()}
    assert "adapted in" in result.stderr
    scored = logwatch("score", other, "--model", str(out), "--learn", "off")
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    bundled = logwatch("score", other, "--learn", "off")
    before = sum(json.loads(line)["alert"] for line in bundled.stdout.splitlines())
    assert len(rows) == len(bundled.stdout.splitlines())
    assert sum(r["alert"] for r in rows) < before / 5  # it knows the log now
    bad = logwatch("train", other, "--out", str(tmp_path / "x"), "--from", str(tmp_path / "missing"))
    assert bad.returncode == 2 and "model directory not found" in bad.stderr


def test_eval_learn_measures_the_learning_path_on_labelled_lines(other_log, tmp_path: Path) -> None:
    """``eval --learn N`` adapts the bundled model to the first N lines, then scores them all: on
    another deployment's dialect it must flag fewer normal sessions than the bundled model alone
    and still catch the incident."""
    path, log = other_log
    labels = tmp_path / "labels.csv"
    labels.write_text(log.labels_csv())
    plain = _logwatch("eval", str(path), "--labels", str(labels), "--json", "--no-baseline", env_home=tmp_path)
    learned = _logwatch("eval", str(path), "--labels", str(labels), "--json", "--no-baseline", "--learn", "600",
                        env_home=tmp_path)
    assert plain.returncode == 0 and learned.returncode == 0, learned.stderr
    before, after = json.loads(plain.stdout), json.loads(learned.stdout)
    assert "learned" not in before and after["learned"]["window_lines"] == 600
    assert after["recall"] == 1.0 and after["fpr"] < before["fpr"]
    refused = _logwatch("eval", str(path), "--labels", str(labels), "--learn", "600", "--session-regex", "(x)",
                        env_home=tmp_path)
    assert refused.returncode == 2 and "--session-regex" in refused.stderr
    nonsense = _logwatch("eval", str(path), "--labels", str(labels), "--learn", "lots", env_home=tmp_path)
    assert nonsense.returncode == 2 and "--learn must be auto or a number" in nonsense.stderr


def test_relearn_takes_0_or_a_sensible_number_of_lines(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from logwatch.cli.main import main

    log = tmp_path / "x.log"
    log.write_text("INFO a\n")
    for value in ("10", "-1", "lots"):
        result = CliRunner().invoke(main, ["score", str(log), "--relearn", value])
        assert result.exit_code == 2 and "--relearn" in result.output, (value, result.output)
