"""A learned model's threshold, set on the held-out part of its learning window.

The larger of two budgets: the ``line_quantile`` of held-out line losses (a line budget, which
one long or unkeyed session cannot skew), and the session budget (``max_fpr`` of held-out
sessions over it), long sessions counted per 64 lines. Both passes that score the held-out
lines run here: fp32 sets the threshold, int8 (where ``--precision auto`` would use it) is
checked against it.
"""

from __future__ import annotations

import math

from ..alerts import AlertRule
from ..batching import score_lines
from ..build import session_lines
from ..calibrate import Calibration, calibrate, kth_largest, token_threshold
from ..engine import Engine
from ..gpt import int8_available
from ..model import INT8_CHECK, LoadedModel
from ..train import LONG_SESSION_LINES


def calibrate_learned(model: LoadedModel, held: dict[str, list[str]], *, max_fpr: float,
                      line_quantile: float) -> Calibration:
    """The larger of a line budget (a quantile of held-out line losses) and the session budget
    over held-out sessions cut into 64-line pieces (at most ``max_fpr`` of them over it)."""
    maxima: list[float] = []  # each held-out line's largest token loss (fp32)

    def held_out_losses(precision: str) -> dict[str, list[float]]:
        engine = Engine(loaded=model, device="cpu", precision=precision)
        engine.rule = AlertRule.off()
        per_session: dict[str, list[float]] = {}
        for line in score_lines(engine, session_lines(held)):
            if line.loss is not None:
                per_session.setdefault(line.session, []).append(line.loss)
                if precision == "fp32" and (top := line.top_token) is not None:
                    maxima.append(top)
        return per_session

    per_session = held_out_losses("fp32")  # the exact reference sets the threshold
    checked: dict[str, object] = {}
    if int8_available():  # may `--precision auto` run this model in int8? (model.uses_int8)
        int8 = held_out_losses("int8")
        diff = max((abs(a - b) for key, losses in per_session.items() for a, b in zip(losses, int8.get(key, []))),
                   default=0.0)
        checked[INT8_CHECK] = round(diff, 6)
    chunks = {f"{key}#{i}": losses[i:i + LONG_SESSION_LINES]
              for key, losses in per_session.items() for i in range(0, len(losses), LONG_SESSION_LINES)}
    session_rule = calibrate(chunks, max_fpr=max_fpr)
    losses = sorted(x for v in per_session.values() for x in v)
    line_q = losses[min(len(losses) - 1, max(0, math.ceil(line_quantile * len(losses)) - 1))]
    threshold = max(session_rule.line_threshold, math.ceil(line_q * 1e6) / 1e6)
    flagged = sum(1 for v in chunks.values() if kth_largest(v, 1) > threshold)
    return Calibration(line_threshold=threshold, min_lines=1, method="learned", max_fpr=max_fpr,
                       normal_sessions=len(chunks), flagged_sessions=flagged, token_threshold=token_threshold(maxima),
                       details={**checked, "held_out_lines": len(losses), "line_quantile": line_quantile,
                                "line_quantile_threshold": round(line_q, 6),
                                "session_budget_threshold": session_rule.line_threshold,
                                "note": "at most the held-out maximum" if len(losses) < 1 / (1 - line_quantile)
                                else ""})
