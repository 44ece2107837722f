"""What every session-level experiment in benchmarks/ does the same way.

Train on normal sessions, calibrate the line rule and the session check on held-out normal
sessions, score a test log with ``evaluate_files`` (what ``logwatch eval`` runs), and add the
baselines that need the training sessions. Sessions are lists of raw log lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Sessions = Mapping[str, Sequence[str]]


def write_log(path: Path, sessions: Sessions) -> Path:
    """Write the sessions' lines, one session after another, to ``path``."""
    with path.open("w", encoding="utf-8") as out:
        for lines in sessions.values():
            for line in lines:
                out.write(line + "\n")
    return path


def train_and_calibrate(model: Path, train: Sessions, cal: Sessions, *, max_fpr: float, epochs: int,
                        small: bool = False, source: str = "log") -> dict[str, Any]:
    """Train a model on ``train``, then calibrate its line rule and session check on ``cal``."""
    from logwatch.core.build import build_model_dir
    from logwatch.core.train import TrainConfig

    size = dict(n_layer=1, n_head=2, n_embd=32, n_ctx=64, max_line_tokens=32, vocab_size=512) if small else {}
    config = TrainConfig(epochs=epochs, seed=0, device="cpu", holdout=0.05, **size)
    built = build_model_dir([(source, line) for key in train for line in train[key]], model, config,
                            max_fpr=max_fpr, session_check=True, calibrate_on=cal)
    return {"epochs_run": built.trained.epochs_run, "train_seconds": round(built.trained.seconds, 1)}


def evaluate_split(model: Path, test_log: Path, labels: Mapping[str, bool], train: Sessions, cal: Sessions,
                   test: Sessions, *, max_fpr: float, feedback: Sequence[int] = (),
                   feedback_scopes: Sequence[str] = ("line", "session")) -> dict[str, Any]:
    """``logwatch eval`` on the test log, plus the baselines fitted on the training sessions.

    ``feedback``: also the rule with an operator who marks the first N false alarms (``--feedback``).
    """
    from logwatch.core.engine import Engine
    from logwatch.core.eval.evaluate import evaluate_files, split_baselines
    from logwatch.core.masking import mask_line

    engine = Engine.load(model, device="cpu")
    report = evaluate_files(engine, [str(test_log)], labels, baselines=True, feedback=feedback,
                            feedback_scopes=feedback_scopes)

    def masked(sessions: Sessions) -> dict[str, list[str]]:
        return {k: [mask_line(t) for t in v] for k, v in sessions.items()}

    report["baselines"].update(split_baselines(masked(train), masked(cal), masked(test), labels, max_fpr=max_fpr))
    return report


#: The alert rules each experiment reports side by side: every signal alone, and combinations
#: (name, signals, margin for lines of known patterns).
RULES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("surprise only", ("surprise",), 1.0),
    ("severity only", ("severity",), 1.0),
    ("novelty only", ("novelty",), 1.0),
    ("session check only", ("session",), 1.0),
    ("all signals", ("surprise", "severity", "novelty", "session"), 1.0),
    ("all signals, known patterns x1.5", ("surprise", "severity", "novelty", "session"), 1.5),
    ("all signals, known patterns x2", ("surprise", "severity", "novelty", "session"), 2.0),
    ("all signals, known patterns x3", ("surprise", "severity", "novelty", "session"), 3.0),
    ("all line signals, known x1.5", ("surprise", "severity", "novelty"), 1.5),
)


def rule_table(model: Path, test_log: Path, labels: Mapping[str, bool]) -> dict[str, dict[str, Any]]:
    """``logwatch eval`` on the test log once per alert rule of :data:`RULES` (same model, same split)."""
    from logwatch.core.engine import Engine
    from logwatch.core.eval.evaluate import evaluate_files

    out: dict[str, dict[str, Any]] = {}
    for name, signals, margin in RULES:
        engine = Engine.load(model, device="cpu", signals=signals, known_margin=margin)
        report = evaluate_files(engine, [str(test_log)], labels, baselines=False)
        out[name] = {k: report.get(k) for k in ("precision", "recall", "f1", "fpr", "tp", "fp", "fn", "auroc")}
        out["any ERROR line"] = {k: report["any_error_line"].get(k) for k in ("precision", "recall", "f1", "fpr",
                                                                               "tp", "fp", "fn")}
    return out


def print_rules(title: str, rules: Mapping[str, Mapping[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'alert rule':40} {'prec':>6} {'rec':>6} {'F1':>6} {'FPR':>6} {'TP':>5} {'FP':>5}")
    for name, m in rules.items():
        cells = [f"{m[k]:6.3f}" if isinstance(m.get(k), (int, float)) else f"{'-':>6}"
                 for k in ("precision", "recall", "f1", "fpr")]
        print(f"{name:40} " + " ".join(cells) + f" {m.get('tp', '-'):>5} {m.get('fp', '-'):>5}")


def print_table(title: str, report: dict[str, Any], extra: Sequence[tuple[str, float]] = ()) -> None:
    """One row per detector: the combined rule, its parts, the baselines, flag-everything."""
    rows: list[tuple[str, dict[str, Any]]] = [("logwatch (line rule OR session check)", report)]
    rows.extend((f"  after {run['reviews']} {run['scope']} reviews", run) for run in report.get("feedback") or [])
    for key in ("line_rule", "session_check"):
        if isinstance(report.get(key), dict):
            rows.append((key, report[key]))
            rows.extend((f"  after {run['reviews']} {run['scope']} reviews", run)
                        for run in report[key].get("feedback") or [])
    rows.extend((name, sub) for name, sub in (report.get("baselines") or {}).items())
    rows.append(("flag everything", report["flag_all"]))
    print(f"\n{title}")
    print(f"{'detector':40} {'prec':>6} {'rec':>6} {'F1':>6} {'FPR':>6} {'AUROC':>6} {'AUPRC':>6}")
    for name, m in rows:
        cells = []
        for key in ("precision", "recall", "f1", "fpr", "auroc", "auprc"):
            value = m.get(key)
            cells.append(f"{value:6.3f}" if isinstance(value, (int, float)) else f"{'-':>6}")
        print(f"{name:40} " + " ".join(cells))
    for name, f1 in extra:
        print(f"{name:40} {'':>6} {'':>6} {f1:6.3f}")
