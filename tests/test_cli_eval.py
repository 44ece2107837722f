"""`logwatch eval`: the JSON contract, honest references, lead time and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logwatch.cli.main import main
from logwatch.core.parse import timestamp_seconds

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
CONTRACT = {"sessions", "anomalous", "precision", "recall", "f1", "fpr", "auroc", "auprc", "threshold"}


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_eval_json_on_the_bundled_incident_log() -> None:
    log = SAMPLES / "incident_build_failures.log"
    result = run("eval", "--labels", str(SAMPLES / "incident_build_failures.labels.csv"), str(log), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= CONTRACT
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


def test_without_scikit_learn_eval_says_what_to_install_before_loading_a_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from logwatch.core.engine import Engine

    monkeypatch.setitem(sys.modules, "sklearn", None)  # what an install without the eval extra sees
    monkeypatch.setattr(Engine, "load", classmethod(lambda *_a, **_k: pytest.fail("loaded a model first")))
    result = run("eval", "--labels", str(SAMPLES / "incident_host_trouble.labels.csv"),
                 str(SAMPLES / "incident_host_trouble.log"))
    assert result.exit_code == 2 and "scikit-learn" in result.stderr and "logwatch[eval]" in result.stderr
    assert "Traceback" not in result.stderr


def test_timestamps_for_lead_time() -> None:
    a, b = timestamp_seconds("2017-05-16 00:08:58.760"), timestamp_seconds("2017-05-16 00:09:00.260")
    assert a is not None and b is not None and b - a == pytest.approx(1.5)
    hdfs = timestamp_seconds("081109 203615")
    assert hdfs is not None and timestamp_seconds("not a time") is None


def test_eval_with_marked_lines_and_simulated_feedback(tmp_path: Path) -> None:
    log, labels = SAMPLES / "incident_host_trouble.log", SAMPLES / "incident_host_trouble.labels.csv"
    # Without the known-pattern margin the bundled model has false alarms to review.
    margin = ("--known-margin", "1.0")
    plain = json.loads(run("eval", "--labels", str(labels), str(log), "--json", "--feedback", "0",
                           "--feedback", "1", *margin).stdout)
    assert plain["known_normal"]["patterns"] == 0
    zero, one = plain["feedback"]
    # No review: exactly the model's own decisions. One review: the repeated false alarm falls silent.
    assert (zero["tp"], zero["fp"]) == (plain["tp"], plain["fp"]) and zero["fp"] >= 2
    assert one["tp"] == plain["tp"] and one["fp"] < zero["fp"] and one["marked_lines"] == 1
    # Marking that line for real (what key m writes) gives the same silence in eval and score.
    from logwatch.core.engine import Engine
    from logwatch.core.ingest import read_lines

    scored = Engine.load(None, device="cpu", known_margin=1.0).score_batch(list(read_lines(str(log))))
    anomalous = {row.split(",")[0] for row in labels.read_text().splitlines()[1:] if row.endswith("Anomaly")}
    first_false = next(s for s in scored if s.alert and s.session not in anomalous)
    store = tmp_path / "known.json"
    from logwatch.core.known_normal import KnownNormal

    marks = KnownNormal.open(store)
    marks.mark(first_false.text)
    marks.save()
    marked = json.loads(run("eval", "--labels", str(labels), str(log), "--json", "--known-normal", str(store), *margin).stdout)
    assert marked["known_normal"]["patterns"] == 1
    assert marked["fp"] < plain["fp"] and marked["tp"] == plain["tp"]
    table = run("eval", "--labels", str(labels), str(log), "--known-normal", str(store), "--feedback", "2", *margin)
    assert "2 reviewed" in table.stdout and "1 pattern(s) marked normal" in table.stdout


def test_a_broken_known_normal_file_is_a_usage_error(tmp_path: Path) -> None:
    store = tmp_path / "known.json"
    store.write_text("[1, 2")
    result = run("eval", "--labels", str(SAMPLES / "incident_host_trouble.labels.csv"),
                 str(SAMPLES / "incident_host_trouble.log"), "--known-normal", str(store))
    assert result.exit_code == 2 and result.stderr.startswith("logwatch: cannot read known-normal file")
    assert "Traceback" not in result.stderr
