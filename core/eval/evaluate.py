"""``logwatch eval``: score labelled logs per session and report honest session-level metrics.

Headless (no click, no rich): :func:`evaluate_files` returns one JSON-ready dict; the CLI
(``cli/evaluate.py``) only renders it. What is measured, and why (docs/DESIGN.md §5):

* a session is flagged by the model's *own* calibrated alert rule, exactly as the engine
  alerts (``min_lines`` lines over the line threshold), OR — when ``calibration.json`` holds
  one — by the session-completeness check applied when the session closes (here: at the end of
  the input, which is when a replayed session goes idle);
* the session *score* used for AUROC/AUPRC is the k-th largest line loss (k = ``min_lines``,
  so the max for k = 1), and, with the session check, the larger of the two scores each
  divided by its own threshold (so "flagged" is exactly "combined score > 1");
* every report carries the flag-everything reference (F1 = 2p/(1+p): the original study's
  0.885) and, when the model stores a normal-session reference, the unseen-template and
  count-vector baselines;
* lead time only for true positives, against the first anomalous line of an incident
  (``<log>.incidents.json``), never against the end of the session.

Only sessions named in the labels are scored: the per-session context means other sessions'
lines cannot change their losses, and skipping them keeps a labelled slice of a big log cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..calibrate import kth_largest
from ..session_check import SessionCheck, SessionCheckError
from .feedback import feedback_report
from .metrics import (
    SKLEARN_MISSING,
    LeadTime,
    have_sklearn,
    lead_times,
    metrics_dict,
    outcomes_for,
    summarize_lead_times,
    threshold_outcomes,
)
from .traces import (
    EvalError,
    SessionTrace,
    incidents_path,
    read_incidents,
    score_sessions,
)

if TYPE_CHECKING:
    from ..engine import Engine


def require_eval_extra() -> None:
    """Refuse before any scoring, not after it, when the report's AUROC / AUPRC cannot be computed
    (``logwatch eval`` asks first; without it, the first ranked metric raises ImportError saying
    the same)."""
    if not have_sklearn():
        raise EvalError(SKLEARN_MISSING)


# -- session decisions -----------------------------------------------------------------------------
def line_score(trace: SessionTrace, k: int) -> float:
    """The line rule's session score: the k-th largest line loss (-inf with fewer than k lines)."""
    return kth_largest(trace.losses, k)


def _ratio(score: float, threshold: float) -> float:
    """Score relative to its threshold: > 1 exactly when score > threshold (thresholds may be 0)."""
    if score == -math.inf:
        return 0.0
    return score / threshold if threshold > 0 else (1.0 + score if score > threshold else score)


def lead_time_summary(first_alert: Mapping[str, tuple[int, float | None]],
                      first_anomalous: Mapping[str, tuple[int, float | None]]) -> tuple[dict[str, Any], list[LeadTime]]:
    lts = lead_times(first_alert, first_anomalous)
    summary = summarize_lead_times(lts)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()}, lts


