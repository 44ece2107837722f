"""``logwatch eval``: score labelled logs per session and report honest session-level metrics.

Headless (no click, no rich): :func:`evaluate_files` returns one JSON-ready dict; the CLI
(``tui/evaluate.py``) only renders it. What is measured, and why (notes/detection.md §0, §6):

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

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .calibrate import kth_largest
from .ingest import IngestError, open_source_check, read_lines
from .masking import mask_line
from .metrics import LeadTime, Metrics, SessionOutcome, evaluate, lead_times, summarize_lead_times
from .session_check import SessionCheck, SessionCheckError
from .types import LogLine

BATCH_LINES = 512


class EvalError(ValueError):
    """Bad evaluation input (labels, incidents, files); the message is one line for the user."""


# -- ground truth besides the labels ------------------------------------------------------------
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
               "%y%m%d %H%M%S", "%Y-%m-%d-%H.%M.%S.%f", "%Y-%m-%d %H:%M:%S,%f")


def timestamp_seconds(ts: str | None) -> float | None:
    """Seconds (naive, as written) for the timestamp shapes logwatch parses; None if unknown.

    Only differences between two such values are used (lead time), so the time zone does not
    matter as long as both sides come from the same log.
    """
    if not ts:
        return None
    text = " ".join(ts.split())
    for fmt in _TS_FORMATS:
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    return None


def incidents_path(log: str | Path) -> Path | None:
    """``x.incidents.json`` (or ``x.log.incidents.json``) beside log ``x.log``, if present."""
    log = Path(log)
    for candidate in (log.with_suffix(".incidents.json"), log.with_name(log.name + ".incidents.json")):
        if candidate.is_file():
            return candidate
    return None


def read_incidents(path: str | Path) -> dict[str, tuple[int, float | None]]:
    """session -> (1-based line number of its first anomalous line, its time in seconds or None).

    Format (written by the generator): a JSON list of objects with ``session``,
    ``first_line`` and optionally ``ts``. A session with several incidents keeps the earliest.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EvalError(f"cannot read incidents file {path}: {exc}") from None
    if not isinstance(data, list):
        raise EvalError(f"{path}: expected a JSON list of incidents")
    out: dict[str, tuple[int, float | None]] = {}
    for i, item in enumerate(data):
        try:
            session, line = str(item["session"]), int(item["first_line"])
        except (KeyError, TypeError, ValueError):
            raise EvalError(f"{path}: incident {i} needs a session and an integer first_line") from None
        if line < 1:
            raise EvalError(f"{path}: incident {i} has first_line {line} (lines count from 1)")
        if session not in out or line < out[session][0]:
            out[session] = (line, timestamp_seconds(item.get("ts")))
    return out


# -- scoring -------------------------------------------------------------------------------------
@dataclass
class SessionTrace:
    """What evaluation keeps per labelled session: losses, where it first alerted, its line mix."""

    key: str
    lines: int = 0
    losses: list[float] = field(default_factory=list)
    first_alert: tuple[int, float | None] | None = None
    """(global line number, time in seconds or None) of the engine's first alert in the session."""
    last_line: tuple[int, float | None] = (0, None)
    templates: Counter[str] = field(default_factory=Counter)
    """Masked line -> count: the session's count vector (for the session check and baselines)."""
    surprising: list[tuple[int, str]] = field(default_factory=list)
    """(global line number, masked text) of each line whose loss is over the line threshold,
    marked normal or not: what a simulated operator reviews (:mod:`.feedback`)."""


@dataclass
class ScoredLog:
    """Traces of every labelled session in FILES, and how the files were numbered."""

    sessions: dict[str, SessionTrace]
    offsets: dict[str, int]
    """File -> number of lines in the files before it: global line = offset + line in file."""
    lines_read: int
    lines_scored: int
    seconds: float


def check_files(files: Sequence[str]) -> None:
    for name in files:
        try:
            open_source_check(name)
        except IngestError as exc:
            raise EvalError(str(exc)) from None
        if name == "-":
            raise EvalError("eval reads files, not standard input: labels refer to whole logs")


