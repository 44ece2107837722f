from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from helpers import shared_data

from logwatch.core.eval.metrics import (
    LeadTime,
    SessionOutcome,
    auprc,
    auroc,
    confusion,
    evaluate,
    flag_all_f1,
    lead_times,
    read_labels,
    summarize_lead_times,
)

# ---------------------------------------------------------------- AUROC / AUPRC by hand


def test_perfect_reversed_and_tied_rankings() -> None:
    labels = [True, True, False, False, False]
    assert auroc(labels, [5, 4, 3, 2, 1]) == 1.0
    assert auprc(labels, [5, 4, 3, 2, 1]) == 1.0
    assert auroc(labels, [1, 2, 3, 4, 5]) == 0.0
    assert auroc(labels, [7, 7, 7, 7, 7]) == 0.5
    # All tied: one threshold, recall 0 -> 1 at precision = prevalence 2/5.
    assert auprc(labels, [7, 7, 7, 7, 7]) == pytest.approx(0.4)
    # Reversed: anomalies ranked 4th and 5th -> AP = 1/2 * 1/4 + 1/2 * 2/5.
    assert auprc(labels, [1, 2, 3, 4, 5]) == pytest.approx(0.5 * 0.25 + 0.5 * 0.4)


def test_small_mixed_case_derived_by_hand() -> None:
    labels = [True, False, True, False]
    scores = [0.9, 0.8, 0.7, 0.1]
    # Pairs (anomaly, normal): 0.9>0.8, 0.9>0.1, 0.7<0.8, 0.7>0.1 -> 3 of 4 ordered right.
    assert auroc(labels, scores) == pytest.approx(0.75)
    # Ranked: 0.9 (+) P=1 R=1/2; 0.8 (-); 0.7 (+) P=2/3 R=1 -> AP = 1/2*1 + 1/2*2/3.
    assert auprc(labels, scores) == pytest.approx(0.5 + 1 / 3)


def test_ties_count_half_and_enter_together() -> None:
    labels = [True, False, True]
    scores = [0.5, 0.5, 0.2]
    # Pairs: (0.5 vs 0.5) tie = 1/2, (0.2 vs 0.5) = 0 -> 0.5 / 2 pairs = 0.25.
    assert auroc(labels, scores) == pytest.approx(0.25)
    # Threshold 0.5 takes both tied sessions: P=1/2 R=1/2; threshold 0.2: P=2/3 R=1.
    assert auprc(labels, scores) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_reported_figures_do_not_hang_on_float_noise() -> None:
    from logwatch.core.eval.metrics import _json_number

    assert _json_number(0.34374999999999994) == _json_number(0.34375) == _json_number(0.34375000000000006)
    assert _json_number(2 / 3) == 0.6667 and _json_number(math.inf) is None and _json_number(3) == 3


def test_scikit_learn_is_asked_for_by_name_and_decisions_do_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from logwatch.core.eval.metrics import SKLEARN_MISSING, decision_metrics, have_sklearn

    monkeypatch.setitem(sys.modules, "sklearn", None)  # what an install without the eval extra sees
    assert not have_sklearn()
    with pytest.raises(ImportError, match=r"logwatch\[eval\]") as raised:
        auroc([True, False], [2.0, 1.0])
    assert str(raised.value) == SKLEARN_MISSING
    report = decision_metrics({"a": True, "b": False}, {"a": True, "b": True})
    assert (report["tp"], report["fn"], report["recall"]) == (1, 1, 0.5) and "auroc" not in report


def test_infinite_scores_rank_normally() -> None:
    assert auroc([True, False, False], [math.inf, -math.inf, 0.0]) == 1.0
    assert auroc([False, True], [-math.inf, -math.inf]) == 0.5


def test_one_class_or_bad_input() -> None:
    assert math.isnan(auroc([True, True], [1.0, 2.0]))
    assert math.isnan(auroc([False, False], [1.0, 2.0]))
    assert math.isnan(auprc([False, False], [1.0, 2.0]))
    assert auprc([True, True], [1.0, 2.0]) == 1.0  # no normal session: nothing to get wrong
    assert math.isnan(auroc([], []))
    with pytest.raises(ValueError, match="NaN"):
        auroc([True, False], [math.nan, 1.0])
    with pytest.raises(ValueError, match="labels"):
        auprc([True], [1.0, 2.0])