# -- the whole evaluation ----------------------------------------------------------------------------
def evaluate_files(engine: Engine, files: Sequence[str], labels: Mapping[str, bool], *, baselines: bool = True,
                   incidents: Mapping[str, tuple[int, float | None]] | None = None,
                   on_progress: Callable[[int], None] | None = None,
                   feedback: Sequence[int] = (), feedback_scopes: Sequence[str] = ("line",)) -> dict[str, Any]:
    """Score FILES and return the ``logwatch eval --json`` object (docs/DESIGN.md §4).

    ``feedback``: for each N (and each scope, ``line`` or ``session``), also the metrics with an
    operator who reviews the first N false alarms (:mod:`.feedback`), under ``report["feedback"]``.

    ``incidents`` maps session -> (global line number, seconds) of its first anomalous line;
    by default it is read from ``<log>.incidents.json`` beside each file (line numbers there
    are per file and are shifted here to the global numbering).
    """
    if not labels:
        raise EvalError("the labels file names no session")
    if engine.threshold is None:
        raise EvalError("the model has no calibrated threshold (no calibration.json): run `logwatch calibrate` "
                        "or pass --threshold")
    check = _stored_session_check(engine)
    # The check that judges each session when it closes (below), as the live rule knows it will.
    judging = check if check is not None and check.enabled and "session" in engine.rule.signals else None
    if judging is not None:
        engine.judge_sessions_with(judging)
    scored = score_sessions(engine, files, keep=labels, templates=check is not None, on_progress=on_progress)
    traces = scored.sessions
    if not traces:
        raise EvalError(f"no session in {', '.join(files)} matches a session id in the labels "
                        f"(sessions are keyed by {engine.keyer.rule!r}; see --session-regex)")
    if incidents is None:
        incidents = _incidents_beside(files, scored.offsets)
    k = max(1, int(engine.min_lines))
    report, first_alert = _decision_report(engine, traces, labels, check, judging, k)
    report.update(_lead_time_report({key: first_alert[key] for key in first_alert if labels[key]}, incidents))
    if feedback:
        runs = [(scope, n) for scope in feedback_scopes for n in feedback]
        report["feedback"] = [feedback_report(traces, labels, min_lines=k, check=check, reviews=n, scope=scope)
                              for scope, n in runs]
        if check is not None and check.enabled:
            report["session_check"]["feedback"] = [
                feedback_report(traces, labels, min_lines=k, check=check, reviews=n, scope=scope, line_rule=False)
                for scope, n in runs]
    report["flag_all"] = metrics_dict(outcomes_for(dict.fromkeys(traces, 0.0), set(traces), labels), None)
    report["any_error_line"] = metrics_dict(threshold_outcomes({k_: float(t.error_lines) for k_, t in traces.items()},
                                                               0.0, labels), 0.0)
    report["signals"] = sorted(engine.rule.signals)
    report["baselines"] = _baselines(check, traces, labels) if baselines else {}
    if baselines and check is None:
        report["baselines_note"] = ("the model stores no normal-session reference (calibration.json has no "
                                    "session_check), so only the flag-everything reference is shown")
    labelled_missing = sum(1 for key in labels if key not in traces)
    report["counts"] = {
        "files": len(files), "lines_read": scored.lines_read, "lines_scored": scored.lines_scored,
        "labelled_sessions_not_in_files": labelled_missing,
        "seconds": round(scored.seconds, 2),
        "lines_per_second": round(scored.lines_scored / scored.seconds, 1) if scored.seconds > 0 else None,
    }
    report["model"] = engine.model_name
    known = engine.known_normal
    report["known_normal"] = None if known is None else {
        "patterns": len(known), "path": None if known.path is None else str(known.path)}
    return report


def _stored_session_check(engine: Engine) -> SessionCheck | None:
    """The session check the model's calibration stores (None without one); EvalError if damaged."""
    if engine.calibration is None or engine.calibration.session_check is None:
        return None
    try:
        return SessionCheck.from_dict(engine.calibration.session_check)
    except SessionCheckError as exc:
        raise EvalError(str(exc)) from None


def _incidents_beside(files: Sequence[str], offsets: Mapping[str, int]) -> dict[str, tuple[int, float | None]]:
    """Each session's first anomalous line from ``<log>.incidents.json`` beside each file, in the
    global line numbering (the files' own numbers shifted by the lines before them)."""
    incidents: dict[str, tuple[int, float | None]] = {}
    for name in files:
        found = incidents_path(name)
        if found is not None:
            for session, (line, ts) in read_incidents(found).items():
                incidents.setdefault(session, (offsets[name] + line, ts))
    return incidents


