"""A small slice of the HDFS chronological experiment (the full run: benchmarks/eval_hdfs.py)."""

from __future__ import annotations

import argparse

import eval_hdfs
import pytest

pytestmark = pytest.mark.skipif(not eval_hdfs.DATA.exists(),
                                reason="needs ../shared/data: the research data beside the repository is not here")


def test_split_is_chronological_and_disjoint() -> None:
    blocks, labels = eval_hdfs.load_blocks(300)
    train, cal, test = eval_hdfs.split(blocks, labels)
    order = list(blocks)
    assert train and cal and test
    assert not (set(train) & set(cal)) and not (set(cal) & set(test)) and not (set(train) & set(test))
    assert max(order.index(b) for b in train) < min(order.index(b) for b in cal)
    assert max(order.index(b) for b in cal) < min(order.index(b) for b in test)
    assert not any(labels[b] for b in train + cal)  # only normal blocks are learnt from
    early = eval_hdfs.early_anomalies(blocks, labels, test)
    assert all(labels[b] for b in early) and not set(early) & set(test)
    assert {b for b in blocks if labels[b]} == set(early) | {b for b in test if labels[b]}


def test_small_run_reports_model_baselines_and_reference() -> None:
    report = eval_hdfs.run(argparse.Namespace(epochs=1, blocks=400, max_fpr=0.05, feedback=[0, 3],
                                             live_idle=[1e9, 30]))
    assert report["split"]["test_blocks"] > 0 and report["sessions"] == report["split"]["test_blocks"]
    for key in ("line_rule", "session_check", "flag_all"):
        assert {"precision", "recall", "f1", "fpr"} <= set(report[key]), key
    assert report["flag_all"]["fpr"] == 1.0
    assert report["line_rule"]["fpr"] <= 0.2  # a real threshold, not flag-everything
    assert report["baselines"]["pca"]["fpr"] < 1.0 and report["baselines"]["pca"]["components"] >= 1
    # No review changes nothing; reviews only ever remove false alarms, never true alerts.
    runs = {(run["scope"], run["reviews"]): run for run in report["feedback"]}
    assert set(runs) == {("line", 0), ("line", 3), ("session", 0), ("session", 3)}
    for scope in ("line", "session"):
        none, three = runs[scope, 0], runs[scope, 3]
        assert (none["tp"], none["fp"]) == (report["tp"], report["fp"])
        assert three["tp"] == report["tp"] and three["fp"] <= report["fp"]
    # Judged live with an idle time longer than the log, every block is judged once, at the end:
    # exactly the session check's decisions in `eval`.
    never_idle, short_idle = report["live_check"]
    assert never_idle["blocks_judged_more_than_once"] == 0
    assert (never_idle["tp"], never_idle["fp"]) == (report["session_check"]["tp"], report["session_check"]["fp"])
    assert short_idle["sessions"] == report["sessions"]
    every = report["every_anomalous_block"]
    assert every["anomalous"] == report["anomalous"] + report["split"]["early_anomalous"]
    assert every["sessions"] - every["anomalous"] == report["sessions"] - report["anomalous"]
    assert every["fp"] == report["fp"]  # the same normal blocks, so the same false alarms