def score_sessions(engine: Any, files: Sequence[str], keep: Container[str] | None = None, *,
                   templates: bool = True, on_progress: Callable[[int], None] | None = None) -> ScoredLog:
    """Score FILES in order with one engine; trace only sessions in ``keep`` (None = all).

    Lines of other sessions are not even fed to the model (they could not change the traced
    sessions' losses). ``templates`` keeps each session's masked-line counts.
    """
    check_files(files)
    threshold = math.inf if engine.threshold is None else float(engine.threshold)
    traces: dict[str, SessionTrace] = {}
    offsets: dict[str, int] = {}
    offset = read = scored = 0
    started = time.perf_counter()

    def flush(batch: list[LogLine]) -> None:
        nonlocal scored
        for line in engine.score_batch(batch):
            trace = traces.get(line.session)
            if trace is None:
                trace = traces[line.session] = SessionTrace(line.session)
            global_n = offsets[line.source] + line.n
            when = timestamp_seconds(line.ts)
            trace.lines += 1
            trace.last_line = (global_n, when)
            if line.loss is not None:
                trace.losses.append(line.loss)
            if line.alert and trace.first_alert is None:
                trace.first_alert = (global_n, when)
            over = line.loss is not None and line.loss > threshold
            masked = mask_line(line.text) if templates or over else ""
            if templates:
                trace.templates[masked] += 1
            if over:
                trace.surprising.append((global_n, masked))
        scored += len(batch)

    for name in files:
        offsets[name] = offset
        batch: list[LogLine] = []
        count = 0
        try:
            for line in read_lines(name):
                count += 1
                if keep is not None and engine.keyer.key(line.text, line.source) not in keep:
                    continue
                batch.append(line)
                if len(batch) >= BATCH_LINES:
                    flush(batch)
                    batch = []
                    if on_progress:
                        on_progress(read + count)
        except IngestError as exc:
            raise EvalError(str(exc)) from None
        if batch:
            flush(batch)
        read += count
        offset += count
    if on_progress:
        on_progress(read)
    return ScoredLog(traces, offsets, read, scored, time.perf_counter() - started)


# -- session decisions -----------------------------------------------------------------------------
def line_score(trace: SessionTrace, k: int) -> float:
    """The line rule's session score: the k-th largest line loss (-inf with fewer than k lines)."""
    return kth_largest(trace.losses, k)


def outcomes_for(scores: Mapping[str, float], flagged: Mapping[str, bool] | Container[str],
                 labels: Mapping[str, bool]) -> list[SessionOutcome]:
    """SessionOutcomes for every session in ``scores`` (which must all be labelled)."""
    return [SessionOutcome(key, labels[key], score, key in flagged if not isinstance(flagged, Mapping)
                           else bool(flagged[key])) for key, score in scores.items()]


def threshold_outcomes(scores: Mapping[str, float], threshold: float, labels: Mapping[str, bool]) -> list[SessionOutcome]:
    """Flag = score > threshold (the convention of every calibration in logwatch)."""
    return [SessionOutcome(key, labels[key], score, score > threshold) for key, score in scores.items()]


def metrics_dict(outcomes: Sequence[SessionOutcome], threshold: float | None, **extra: Any) -> dict[str, Any]:
    result: Metrics = evaluate(outcomes, threshold=threshold)
    return {**result.to_dict(), **extra}