def _decision_report(engine: Engine, traces: Mapping[str, SessionTrace], labels: Mapping[str, bool],
                     check: SessionCheck | None, judging: SessionCheck | None,
                     k: int) -> tuple[dict[str, Any], dict[str, tuple[int, float | None]]]:
    """The metrics of the model's own rule (the line rule, or it or the session check at close),
    with each part's alone; and each flagged session's first alert (line, seconds)."""
    threshold = float(engine.threshold or 0.0)
    line_scores = {key: line_score(t, k) for key, t in traces.items()}
    line_flags = {key: t.first_alert is not None for key, t in traces.items()}
    line_outcomes = outcomes_for(line_scores, line_flags, labels)
    report: dict[str, Any] = {}
    first_alert = {key: t.first_alert for key, t in traces.items() if t.first_alert is not None}
    check_scores = check.score_many({key: t.templates for key, t in traces.items()}) if check is not None else {}
    signals = engine.rule.signals
    line_signals = ", ".join(s for s in ("surprise", "severity", "novelty") if s in signals) or "none"
    line_rule = f"line signals ({line_signals}; surprise: {k} line(s) with loss > {threshold:g})"
    if judging is not None:
        combined_scores = {key: max(_ratio(line_scores[key], threshold), _ratio(check_scores[key], judging.threshold))
                           for key in traces}
        check_flags = {key: judging.flags(s) for key, s in check_scores.items()}
        flags = {key: line_flags[key] or check_flags[key] for key in traces}
        for key, hit in check_flags.items():  # the check speaks when the session closes: its last line
            if hit and key not in first_alert:
                first_alert[key] = traces[key].last_line
        report.update(metrics_dict(outcomes_for(combined_scores, flags, labels), threshold))
        rule = f"{line_rule}, or session check > {judging.threshold:.4g} at session close"
    else:
        report.update(metrics_dict(line_outcomes, threshold))
        rule = line_rule
    report["min_lines"] = k
    report["rule"] = rule
    report["session_check_threshold"] = None if check is None or not check.enabled else round(check.threshold, 6)
    if check is not None:
        report["line_rule"] = metrics_dict(line_outcomes, threshold)
        report["session_check"] = metrics_dict(threshold_outcomes(check_scores, check.threshold, labels),
                                              check.threshold, enabled=check.enabled)
    return report, first_alert


def _lead_time_report(flagged_first: Mapping[str, tuple[int, float | None]],
                      incidents: Mapping[str, tuple[int, float | None]]) -> dict[str, Any]:
    """``lead_time`` (None without incidents) and, where any, each true positive's ``lead_times``."""
    if not incidents:
        return {"lead_time": None}
    summary, lts = lead_time_summary(flagged_first, incidents)
    out: dict[str, Any] = {"lead_time": summary}
    if lts:
        out["lead_times"] = [{"session": lt.session, "lines_before": lt.lines_before,
                              "seconds": None if lt.seconds is None else round(lt.seconds, 3)} for lt in lts]
    return out


def _baselines(check: SessionCheck | None, traces: Mapping[str, SessionTrace],
               labels: Mapping[str, bool]) -> dict[str, Any]:
    """Baselines that need a normal reference: only available when the model stores one."""
    if check is None:
        return {}
    known = check.known_templates
    unseen = {key: float(sum(n for line, n in t.templates.items() if line not in known)) for key, t in traces.items()}
    knn = check.score_many({key: t.templates for key, t in traces.items()})
    return {
        # Any line whose masked text never occurred in the reference: no threshold to tune.
        "unseen_template": metrics_dict(threshold_outcomes(unseen, 0.0, labels), 0.0),
        "count_vector_knn": metrics_dict(threshold_outcomes(knn, check.threshold, labels), check.threshold),
    }


def split_baselines(train: Mapping[str, Sequence[str]], calibration: Mapping[str, Sequence[str]],
                    test: Mapping[str, Sequence[str]], labels: Mapping[str, bool], *,
                    max_fpr: float) -> dict[str, Any]:
    """Baselines that need the training sessions themselves (experiments, not ``logwatch eval``).

    Sessions are masked lines. Each baseline is fitted on ``train``, its threshold set on the
    normal ``calibration`` sessions at ``max_fpr`` (as the model's), and it is scored on ``test``.
    """
    from ..calibrate import threshold_for_fpr
    from .baselines import PCABaseline

    pca = PCABaseline().fit(train)
    threshold = threshold_for_fpr(list(pca.score_many(calibration).values()), max_fpr)
    scores = pca.score_many(test)
    return {"pca": metrics_dict(threshold_outcomes(scores, threshold, labels), threshold, components=pca.components)}
