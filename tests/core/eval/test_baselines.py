from __future__ import annotations

import random
import re

import pytest
from helpers import TEMPLATES, shared_data, template_sessions

from logwatch.core.calibrate import threshold_for_fpr as calibrate_threshold
from logwatch.core.count_vectors import CountVectorKNN
from logwatch.core.eval.baselines import PCABaseline, UnseenTemplateBaseline
from logwatch.core.eval.metrics import SessionOutcome, auroc, evaluate, read_labels


def test_unseen_template_session_scores_above_every_training_session() -> None:
    rng = random.Random(1)
    train = template_sessions(rng, 200, TEMPLATES)
    novel = list(train["s0"]) + ["ERROR svc.part3 disk <NUM> failed"]
    for baseline in (UnseenTemplateBaseline(), UnseenTemplateBaseline(fraction=True), CountVectorKNN()):
        baseline.fit(train)
        worst_training = max(baseline.score(lines) for lines in train.values())
        assert baseline.score(novel) > worst_training, type(baseline).__name__


def test_unseen_counts_and_fraction() -> None:
    baseline = UnseenTemplateBaseline().fit({"a": ["x", "y"], "b": ["z"]})
    assert baseline.score(["x", "q", "q", "z"]) == 2.0
    assert baseline.score([]) == 0.0
    share = UnseenTemplateBaseline(fraction=True).fit({"a": ["x"]})
    assert share.score(["x", "q", "q", "x"]) == 0.5
    assert share.score_many({"k": ["q"]}) == {"k": 1.0}
    assert baseline.fit({"c": ["q"]}).score(["x"]) == 1.0  # a new fit replaces the old one


def test_pca_learns_the_normal_space_and_measures_distance_from_it() -> None:
    # Normal sessions: A, B and C in fixed proportion 1:1:2, D once; only the scale varies,
    # so after centring one component explains everything.
    train = {f"s{a}": ["A"] * a + ["B"] * a + ["C"] * (2 * a) + ["D"] for a in range(1, 8)}
    pca = PCABaseline().fit(train)
    assert pca.components == 1
    scores = pca.score_many({
        "in_span": ["A"] * 3 + ["B"] * 3 + ["C"] * 6 + ["D"],
        "b_missing": ["A"] * 3 + ["C"] * 6 + ["D"],  # a step that did not happen
        "unseen": ["A"] * 3 + ["B"] * 3 + ["C"] * 6 + ["D", "E"],
    })
    assert scores["in_span"] < 1e-9
    assert scores["b_missing"] > 0.1
    assert scores["unseen"] > 0.1
    # Training sessions themselves lie in the normal space.
    assert max(pca.score_many(train).values()) < 1e-9


def test_pca_with_identical_training_sessions_flags_any_difference() -> None:
    pca = PCABaseline().fit({"a": ["X", "Y"], "b": ["X", "Y"]})
    assert pca.components == 0
    scores = pca.score_many({"same": ["Y", "X"], "more": ["X", "Y", "Y"]})
    assert scores["same"] == 0.0 and scores["more"] >= 0.0 and pca.score_many({}) == {}
    with pytest.raises(RuntimeError):
        PCABaseline().score_many({"a": ["X"]})
    with pytest.raises(ValueError):
        PCABaseline().fit({"a": []})


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        CountVectorKNN().fit({"a": []})
    with pytest.raises(RuntimeError, match="before fit"):
        CountVectorKNN().score(["x"])
    with pytest.raises(TypeError, match="not one string"):
        UnseenTemplateBaseline().fit({"a": "a whole line"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="not one string"):
        CountVectorKNN().fit({"a": ["x"]}).score("x")
    assert CountVectorKNN().fit({"a": ["x"]}).score([]) == 0.0


_BLK = re.compile(r"blk_-?\d+")
_IP = re.compile(r"\d+(?:\.\d+){3}(?::\d+)?")
_NUM = re.compile(r"\d+")


def _crude_mask(line: str) -> str:
    """Drop date, time and pid; mask blocks, IPs and numbers (logwatch.core.masking does it properly)."""
    body = line.split(" ", 3)[-1]
    return _NUM.sub("<N>", _IP.sub("<IP>", _BLK.sub("<BLK>", body)))


def test_smoke_on_real_hdfs_blocks() -> None:
    """Chronological split on real HDFS: the baselines must rank anomalous blocks high.

    Blocks are those whose first line is among the first 20k lines, with *all* their lines
    (reading the rest of the 145k-line file costs ~0.2 s): cutting every block at line 20k
    would leave the blocks still open there truncated, and a truncated normal block looks
    like one that stopped early, a real anomaly type. Fit on the first 60% of normal blocks,
    calibrate on the next 10%, test on the rest. (The fit part must reach past ~55%: there a
    new job starts writing ``/user/root/sortrand/...`` paths, which masking keeps, so a fit on
    the first half alone calls every later normal block "unseen".)
    """
    sessions: dict[str, list[str]] = {}
    with open(shared_data("hdfs/loglead_2pct/HDFS_2pct_dev.log"), encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh):
            match = _BLK.search(line)
            if match is None:
                continue
            key = match.group()
            if key in sessions:
                sessions[key].append(_crude_mask(line.rstrip("\n")))
            elif n < 20_000:
                sessions[key] = [_crude_mask(line.rstrip("\n"))]
    labels = read_labels(shared_data("hdfs/loglead_2pct/HDFS_2pct_dev_block_labels.csv"))
    normal = [k for k in sessions if not labels[k]]
    train = {k: sessions[k] for k in normal[: int(0.6 * len(normal))]}
    calib = {k: sessions[k] for k in normal[int(0.6 * len(normal)) : int(0.7 * len(normal))]}
    test = {k: v for k, v in sessions.items() if k not in train and k not in calib}
    truth = [labels[k] for k in test]
    assert sum(truth) >= 20 and len(truth) - sum(truth) >= 200

    for baseline in (UnseenTemplateBaseline(), CountVectorKNN()):
        baseline.fit(train)
        scores = baseline.score_many(test)
        assert all(type(s) is float for s in scores.values())
        assert auroc(truth, [scores[k] for k in test]) > 0.7, type(baseline).__name__

        t = calibrate_threshold(list(baseline.score_many(calib).values()), max_fpr=0.01)
        m = evaluate([SessionOutcome(k, labels[k], scores[k], scores[k] > t) for k in test], threshold=t)
        assert m.fpr < 0.05  # the budget was set on other normal blocks, so allow some slack
        assert m.f1 > m.flag_all_f1