def decision_metrics(flags: Mapping[str, bool], labels: Mapping[str, bool], **extra: Any) -> dict[str, Any]:
    """Metrics of yes/no decisions alone (a replay with feedback, live verdicts): no scores, so no
    threshold, AUROC or AUPRC."""
    report = metrics_dict(outcomes_for({key: 0.0 for key in flags}, flags, labels), None, **extra)
    for key in ("auroc", "auprc", "threshold"):
        report.pop(key, None)
    return report


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
def evaluate_files(engine: Any, files: Sequence[str], labels: Mapping[str, bool], *, baselines: bool = True,
                   incidents: Mapping[str, tuple[int, float | None]] | None = None,
                   on_progress: Callable[[int], None] | None = None,
                   feedback: Sequence[int] = (), feedback_scopes: Sequence[str] = ("line",)) -> dict[str, Any]:
    """Score FILES and return the ``logwatch eval --json`` object (DESIGN.md §4).

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
    check = None
    if engine.calibration is not None and engine.calibration.session_check is not None:
        try:
            check = SessionCheck.from_dict(engine.calibration.session_check)
        except SessionCheckError as exc:
            raise EvalError(str(exc)) from None
    scored = score_sessions(engine, files, keep=labels, templates=check is not None, on_progress=on_progress)
    traces = scored.sessions
    if not traces:
        raise EvalError(f"no session in {', '.join(files)} matches a session id in the labels "
                        f"(sessions are keyed by {engine.keyer.rule!r}; see --session-regex)")
    if incidents is None:
        incidents = {}
        for name in files:
            found = incidents_path(name)
            if found is not None:
                for session, (line, ts) in read_incidents(found).items():
                    incidents.setdefault(session, (scored.offsets[name] + line, ts))

    k = max(1, int(engine.min_lines))
    threshold = float(engine.threshold)
    line_scores = {key: line_score(t, k) for key, t in traces.items()}
    line_flags = {key: t.first_alert is not None for key, t in traces.items()}
    line_outcomes = outcomes_for(line_scores, line_flags, labels)

    report: dict[str, Any] = {}
    first_alert = {key: t.first_alert for key, t in traces.items() if t.first_alert is not None}
    check_scores: dict[str, float] = {}
    if check is not None:
        check_scores = check.score_many({key: t.templates for key, t in traces.items()})
    if check is not None and check.enabled:
        combined_scores = {key: max(_ratio(line_scores[key], threshold), _ratio(check_scores[key], check.threshold))
                           for key in traces}
        check_flags = {key: check.flags(s) for key, s in check_scores.items()}
        flags = {key: line_flags[key] or check_flags[key] for key in traces}
        for key, hit in check_flags.items():  # the check speaks when the session closes: its last line
            if hit and key not in first_alert:
                first_alert[key] = traces[key].last_line
        report.update(metrics_dict(outcomes_for(combined_scores, flags, labels), threshold))
        rule = f"{k} line(s) with loss > {threshold:g}, or session check > {check.threshold:.4g} at session close"
    else:
        report.update(metrics_dict(line_outcomes, threshold))
        rule = f"{k} line(s) with loss > {threshold:g}"
    report["min_lines"] = k
    report["rule"] = rule
    report["session_check_threshold"] = None if check is None or not check.enabled else round(check.threshold, 6)
    if check is not None:
        report["line_rule"] = metrics_dict(line_outcomes, threshold)
        report["session_check"] = metrics_dict(threshold_outcomes(check_scores, check.threshold, labels),
                                              check.threshold, enabled=check.enabled)

    flagged_first = {key: first_alert[key] for key in first_alert if labels[key]}
    summary, lts = lead_time_summary(flagged_first, incidents) if incidents else ({}, [])
    report["lead_time"] = summary if incidents else None
    if lts:
        report["lead_times"] = [{"session": lt.session, "lines_before": lt.lines_before,
                                 "seconds": None if lt.seconds is None else round(lt.seconds, 3)} for lt in lts]

    if feedback:
        from .feedback import feedback_report

        runs = [(scope, n) for scope in feedback_scopes for n in feedback]
        report["feedback"] = [feedback_report(traces, labels, min_lines=k, check=check, reviews=n, scope=scope)
                              for scope, n in runs]
        if check is not None and check.enabled:
            report["session_check"]["feedback"] = [
                feedback_report(traces, labels, min_lines=k, check=check, reviews=n, scope=scope, line_rule=False)
                for scope, n in runs]
    report["flag_all"] = metrics_dict(outcomes_for({k_: 0.0 for k_ in traces}, set(traces), labels), None)
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
    report["model"] = getattr(engine, "model_name", None)
    known = getattr(engine, "known_normal", None)
    report["known_normal"] = None if known is None else {
        "patterns": len(known), "path": None if known.path is None else str(known.path)}
    return report


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


def first_anomalous_from_lines(sessions: Iterable[tuple[str, int, bool, float | None]]) -> dict[str, tuple[int, float | None]]:
    """Per session, the first line labelled anomalous, from (session, global line, anomalous, seconds) rows."""
    out: dict[str, tuple[int, float | None]] = {}
    for session, n, anomalous, when in sessions:
        if anomalous and session not in out:
            out[session] = (n, when)
    return out


def split_baselines(train: Mapping[str, Sequence[str]], calibration: Mapping[str, Sequence[str]],
                    test: Mapping[str, Sequence[str]], labels: Mapping[str, bool], *,
                    max_fpr: float) -> dict[str, Any]:
    """Baselines that need the training sessions themselves (experiments, not ``logwatch eval``).

    Sessions are masked lines. Each baseline is fitted on ``train``, its threshold set on the
    normal ``calibration`` sessions at ``max_fpr`` (as the model's), and it is scored on ``test``.
    """
    from .baselines import PCABaseline, calibrate_threshold

    pca = PCABaseline().fit(train)
    threshold = calibrate_threshold(list(pca.score_many(calibration).values()), max_fpr)
    scores = pca.score_many(test)
    return {"pca": metrics_dict(threshold_outcomes(scores, threshold, labels), threshold, components=pca.components)}
