"""``evaluate_files`` without the CLI: the combined rule, its parts, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwatch.core.alerts import AlertRule
from logwatch.core.engine import Engine
from logwatch.core.eval.evaluate import evaluate_files
from logwatch.core.eval.traces import EvalError, read_incidents
from logwatch.core.sessions import SessionKeyer


def test_the_session_check_finds_the_session_that_stopped_early_and_is_reported_apart(
        checked_model: Path, truncated, tmp_path: Path) -> None:
    texts, victim = truncated
    log = tmp_path / "x.log"
    log.write_text("\n".join(texts) + "\n")
    keyer = SessionKeyer(None)
    labels = {keyer.key(t, str(log)): False for t in texts}
    labels[victim] = True
    report = evaluate_files(Engine.load(checked_model, device="cpu"), [str(log)], labels)
    assert report["sessions"] == len(labels) and report["anomalous"] == 1
    assert report["session_check"]["tp"] == 1  # no line of it is surprising, its line mix is
    assert report["tp"] == 1 and report["recall"] == 1.0  # so the combined rule (OR) catches it
    assert report["line_rule"]["fpr"] <= report["fpr"]  # an OR never flags fewer normal sessions
    assert "session check" in report["rule"]
    assert report["flag_all"]["fpr"] == 1.0 and set(report["baselines"]) == {"unseen_template", "count_vector_knn"}


def test_lead_time_comes_from_the_incidents_file_beside_the_log(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[3] / "sample_logs"
    log = samples / "incident_build_failures.log"
    labels = {row.split(",")[0]: row.endswith("Anomaly")
              for row in (samples / "incident_build_failures.labels.csv").read_text().splitlines()[1:]}
    report = evaluate_files(Engine.load(None, device="cpu"), [str(log)], labels)
    incidents = read_incidents(samples / "incident_build_failures.incidents.json")
    assert report["lead_time"]["count"] == len(incidents)
    assert {lt["session"] for lt in report["lead_times"]} == set(incidents)
    assert report["baselines"] == {} and "session_check" not in report  # the bundled model stores no check


def test_bad_evaluations_say_why(tiny_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("INFO nova.compute.manager [instance: 1b2c3d4e-0000-4000-8000-000000000000] hello\n")
    engine = Engine.load(tiny_model_dir, device="cpu")
    with pytest.raises(EvalError, match="names no session"):
        evaluate_files(engine, [str(log)], {})
    with pytest.raises(EvalError, match="no session in"):
        evaluate_files(engine, [str(log)], {"someone-else": True})
    engine.rule = AlertRule.off()
    with pytest.raises(EvalError, match="no calibrated threshold"):
        evaluate_files(engine, [str(log)], {"1b2c3d4e-0000-4000-8000-000000000000": False})
    with pytest.raises(EvalError, match="standard input"):
        evaluate_files(Engine.load(tiny_model_dir, device="cpu"), ["-"], {"a": True})



def test_traces_keep_the_patterns_the_engine_gave_its_lines() -> None:
    """Evaluation counts a session's lines by the pattern each scored line carries (masked once,
    by the engine), not by masking the text again."""
    from collections import Counter
    from dataclasses import replace

    from logwatch.core.eval.traces import score_sessions
    from logwatch.core.masking import mask_line

    log = Path(__file__).resolve().parents[3] / "sample_logs" / "incident_host_trouble.log"
    texts = log.read_text().splitlines()
    engine = Engine.load(None, device="cpu", known_margin=1.0)
    scored = engine.score_batch
    # Every pattern deliberately unlike its text's mask: what evaluation keeps must come from the field.
    engine.score_batch = lambda batch: [replace(x, pattern="tagged " + x.pattern) for x in scored(batch)]  # type: ignore[method-assign]
    traces = score_sessions(engine, [str(log)]).sessions.values()
    counted: Counter[str] = Counter()
    for trace in traces:
        counted.update(trace.templates)
    assert counted == Counter("tagged " + mask_line(t) for t in texts)
    surprising = [p for trace in traces for _, p in trace.surprising]
    assert surprising and all(p.startswith("tagged ") for p in surprising)
