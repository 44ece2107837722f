"""A small slice of the BGL line-labelled experiment (the full run: benchmarks/eval_bgl.py)."""

from __future__ import annotations

import argparse

import eval_bgl
import pytest

pytestmark = pytest.mark.skipif(not all(p.exists() for p in eval_bgl.FILES),
                                reason="needs ../shared/data: the research data beside the repository is not here")


def _raw_labels() -> set[str]:
    """Every label token in the raw files ("-" and the alert categories)."""
    labels = set()
    for path in eval_bgl.FILES:
        with open(path, encoding="utf-8", errors="replace") as f:
            labels.update(raw.split(" ", 1)[0] for raw in f if raw.strip())
    return labels


def _assert_label_free(texts: list[str], label_tokens: set[str]) -> None:
    for text in texts:
        first = text.split(" ", 1)[0]
        assert first.isdigit(), text  # the epoch, not a label
        assert first not in label_tokens, text


def test_strip_label_keeps_the_epoch_first() -> None:
    raw = ("KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 "
           "R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt\n")
    assert eval_bgl.strip_label(raw) == (True, raw[len("KERNDTLB "):].rstrip("\n"))
    assert eval_bgl.strip_label("- " + raw[len("KERNDTLB "):])[0] is False
    with pytest.raises(ValueError):
        eval_bgl.strip_label("1118536327 2005.06.11 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL x")  # no label field


def test_split_is_chronological_disjoint_and_label_free() -> None:
    texts, labels = eval_bgl.load_lines(5000)
    assert len(texts) == len(labels) == len(set(texts)) == 5000  # de-duplicated
    assert any(labels) and not all(labels)
    _assert_label_free(texts, _raw_labels())
    epochs = [int(t.split(" ", 1)[0]) for t in texts]
    assert epochs == sorted(epochs)
    train, cal, test = eval_bgl.split(len(texts))
    assert len(train) == 3000 and len(cal) == 500 and len(test) == 1500
    assert not (set(train) & set(cal)) and not (set(cal) & set(test)) and not (set(train) & set(test))
    assert set(train) | set(cal) | set(test) == set(range(len(texts)))
    assert epochs[train[-1]] <= epochs[cal[0]] and epochs[cal[-1]] <= epochs[test[0]]
    assert eval_bgl.windows(list(range(45)), 20) == [list(range(20)), list(range(20, 40))]


def test_small_run_reports_both_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    import logwatch.core.engine as engine_mod
    import logwatch.core.train as train_mod

    trained: list[str] = []
    scored: list[str] = []
    real_train, real_score = train_mod.train_model, engine_mod.Engine.score_batch

    def spy_train(lines, out_dir, config=None, **kw):
        lines = list(lines)
        trained.extend(text for _, text in lines)
        return real_train(lines, out_dir, config, **kw)

    def spy_score(self, lines):
        scored.extend(line.text for line in lines)
        return real_score(self, lines)

    monkeypatch.setattr(train_mod, "train_model", spy_train)
    monkeypatch.setattr(engine_mod.Engine, "score_batch", spy_score)

    report = eval_bgl.run(argparse.Namespace(lines=3000, small=True, epochs=1, max_fpr=0.01, window=20,
                                             feedback=[5], feedback_fpr=[0.1]))

    split = report["split"]
    assert split["lines"] == 3000 and split["train"]["lines"] == 1800 and split["test"]["lines"] == 900
    # Only normal train-period lines are learnt from; no label ever reaches the model.
    assert len(trained) == split["train_normal_lines"] < split["train"]["lines"]
    label_tokens = _raw_labels()
    _assert_label_free(trained + scored, label_tokens)
    texts, labels = eval_bgl.load_lines(3000)
    assert set(trained) == {t for t, a in zip(texts[:1800], labels[:1800]) if not a}
    # Each scored line was its own session.
    assert len(scored) == len(set(scored)) == split["scored_sessions"] == 1200

    for level, units in (("line", 900), ("window", 45)):
        r = report[level]
        assert r["units"] == units
        for key in ("logwatch", "unseen_template", "flag_all"):
            assert {"precision", "recall", "f1", "fpr", "auroc", "auprc"} <= set(r[key]), (level, key)
        assert r["flag_all"]["fpr"] == 1.0 and r["flag_all"]["recall"] in (1.0, None)
    assert report["line"]["logwatch"]["fpr"] <= 0.2  # a real threshold, not flag-everything
    assert report["line"]["logwatch"]["threshold"] > 0
    # Feedback rows: no review reproduces the calibrated row; reviews never lose a true alert.
    rows = {(r["max_fpr"], r["scope"], r["reviews"]): r for r in report["line"]["feedback"]}
    assert set(rows) == {(f, s, n) for f in (0.01, 0.1) for s, n in (("none", 0), ("line", 5), ("session", 5))}
    assert rows[0.01, "none", 0]["f1"] == report["line"]["logwatch"]["f1"]
    for f in (0.01, 0.1):
        for scope in ("line", "session"):
            assert rows[f, scope, 5]["tp"] == rows[f, "none", 0]["tp"] and rows[f, scope, 5]["fp"] <= rows[f, "none", 0]["fp"]


