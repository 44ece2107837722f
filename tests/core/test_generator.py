"""The nova log generator: deterministic, parseable, and its ground truth is consistent."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from logwatch.core.generator import INCIDENT_KINDS, SAMPLES, generate_log, main, write_sample_logs
from logwatch.core.parse import parse_line
from logwatch.core.sessions import SessionKeyer

REPO = Path(__file__).resolve().parents[2]


def test_same_seed_same_log_and_other_seed_differs() -> None:
    a = generate_log(seed=7, n_instances=15, incidents=("auth_error",))
    b = generate_log(seed=7, n_instances=15, incidents=("auth_error",))
    c = generate_log(seed=8, n_instances=15, incidents=("auth_error",))
    assert a.lines == b.lines and a.sessions == b.sessions and a.incidents == b.incidents
    assert a.lines != c.lines


def test_lines_are_nova_format_in_time_order() -> None:
    log = generate_log(seed=3, n_instances=20)
    parsed = [parse_line(line) for line in log.lines]
    assert all(p.fmt == "openstack" for p in parsed)
    stamps = [p.ts for p in parsed]
    assert stamps == sorted(stamps)
    levels = {p.level for p in parsed}
    assert "INFO" in levels and "ERROR" not in levels  # a normal log has no errors
    assert sum("[instance: " in line for line in log.lines) > 20 * 15


@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_each_incident_is_labelled_at_its_first_anomalous_line(kind: str) -> None:
    log = generate_log(seed=11, n_instances=12, incidents=(kind,))
    assert log.incidents, kind
    keyer = SessionKeyer(None)
    for incident in log.incidents:
        assert incident.kind == kind
        assert log.sessions[incident.session] == "Anomaly"
        line = log.lines[incident.first_line - 1]
        assert keyer.key(line, "generated") == incident.session
        assert incident.ts in line
    anomalous = {s for s, label in log.sessions.items() if label == "Anomaly"}
    assert anomalous == {i.session for i in log.incidents}
    # Every line's session is labelled, and sessions are what the built-in keyer makes.
    assert {keyer.key(line, "x") for line in log.lines} == set(log.sessions)


def test_unknown_incident_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown incident"):
        generate_log(seed=1, n_instances=3, incidents=("meteor_strike",))


def test_bundled_sample_logs_are_what_the_generator_writes(tmp_path: Path) -> None:
    """sample_logs/ must be reproducible from the generator (the default model depends on it)."""
    assert main([str(tmp_path)]) == 0
    for name in SAMPLES:
        for suffix in (".log", ".labels.csv"):
            assert (tmp_path / (name + suffix)).read_bytes() == (REPO / "sample_logs" / (name + suffix)).read_bytes()
    incidents = json.loads((REPO / "sample_logs" / "incident_build_failures.incidents.json").read_text())
    with open(REPO / "sample_logs" / "incident_build_failures.labels.csv", newline="") as f:
        labels = {row["SessionId"]: row["Label"] for row in csv.DictReader(f)}
    assert {i["session"] for i in incidents} == {s for s, v in labels.items() if v == "Anomaly"}


def test_main_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_write_sample_logs_reports_progress(tmp_path: Path) -> None:
    seen: list[str] = []
    paths = write_sample_logs(tmp_path, progress=seen.append)
    assert len(paths) == len(SAMPLES) == len(seen)
