"""Session-level evaluation metrics for ``logwatch eval`` (docs/DESIGN.md §4, §5).

Why these and not just F1: the original study's F1 0.8848 was exactly what flagging *every*
session gives at its prevalence (169 of 213 anomalous). So every report carries the
all-positive reference F1 = 2p/(1+p), the false-positive rate on normal sessions, and the
threshold-free AUROC / AUPRC.

AUROC and AUPRC are scikit-learn's (``roc_auc_score``, ``average_precision_score``): the
ranking, tie handling and step-wise sums are where a hand-written version can go subtly wrong,
and readers of a report know those definitions. scikit-learn is an optional extra
(``pip install 'logwatch[eval]'``; ``import sklearn.metrics`` takes a second or two and pulls in
scipy), imported only when a ranked metric is computed, so the monitor and ``logwatch score``
never load it. The confusion-count rates (precision, recall, F1, FPR) stay one division each
here: scikit-learn's F1 is 0.0 where no session is anomalous and something was flagged, where
this report says undefined (below), and its functions would need the per-session arrays back
from counts we already have.

Division-by-zero choices (documented here once; ``to_dict`` turns nan into ``None``):

* precision with nothing flagged = 0.0 (scikit-learn's ``zero_division=0``): a detector that
  flags nothing gets no precision credit;
* recall with no anomalous session, and FPR / specificity with no normal session = nan:
  the rate is *undefined*, and 0.0 or 1.0 would read as a real (bad or perfect) result;
* F1 = 0.0 when precision + recall = 0, nan when recall is nan;
* AUROC = nan when either class is empty; AUPRC = nan with no anomalous session and 1.0 with
  no normal session (every flagged session is then a true positive).
"""

from __future__ import annotations

import csv
import importlib.util
import math
import statistics
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

NAN = float("nan")
#: What is said where AUROC / AUPRC are wanted and scikit-learn is not installed.
SKLEARN_MISSING = "AUROC and AUPRC need scikit-learn, an optional extra: pip install 'logwatch[eval]'"


def have_sklearn() -> bool:
    """Whether AUROC / AUPRC can be computed (without importing scikit-learn, which is slow)."""
    return importlib.util.find_spec("sklearn") is not None


def _sklearn_metrics() -> Any:
    try:
        from sklearn import metrics
    except ImportError:
        raise ImportError(SKLEARN_MISSING) from None
    return metrics


@dataclass(frozen=True)
class SessionOutcome:
    """What the detector said about one session, next to the ground truth."""

    session: str
    label: bool
    """True when the session is anomalous (ground truth)."""
    score: float
    """Session anomaly score, higher = more anomalous (e.g. max line loss)."""
    flagged: bool
    """The detector's decision at its operating point (may come from a k-lines rule)."""


@dataclass(frozen=True)
class Metrics:
    """Confusion counts, rates and threshold-free scores for one evaluation run."""

    sessions: int
    anomalous: int
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float
    recall: float
    f1: float
    fpr: float
    specificity: float
    auroc: float
    auprc: float
    threshold: float | None
    flag_all_f1: float
    """F1 of the trivial detector that flags every session: 2p/(1+p) at prevalence p."""

    def to_dict(self) -> dict[str, object]:
        """The ``logwatch eval --json`` object: floats rounded to 4 places, nan/inf -> None."""
        return {key: _json_number(value) for key, value in asdict(self).items()}


def _json_number(value: object) -> object:
    """Round floats for display; JSON has no nan/inf, so those become null.

    In two steps: a rate that is exactly a half at the fifth decimal (AUROC 11/32 = 0.34375)
    comes out of a float sum a few ulps to either side of it (0.34374999999999994), and which
    side depends on how the sum was taken (scikit-learn sums trapezoids, a rank sum would not).
    Rounded to 12 places first, it lands on the half, so the 4-place figure does not hang on that.
    """
    if isinstance(value, float):
        return round(round(value, 12), 4) if math.isfinite(value) else None
    return value


def _ratio(num: int, den: int, empty: float) -> float:
    return num / den if den else empty