def test_best_f1_picks_the_threshold_that_separates() -> None:
    scores = {"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.1}
    labels = {"a": True, "b": True, "c": False, "d": False}
    best = eval_bgl.best_f1(scores, labels)
    # a alone: P 1, R 0.5 -> 0.667; a+b+c (ties flagged together): P 0.667, R 1 -> 0.8
    assert best["f1"] == 0.8 and best["threshold"] == 0.8 and best["fpr"] == 0.5


def _bgl(epoch: int, level: str, message: str) -> str:
    node = "R02-M1-N0-C:J12-U11"
    return f"{1117838570 + epoch} 2005.06.03 {node} 2005-06-03-15.42.50.{epoch:06d} {node} RAS KERNEL {level} {message}"


def test_rule_levels_decide_each_line_by_the_one_alert_rule() -> None:
    normal = "instruction cache parity error corrected"
    texts = [_bgl(1000 + i, "INFO", normal) for i in range(4)]            # 0-3: train / calibration
    texts += [_bgl(2000, "FATAL", "rts panic! - stopping execution"),     # 4: new error-level pattern
              _bgl(2001, "INFO", normal),                                  # 5: known, very surprising
              _bgl(2002, "WARNING", "machine check interrupt"),            # 6: new warning pattern
              _bgl(2003, "INFO", normal)]                                  # 7: known, unsurprising
    labels = [False] * 4 + [True, False, True, False]
    losses = [1.0, 1.0, 1.0, 1.0, 5.0, 1.8, 0.5, 1.2]
    out = eval_bgl.rule_levels(texts, labels, losses, normal=[0, 1, 2], cal=[3], test=[4, 5, 6, 7], size=2,
                               max_fpr=0.01)
    assert out["threshold"]["line"] == 1.0
    line = out["line"]
    # (tp, fp) of the four test lines
    got = {name: (line[name]["tp"], line[name]["fp"]) for name in line}
    assert got["any ERROR line"] == (1, 0)              # the FATAL line only
    assert got["severity only"] == (1, 0)
    assert got["novelty only"] == (2, 0)                # both new patterns are WARNING or above
    assert got["surprise only"] == (1, 2)               # 5.0, 1.8 and 1.2 are over 1.0
    assert got["all signals, known patterns x1.5"] == (2, 1)   # 1.8 > 1.5 still alerts, 1.2 no longer does
    assert got["all signals, known patterns x2"] == (2, 0)
    assert "session check only" not in line             # no session check on BGL
    windows = out["window"]
    # windows [4, 5] and [6, 7] both hold an alert line; a window alerts when one of its lines does
    assert (windows["any ERROR line"]["tp"], windows["any ERROR line"]["fn"]) == (1, 1)
    assert windows["surprise only"]["tp"] == 2
