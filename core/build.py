"""A complete model directory in one call: train, calibrate the alert rule, fit the session check.

``logwatch train``, the tests' fixtures and the benchmarks all build models here, so a model
directory always comes with the ``calibration.json`` the engine alerts by. Calibration uses
sessions the model never trained on: the held-out part of the training lines, or normal
sessions given for the purpose (``calibrate_on``, as the experiments do).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .alerts import AlertRule
from .batching import score_lines
from .calibrate import Calibration, calibrate, costliest_token_losses, session_losses
from .masking import mask_line
from .session_check import SessionCheck
from .spec import save_patterns, session_pairs
from .types import LogLine, ScoredLine

if TYPE_CHECKING:
    from .engine import Engine
    from .train import Progress, TrainConfig, TrainResult

Sessions = Mapping[str, Sequence[str]]


@dataclass
class BuiltModel:
    """What :func:`build_model_dir` wrote, and what it could not."""

    trained: TrainResult
    calibration: Calibration | None
    """None when there were no sessions to calibrate on (calibration.json not written)."""
    notes: list[str] = field(default_factory=list)
    """What else was fitted, one sentence each (the session check and its threshold)."""
    warnings: list[str] = field(default_factory=list)
    """What could not be done, one sentence each (e.g. the session check was too big to store)."""


def session_lines(sessions: Sessions) -> list[LogLine]:
    """Sessions as LogLines, each session its own source, so every one keeps its own key."""
    return [LogLine(n=i, text=text, source=key, arrival=0.0)
            for i, (key, texts) in enumerate(sessions.items()) for text in texts]


def calibrate_engine(engine: Engine, lines: Iterable[LogLine], *, method: str = "max-fpr", max_fpr: float = 0.01,
                     min_lines: int = 1, details: dict[str, object] | None = None,
                     session_check: SessionCheck | None = None,
                     on_line: Callable[[ScoredLine], None] | None = None) -> Calibration:
    """The alert rule for ``engine``'s model from normal lines it never trained on.

    The session check (``session_check``, else the model's own) is kept, and the sessions it
    flags count against the same false-alarm budget: ``max_fpr`` bounds the alerts of both.
    ``on_line`` sees each line as scored, in order (``logwatch calibrate`` counts their patterns).
    """
    engine.rule = AlertRule.off()  # score without alerting: the threshold is what is being set
    scored = list(score_lines(engine, lines))
    if on_line is not None:
        for line in scored:
            on_line(line)
    previous = engine.calibration
    stored = session_check.to_dict() if session_check is not None else (
        previous.session_check if previous is not None else None)
    check = session_check if session_check is not None else (
        SessionCheck.from_dict(stored) if stored is not None else None)
    flagged: set[str] = set()
    if check is not None and check.enabled:
        masked: dict[str, list[str]] = {}
        for line in scored:
            masked.setdefault(line.session, []).append(line.pattern)
        flagged = {key for key, score in check.score_many(masked).items() if check.flags(score)}
    result = calibrate(session_losses(scored), method=method, max_fpr=max_fpr, min_lines=min_lines,
                       details=details, flagged_elsewhere=flagged, token_maxima=costliest_token_losses(scored))
    if stored is not None:
        result = replace(result, session_check=stored)
    return result


def build_model_dir(lines: Sequence[tuple[str, str]], out_dir: str | Path, config: TrainConfig, *,
                    max_fpr: float = 0.01, min_lines: int = 1, session_check: bool = False,
                    calibrate_on: Sessions | None = None,
                    on_progress: Callable[[Progress], None] | None = None) -> BuiltModel:
    """Train on (source, text) lines of normal logs and write a directory the engine can alert with.

    The line rule is calibrated at ``max_fpr`` of the held-out sessions, or of ``calibrate_on``
    when given; ``session_check`` also fits the session-completeness check, its reference being
    the training sessions (all of ``lines`` with ``calibrate_on``, else those not held out).
    """
    from .engine import Engine
    from .train import group_sessions, train_model

    out = Path(out_dir)
    trained = train_model(lines, out, config, on_progress)
    held: Sessions = calibrate_on if calibrate_on is not None else trained.holdout_sessions
    if not held:
        return BuiltModel(trained, None,
                          warnings=["no held-out sessions: calibration.json not written; run `logwatch calibrate`"])
    engine = Engine.load(out, device=config.device)
    details: dict[str, object] = {"calibrated_on": "given normal sessions" if calibrate_on is not None
                                  else "held-out training sessions"}
    notes: list[str] = []
    warnings: list[str] = []
    check: SessionCheck | None = None
    if session_check:
        reference = group_sessions(lines, config.session_rule) if calibrate_on is not None else trained.train_sessions
        check = SessionCheck.fit_raw(reference, held, max_fpr=max_fpr)
        if check.storable():
            notes.append(f"session check: {len(check.vectors):,} distinct normal sessions, "
                         f"threshold {check.threshold:.4g}")
        else:
            warnings.append(f"session check not stored: {len(check.templates):,} distinct masked lines and "
                            f"{len(check.vectors):,} distinct sessions are too many for calibration.json")
            check = None
    calibration = calibrate_engine(engine, session_lines(held), max_fpr=max_fpr, min_lines=min_lines,
                                   details=details, session_check=check)
    calibration.save(out)
    normal_sessions = [*group_sessions(lines, config.session_rule).values(), *(calibrate_on or {}).values()]
    # Masked here: most of these lines were trained on, never scored, so no engine gave them a pattern.
    save_patterns(out, normal_patterns(text for _, text in lines) +
                  normal_patterns(t for texts in (calibrate_on or {}).values() for t in texts),
                  session_pairs([mask_line(t) for t in texts] for texts in normal_sessions))
    return BuiltModel(trained, calibration, notes, warnings)


def normal_patterns(texts: Iterable[str]) -> Counter[str]:
    """Pattern (masked line) -> count over normal lines: what "never seen" is measured against.
    Raw text (training data read from files), so it is masked here."""
    return Counter(mask_line(text) for text in texts)


def summary(built: BuiltModel) -> dict[str, Any]:
    """The figures ``logwatch train`` prints when it is done."""
    c = built.calibration
    if c is None:
        return {}
    return {"line_threshold": c.line_threshold, "min_lines": c.min_lines, "normal_sessions": c.normal_sessions,
            "flagged_sessions": c.flagged_sessions,
            "session_check_threshold": (c.session_check or {}).get("threshold")}