def confusion(outcomes: Iterable[SessionOutcome]) -> tuple[int, int, int, int]:
    """(tp, fp, tn, fn) from each outcome's ``flagged`` decision and ``label``."""
    tp = fp = tn = fn = 0
    for o in outcomes:
        if o.flagged:
            if o.label:
                tp += 1
            else:
                fp += 1
        elif o.label:
            fn += 1
        else:
            tn += 1
    return tp, fp, tn, fn


def evaluate(outcomes: Sequence[SessionOutcome], *, threshold: float | None = None, ranked: bool = True) -> Metrics:
    """All session metrics for one run.

    ``threshold`` is the operating point that produced the ``flagged`` decisions; it is
    reported as given and never used to re-derive flags, because a session may be flagged by
    a rule other than "score > threshold" (e.g. k lines over the line threshold).
    ``ranked=False``: decisions without scores, AUROC and AUPRC left nan.
    """
    seen: set[str] = set()
    for o in outcomes:
        if o.session in seen:
            raise ValueError(f"session {o.session!r} appears twice in the outcomes")
        seen.add(o.session)
    tp, fp, tn, fn = confusion(outcomes)
    precision = _ratio(tp, tp + fp, 0.0)
    recall = _ratio(tp, tp + fn, NAN)
    if math.isnan(recall):
        f1 = NAN
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    labels = [o.label for o in outcomes]
    scores = [o.score for o in outcomes]
    return Metrics(
        sessions=len(outcomes), anomalous=tp + fn, tp=tp, fp=fp, tn=tn, fn=fn,
        precision=precision, recall=recall, f1=f1,
        fpr=_ratio(fp, fp + tn, NAN), specificity=_ratio(tn, fp + tn, NAN),
        auroc=auroc(labels, scores) if ranked else NAN, auprc=auprc(labels, scores) if ranked else NAN,
        threshold=threshold, flag_all_f1=flag_all_f1(tp + fn, len(outcomes)),
    )


def _check_pairs(labels: Sequence[bool], scores: Sequence[float]) -> None:
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores")
    if any(math.isnan(s) for s in scores):
        raise ValueError("a session score is NaN; score or drop that session before evaluating")


def _ranks(scores: Sequence[float]) -> list[int]:
    """Each score's place among the distinct scores, lowest 0: the same order and ties.

    AUROC and AUPRC depend on nothing else, and scikit-learn refuses infinite scores, which a
    session with fewer than k lines has (-inf: :func:`~logwatch.core.calibrate.kth_largest`).
    """
    place = {score: i for i, score in enumerate(sorted(set(scores)))}
    return [place[score] for score in scores]


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Area under the ROC curve = P(score of a random anomaly > score of a random normal).

    A tie counts one half (all-equal scores give 0.5); scikit-learn's ``roc_auc_score``.
    nan when either class is empty (scikit-learn refuses those).
    """
    _check_pairs(labels, scores)
    n_pos = sum(1 for label in labels if label)
    if n_pos == 0 or n_pos == len(labels):
        return NAN
    return float(_sklearn_metrics().roc_auc_score(list(labels), _ranks(scores)))


def auprc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Average precision: sum over thresholds of (recall gain) x precision, step-wise.

    scikit-learn's ``average_precision_score`` (no interpolation, no trapezoid): the thresholds
    are the distinct scores from high to low, and tied scores enter together. nan with no
    anomalous session; 1.0 with no normal one (every flagged session is a true positive).
    """
    _check_pairs(labels, scores)
    if not any(labels):
        return NAN
    return float(_sklearn_metrics().average_precision_score(list(labels), _ranks(scores)))


def flag_all_f1(n_anomalous: int, n_sessions: int) -> float:
    """F1 of flagging every session: precision p = prevalence, recall 1, so F1 = 2p/(1+p).

    Any reported F1 must beat this to mean anything (169/213 gives the study's 0.8848).
    nan for zero sessions.
    """
    if n_sessions < 0 or not 0 <= n_anomalous <= n_sessions:
        raise ValueError(f"need 0 <= anomalous ({n_anomalous}) <= sessions ({n_sessions})")
    if n_sessions == 0:
        return NAN
    p = n_anomalous / n_sessions
    return 2 * p / (1 + p)


@dataclass(frozen=True)
class LeadTime:
    """How far ahead of the trouble one true-positive session was flagged.

    Positive values mean the alert came first; negative ``seconds`` (or ``lines_before``)
    mean the alert came only after the first anomalous line.
    """

    session: str
    lines_before: int
    """First anomalous line number minus first alert line number (same numbering)."""
    seconds: float | None
    """First anomalous line time minus first alert time; None when either time is unknown."""