def _auroc_pairwise(labels: list[bool], scores: list[float]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _ap_by_thresholds(labels: list[bool], scores: list[float]) -> float:
    n_pos = sum(labels)
    ap, last_recall = 0.0, 0.0
    for t in sorted(set(scores), reverse=True):
        flagged = [y for s, y in zip(scores, labels) if s >= t]
        recall = sum(flagged) / n_pos
        ap += (recall - last_recall) * (sum(flagged) / len(flagged))
        last_recall = recall
    return ap


def test_against_brute_force_on_random_data() -> None:
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(2, 40)
        labels = [rng.random() < 0.3 for _ in range(n)]
        labels[0], labels[1] = True, False  # both classes present
        rng.shuffle(labels)
        levels = rng.choice([3, 10, 1000])  # few levels force many ties
        scores = [float(rng.randrange(levels)) for _ in range(n)]
        assert auroc(labels, scores) == pytest.approx(_auroc_pairwise(labels, scores))
        assert auprc(labels, scores) == pytest.approx(_ap_by_thresholds(labels, scores))


# ---------------------------------------------------------------- evaluate / flag-all


def test_flag_all_f1_is_the_studys_number() -> None:
    assert round(flag_all_f1(169, 213), 4) == 0.8848
    assert flag_all_f1(0, 10) == 0.0
    assert math.isnan(flag_all_f1(0, 0))
    with pytest.raises(ValueError):
        flag_all_f1(5, 4)


def test_flagging_everything_scores_exactly_the_flag_all_reference() -> None:
    outcomes = [SessionOutcome(f"s{i}", i < 169, 1.0, True) for i in range(213)]
    m = evaluate(outcomes)
    assert (m.tp, m.fp, m.tn, m.fn) == (169, 44, 0, 0)
    assert m.f1 == pytest.approx(m.flag_all_f1)
    assert m.specificity == 0.0 and m.fpr == 1.0
    assert m.auroc == 0.5  # one score for all: no ranking information


def _small() -> list[SessionOutcome]:
    return [
        SessionOutcome("a", True, 9.0, True),   # tp
        SessionOutcome("b", True, 8.0, True),   # tp
        SessionOutcome("c", True, 2.0, False),  # fn
        SessionOutcome("d", False, 7.0, True),  # fp
        SessionOutcome("e", False, 1.0, False),  # tn
        SessionOutcome("f", False, 0.5, False),  # tn
    ]


def test_evaluate_small_example() -> None:
    outcomes = _small()
    assert confusion(outcomes) == (2, 1, 2, 1)
    m = evaluate(outcomes, threshold=5.0)
    assert (m.sessions, m.anomalous, m.tp, m.fp, m.tn, m.fn) == (6, 3, 2, 1, 2, 1)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.fpr == pytest.approx(1 / 3)
    assert m.specificity == pytest.approx(2 / 3)
    # Anomaly scores 9, 8, 2 vs normal 7, 1, 0.5: 9 and 8 beat all 3, 2 beats 2 -> 8/9.
    assert m.auroc == pytest.approx(8 / 9)
    # Ranked 9+ 8+ 7- 2+ ...: AP = 1/3*1 + 1/3*1 + 1/3*3/4.
    assert m.auprc == pytest.approx(2 / 3 + 0.25)
    assert m.threshold == 5.0
    assert m.flag_all_f1 == pytest.approx(2 * 0.5 / 1.5)


def test_to_dict_is_the_json_contract() -> None:
    d = evaluate(_small(), threshold=5.123456).to_dict()
    for key in ("sessions", "anomalous", "precision", "recall", "f1", "fpr", "auroc", "auprc", "threshold"):
        assert key in d
    assert d["precision"] == 0.6667 and d["auroc"] == 0.8889 and d["threshold"] == 5.1235
    assert d["sessions"] == 6 and isinstance(d["sessions"], int)
    json.dumps(d, allow_nan=False)


def test_single_class_gives_none_not_nan_in_json() -> None:
    normal_only = [SessionOutcome("x", False, 1.0, True), SessionOutcome("y", False, 0.0, False)]
    m = evaluate(normal_only, threshold=-math.inf)
    assert m.fpr == 0.5 and m.precision == 0.0
    assert math.isnan(m.recall) and math.isnan(m.f1) and math.isnan(m.auroc) and math.isnan(m.auprc)
    d = m.to_dict()
    assert d["recall"] is None and d["auroc"] is None and d["auprc"] is None and d["f1"] is None
    assert d["threshold"] is None and d["fpr"] == 0.5
    json.dumps(d, allow_nan=False)

    anomalous_only = [SessionOutcome("x", True, 1.0, False)]
    d = evaluate(anomalous_only).to_dict()
    assert d["fpr"] is None and d["specificity"] is None and d["recall"] == 0.0 and d["f1"] == 0.0
    assert d["precision"] == 0.0  # nothing flagged: zero_division = 0

    empty = evaluate([]).to_dict()
    assert empty["sessions"] == 0 and empty["auroc"] is None and empty["flag_all_f1"] is None


def test_evaluate_rejects_duplicate_sessions_and_nan_scores() -> None:
    with pytest.raises(ValueError, match="twice"):
        evaluate([SessionOutcome("a", True, 1.0, True), SessionOutcome("a", False, 0.0, False)])
    with pytest.raises(ValueError, match="NaN"):
        evaluate([SessionOutcome("a", True, math.nan, True), SessionOutcome("b", False, 0.0, False)])


# ---------------------------------------------------------------- lead time


def test_lead_times_sign_and_true_positives_only() -> None:
    first_alert = {"early": (3, 100.0), "late": (10, 250.0), "fp": (1, 5.0), "no_ts": (4, None)}
    first_anomalous = {"early": (7, 160.0), "late": (8, 200.0), "missed": (2, 1.0), "no_ts": (4, 9.0)}
    lts = {lt.session: lt for lt in lead_times(first_alert, first_anomalous)}
    assert set(lts) == {"early", "late", "no_ts"}  # fp (no anomaly) and missed (no alert) excluded
    assert lts["early"] == LeadTime("early", 4, 60.0)
    assert lts["late"] == LeadTime("late", -2, -50.0)  # alert came after the first anomalous line
    assert lts["no_ts"] == LeadTime("no_ts", 0, None)

    summary = summarize_lead_times(list(lts.values()))
    assert summary["count"] == 3
    assert summary["median_lines_before"] == 0
    assert summary["median_seconds"] == pytest.approx(5.0)  # median of 60 and -50
    assert summary["share_at_or_before"] == pytest.approx(2 / 3)
    assert summary["share_before"] == pytest.approx(1 / 3)
    assert summarize_lead_times([])["count"] == 0
    assert summarize_lead_times([])["median_lines_before"] is None


# ---------------------------------------------------------------- label files


def test_read_labels_good_files(tmp_path: Path) -> None:
    good = tmp_path / "labels.csv"
    good.write_bytes("\ufeffSessionId,Label\r\nblk_1,Normal\r\nblk_-2, anomaly \r\n\r\nblk_1,NORMAL\r\n".encode())
    assert read_labels(good) == {"blk_1": False, "blk_-2": True}

    loghub = tmp_path / "anomaly_label.csv"
    loghub.write_text("BlockId,Label\nblk_5,Anomaly\n")
    assert read_labels(str(loghub)) == {"blk_5": True}

    extra = tmp_path / "extra.csv"
    extra.write_text("BlockId,EventSequence,Label\nblk_9,\"E1 E2\",Normal\n")
    assert read_labels(extra) == {"blk_9": False}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"id,verdict\na,Normal\n", "header"),
        (b"Label\nNormal\n", "header"),
        (b"SessionId,Label\na,Normal\nb,Broken\n", r":3: label must be Normal or Anomaly"),
        (b"SessionId,Label\na\n", ":2: expected 2 columns"),
        (b"SessionId,Label\n,Normal\n", "empty session id"),
        (b"SessionId,Label\na,Normal\na,Anomaly\n", "both Normal and Anomaly"),
        (b"SessionId,Label\na,Nor\xffmal\n", "not UTF-8"),
        (b"SessionId,Label\n\"unterminated,Normal\n" + b"x" * 200_000, "malformed CSV"),
    ],
)
def test_read_labels_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_labels(path)


def test_read_labels_real_file() -> None:
    path = shared_data("hdfs/loglead_2pct/HDFS_2pct_dev_block_labels.csv")
    labels = read_labels(path)
    assert len(labels) == 6900 and sum(labels.values()) == 232  # counts from data/SOURCES.md
