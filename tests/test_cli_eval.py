"""`logwatch eval`: the JSON contract, honest references, lead time and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logwatch.core.evaluate import timestamp_seconds
from logwatch.tui.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
CONTRACT = {"sessions", "anomalous", "precision", "recall", "f1", "fpr", "auroc", "auprc", "threshold"}


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_eval_json_on_the_bundled_incident_log() -> None:
    log = SAMPLES / "incident_build_failures.log"
    result = run("eval", "--labels", str(SAMPLES / "incident_build_failures.labels.csv"), str(log), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert CONTRACT <= set(report)
    labels = (SAMPLES / "incident_build_failures.labels.csv").read_text().splitlines()[1:]
    assert report["sessions"] == len(labels)
    assert report["anomalous"] == sum(line.endswith(",Anomaly") for line in labels)
    assert report["recall"] == 1.0 and report["fpr"] <= 0.01
    # The flag-everything reference is reported beside the model, and is far worse.
    assert report["flag_all"]["recall"] == 1.0 and report["flag_all"]["fpr"] == 1.0
    assert report["flag_all"]["f1"] < report["f1"]
    # Lead time against the incidents' first anomalous lines (never against session end).
    assert report["lead_time"]["count"] == report["anomalous"]


def test_eval_table_output() -> None:
    result = run("eval", "--labels", str(SAMPLES / "incident_host_trouble.labels.csv"),
                 str(SAMPLES / "incident_host_trouble.log"))
    assert result.exit_code == 0, result.stderr
    assert "AUROC" in result.stdout and "flag" in result.stdout


@pytest.mark.parametrize("content, message", [
    (None, "labels"),
    ("SessionId,Label\n", "no"),
    ("garbage without columns\n", "SessionId"),
])
def test_bad_labels_are_usage_errors(tmp_path: Path, content: str | None, message: str) -> None:
    labels = tmp_path / "labels.csv"
    if content is not None:
        labels.write_text(content)
    result = run("eval", "--labels", str(labels), str(SAMPLES / "incident_host_trouble.log"))
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("logwatch: ") and message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_timestamps_for_lead_time() -> None:
    a, b = timestamp_seconds("2017-05-16 00:08:58.760"), timestamp_seconds("2017-05-16 00:09:00.260")
    assert a is not None and b is not None and b - a == pytest.approx(1.5)
    hdfs = timestamp_seconds("081109 203615")
    assert hdfs is not None and timestamp_seconds("not a time") is None