def lead_times(first_alert: Mapping[str, tuple[int, float | None]],
               first_anomalous: Mapping[str, tuple[int, float | None]]) -> list[LeadTime]:
    """Lead times for true positives only: sessions that alerted *and* hold an anomalous line.

    Both mappings give, per session, (line number, timestamp in seconds or None); line
    numbers must use one numbering (position in session, or global arrival number). False
    positives (alert, no anomaly) and misses (anomaly, no alert) have no lead time, so
    measuring them would only dilute or inflate the figure (the study's mistake, notes §6).
    """
    out: list[LeadTime] = []
    for session, (alert_line, alert_ts) in first_alert.items():
        if session not in first_anomalous:
            continue
        anomaly_line, anomaly_ts = first_anomalous[session]
        seconds = None if alert_ts is None or anomaly_ts is None else anomaly_ts - alert_ts
        out.append(LeadTime(session, anomaly_line - alert_line, seconds))
    return out


def summarize_lead_times(lts: Sequence[LeadTime]) -> dict[str, float | int | None]:
    """The distribution summary the report shows: medians and the share flagged in time.

    ``share_at_or_before``: alert on or before the first anomalous line (lines_before >= 0);
    ``share_before``: strictly before it, i.e. a real early warning. None when there are no
    true positives (or, for ``median_seconds``, no timestamps).
    """
    if not lts:
        return {"count": 0, "median_lines_before": None, "median_seconds": None,
                "share_at_or_before": None, "share_before": None}
    seconds = [lt.seconds for lt in lts if lt.seconds is not None]
    return {
        "count": len(lts),
        "median_lines_before": statistics.median(lt.lines_before for lt in lts),
        "median_seconds": statistics.median(seconds) if seconds else None,
        "share_at_or_before": sum(1 for lt in lts if lt.lines_before >= 0) / len(lts),
        "share_before": sum(1 for lt in lts if lt.lines_before > 0) / len(lts),
    }


_ID_COLUMNS = ("sessionid", "blockid")
_LABELS = {"normal": False, "anomaly": True}


def read_labels(path: str | Path) -> dict[str, bool]:
    """Read a Loghub-style label file: header ``SessionId,Label`` (or ``BlockId,Label``).

    Label is ``Normal`` or ``Anomaly`` (any case); True = anomalous. Extra columns are
    ignored, blank rows skipped, a repeated id with the same label tolerated. Anything else
    (missing columns, unknown label, conflicting duplicate, non-UTF-8 bytes) is a ValueError
    naming the file and line, because a silently mis-read label file makes every metric wrong.
    """
    path = Path(path)
    labels: dict[str, bool] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: empty label file (expected header SessionId,Label)")
            names = [h.strip().lower() for h in header]
            id_col = next((names.index(c) for c in _ID_COLUMNS if c in names), None)
            if id_col is None or "label" not in names:
                raise ValueError(f"{path}: header must be SessionId,Label (or BlockId,Label), got {header!r}")
            label_col = names.index("label")
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                where = f"{path}:{reader.line_num}"
                if len(row) <= max(id_col, label_col):
                    raise ValueError(f"{where}: expected {len(names)} columns, got {row!r}")
                session = row[id_col].strip()
                label_text = row[label_col].strip().lower()
                if not session:
                    raise ValueError(f"{where}: empty session id")
                if label_text not in _LABELS:
                    raise ValueError(f"{where}: label must be Normal or Anomaly, got {row[label_col]!r}")
                label = _LABELS[label_text]
                if labels.get(session, label) != label:
                    raise ValueError(f"{where}: session {session!r} is labelled both Normal and Anomaly")
                labels[session] = label
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: malformed CSV: {exc}") from None
    return labels


# -- session decisions as reports ----------------------------------------------------------------
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
    outcomes = outcomes_for(dict.fromkeys(flags, 0.0), flags, labels)
    report = {**evaluate(outcomes, threshold=None, ranked=False).to_dict(), **extra}
    for key in ("auroc", "auprc", "threshold"):
        report.pop(key, None)
    return report
