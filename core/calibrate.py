"""Set the alert threshold from normal sessions the model never trained on.

Default rule ("max-fpr"): a session alerts once ``min_lines`` of its lines score above the
line threshold; the threshold is the smallest value that flags at most ``max_fpr`` of the
held-out normal sessions. The study's rule (mean + 3σ of normal line losses) stays available
for comparison (``method="mean+3sigma"``): it ignores how many sessions it flags.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jsonl import is_finite_number
from .spec import CALIBRATION_FILE, ModelDirError, read_json, write_json

if TYPE_CHECKING:
    from .types import ScoredLine


@dataclass(frozen=True)
class Calibration:
    """The alert rule: a session alerts once ``min_lines`` of its lines score above ``line_threshold``."""

    line_threshold: float
    """Per-line loss (nats/token) above which a line counts as surprising."""
    min_lines: int = 1
    """How many surprising lines a session needs before it alerts (LogBERT's r)."""
    method: str = "max-fpr"
    """"max-fpr": quantile of held-out normal sessions; "mean+3sigma": the study's rule."""
    max_fpr: float | None = 0.01
    """False-positive budget on normal sessions the threshold was set for."""
    normal_sessions: int = 0
    """How many held-out normal sessions the threshold was computed on."""
    flagged_sessions: int = 0
    """How many of those the rule flags (≤ max_fpr × normal_sessions)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Free-form figures for the record (loss quantiles, files used)."""
    session_check: dict[str, Any] | None = None
    """Optional session-completeness check (:mod:`logwatch.core.session_check`), applied when a
    session closes and OR-ed with the line rule; None = line rule only."""
    token_threshold: float | None = None
    """A line's largest token loss above which a known line in a place it never had in the normal
    data surprises (:meth:`~logwatch.core.alerts.AlertRule.new_order`): the largest token loss that
    ``TOKEN_QUANTILE`` of the normal lines stay under. None (older calibrations): not used."""

    def save(self, directory: Path) -> None:
        write_json(directory / CALIBRATION_FILE, asdict(self))

    @classmethod
    def load(cls, directory: Path) -> Calibration | None:
        path = directory / CALIBRATION_FILE
        if not path.exists():
            return None
        data = read_json(path)
        known = {f.name for f in fields(cls)}
        try:
            calibration = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ModelDirError(f"{path}: {exc}") from None
        problem = calibration.problem()
        if problem:
            raise ModelDirError(f"{path}: {problem}")
        return calibration

    def problem(self) -> str | None:
        """What makes this calibration unusable (it came from a file), or None."""

        if not is_finite_number(self.line_threshold):
            return f"line_threshold must be a finite number, not {self.line_threshold!r}"
        if not isinstance(self.min_lines, int) or isinstance(self.min_lines, bool) or not 1 <= self.min_lines <= 10_000:
            return f"min_lines must be a whole number from 1 to 10000, not {self.min_lines!r}"
        if self.max_fpr is not None and not (is_finite_number(self.max_fpr) and 0 <= self.max_fpr < 1):
            return f"max_fpr must be a number in [0, 1), not {self.max_fpr!r}"
        if not isinstance(self.details, dict) or not isinstance(self.method, str):
            return "details must be an object and method a string"
        if self.session_check is not None and not isinstance(self.session_check, dict):
            return "session_check must be an object"
        if self.token_threshold is not None and not is_finite_number(self.token_threshold):
            return f"token_threshold must be a finite number, not {self.token_threshold!r}"
        return None


METHODS = ("max-fpr", "mean+3sigma")
#: Share of normal lines whose largest token loss stays under the token threshold. At 0.999 on the
#: bundled model's held-out nova lines (4.82 nats), a known line in a new place catches the one
#: bundled incident whose first line is routine on its own (5.39) and no normal session of the
#: bundled logs; at 0.99 (4.05) the host's periodic-task session alerts 2,000 lines early.
TOKEN_QUANTILE = 0.999


def token_threshold(token_maxima: Sequence[float]) -> float | None:
    """The token threshold from normal lines' largest token losses (None: no lines)."""
    finite = [x for x in token_maxima if math.isfinite(x)]
    return math.ceil(_quantile(finite, TOKEN_QUANTILE) * 1e6) / 1e6 if finite else None


def kth_largest(losses: Sequence[float], k: int) -> float:
    """The session's score under a "k lines over threshold" rule (-inf if it has fewer lines)."""
    if len(losses) < k:
        return -math.inf
    return sorted(losses, reverse=True)[k - 1]


def threshold_for_fpr(normal_scores: Sequence[float], max_fpr: float) -> float:
    """Smallest threshold t with share(normal scores > t) <= max_fpr; flag when score > t.

    The one operating-point rule of logwatch (the LM's line rule, the session check, the
    baselines): set on held-out *normal* sessions only, to a false-alarm budget, never on test
    labels. t is always one of the scores. A score of -inf (a session too short for a "k lines"
    rule) can never be flagged: it counts toward the total but is never the threshold.
    """
    if not 0 <= max_fpr < 1:
        raise ValueError(f"max_fpr must be in [0, 1), got {max_fpr}")
    return threshold_for_count(normal_scores, math.floor(max_fpr * len(normal_scores) + 1e-9))


def threshold_for_count(normal_scores: Sequence[float], allowed: int) -> float:
    """Smallest threshold t that flags at most ``allowed`` of the normal scores (score > t)."""
    if any(math.isnan(s) for s in normal_scores):
        raise ValueError("a normal score is NaN")
    finite = sorted((s for s in normal_scores if s != -math.inf), reverse=True)
    if not finite:
        raise ValueError("no normal session long enough to calibrate on")
    return finite[min(max(allowed, 0), len(finite) - 1)]


def calibrate(session_losses: Mapping[str, Sequence[float]], *, method: str = "max-fpr",
              max_fpr: float = 0.01, min_lines: int = 1, details: dict[str, object] | None = None,
              flagged_elsewhere: Collection[str] = (), token_maxima: Sequence[float] = ()) -> Calibration:
    """Compute the alert rule from per-session line losses of normal logs.

    ``flagged_elsewhere``: sessions another signal (the session check) already flags. The
    budget is the decision's, not each signal's: those sessions count against ``max_fpr``, and
    the line threshold is set so that the union of both stays within it, but never lower than
    the line rule would be alone (an alert the check already raises costs nothing more).
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 <= max_fpr < 1:
        raise ValueError("--max-fpr must be in [0, 1)")
    if min_lines < 1:
        raise ValueError("--min-lines must be at least 1")
    sessions = {key: list(v) for key, v in session_losses.items() if v}
    if not sessions:
        raise ValueError("no scored normal lines to calibrate on")
    all_losses = [x for losses in sessions.values() for x in losses]
    scores = [kth_largest(losses, min_lines) for losses in sessions.values()]
    if method == "max-fpr":
        threshold = threshold_for_fpr(scores, max_fpr)
        taken = set(flagged_elsewhere) & sessions.keys()
        if taken:
            left = math.floor(max_fpr * len(scores) + 1e-9) - len(taken)
            rest = [kth_largest(losses, min_lines) for key, losses in sessions.items() if key not in taken]
            if rest and any(r != -math.inf for r in rest):
                threshold = max(threshold, threshold_for_count(rest, left))
    else:
        mean = statistics.fmean(all_losses)
        sd = statistics.pstdev(all_losses) if len(all_losses) > 1 else 0.0
        threshold = mean + 3 * sd
    flagged = sum(1 for s in scores if s > threshold)
    united = len({key for key, losses in sessions.items() if kth_largest(losses, min_lines) > threshold}
                 | (set(flagged_elsewhere) & sessions.keys()))
    figures: dict[str, object] = {
        "normal_lines": len(all_losses),
        "line_loss_mean": round(statistics.fmean(all_losses), 4),
        "line_loss_p99": round(_quantile(all_losses, 0.99), 4),
        "line_loss_p999": round(_quantile(all_losses, 0.999), 4),
        "line_loss_max": round(max(all_losses), 4),
        "lines_over_threshold": sum(1 for x in all_losses if x > threshold),
    }
    if flagged_elsewhere:
        figures["flagged_with_session_check"] = united
    figures.update(details or {})
    # Rounded *up*: sessions sitting exactly on the threshold (a plateau of identical scores is
    # common in logs) must not tip over it because of rounding.
    return Calibration(line_threshold=math.ceil(threshold * 1e6) / 1e6, min_lines=min_lines, method=method,
                       max_fpr=max_fpr if method == "max-fpr" else None, normal_sessions=len(sessions),
                       flagged_sessions=flagged, details=figures, token_threshold=token_threshold(token_maxima))


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def costliest_token_losses(scored: Iterable[ScoredLine]) -> list[float]:
    """Each scored line's largest token loss (lines without tokens are skipped)."""
    return [top for line in scored if (top := line.top_token) is not None]


def session_losses(scored: Iterable[ScoredLine]) -> dict[str, list[float]]:
    """Group scored lines' losses by session (lines without a loss are skipped)."""
    out: dict[str, list[float]] = {}
    for line in scored:
        if line.loss is not None:
            out.setdefault(line.session, []).append(line.loss)
    return out
