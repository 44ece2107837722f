"""Simple, strong baselines that ``logwatch eval`` reports beside the language model.

Why: on the common log benchmarks trivial detectors already score high (Landauer et al.,
FSE 2024: "new event type" F1 0.54-0.99, idf count vectors 0.92-0.97; docs/DESIGN.md
§2c). An LM result means little unless it is shown next to them.

Inputs are *masked* lines (``logwatch.core.masking``), grouped by session: session ->
sequence of masked strings. A masked line stands in for its template; no parser is needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..count_vectors import _lines, smoothed_idf

if TYPE_CHECKING:  # numpy comes with torch, but is imported only when PCA is fitted
    import numpy as np


class UnseenTemplateBaseline:
    """The "new event type" detector: score = lines whose masked text never occurred in training.

    Landauer et al.'s best trivial detector on BGL (F1 0.99). With
    ``fraction=True`` the score is the share of unseen lines instead (length-independent).
    """

    def __init__(self, *, fraction: bool = False) -> None:
        self.fraction = fraction
        self.known: set[str] = set()

    def fit(self, sessions: Mapping[str, Sequence[str]]) -> UnseenTemplateBaseline:
        """Learn the set of masked lines seen in (normal) training sessions (replaces any earlier fit)."""
        self.known = set()
        for lines in sessions.values():
            self.known.update(_lines(lines))
        return self

    def score(self, lines: Sequence[str]) -> float:
        """Unseen-line count (or share); 0.0 for an empty session."""
        unseen = sum(1 for line in _lines(lines) if line not in self.known)
        if self.fraction:
            return unseen / len(lines) if lines else 0.0
        return float(unseen)

    def score_many(self, sessions: Mapping[str, Sequence[str]]) -> dict[str, float]:
        """Score every session of a mapping."""
        return {key: self.score(lines) for key, lines in sessions.items()}


class PCABaseline:
    """The PCA detector of Xu et al. (SOSP 2009), as loglizer implements it.

    Sessions become template-count vectors, weighted by the smoothed idf ln((1+N)/(1+df)) + 1
    (loglizer's plain ln(N/df) zeroes every template present in all sessions, and with it the
    signal of a session that stops early) and centred on the training mean; the principal
    components that explain ``variance`` of the training data span the "normal space", and a
    session's score is its squared distance from that space (the SPE, or Q statistic). One extra
    column counts lines with an unseen template: it is
    0 in every training session, so any unseen line lands entirely in the residual. The
    threshold is calibrated on normal sessions like every other detector here, not with the
    Q-statistic formula.
    """

    def __init__(self, *, variance: float = 0.95) -> None:
        if not 0 < variance <= 1:
            raise ValueError(f"variance must be in (0, 1], got {variance}")
        self.variance = variance
        self.vocab: dict[str, int] = {}
        self.components = 0
        self._idf: np.ndarray | None = None
        self._mean: np.ndarray | None = None
        self._basis: np.ndarray | None = None  # [templates + 1, components]

    def _matrix(self, sessions: Sequence[Sequence[str]]) -> np.ndarray:
        import numpy as np

        unseen_col = len(self.vocab)
        matrix = np.zeros((len(sessions), unseen_col + 1), dtype=np.float64)
        for row, lines in enumerate(sessions):
            for line, n in Counter(_lines(lines)).items():
                matrix[row, self.vocab.get(line, unseen_col)] += n
        return matrix

    def fit(self, sessions: Mapping[str, Sequence[str]]) -> PCABaseline:
        import numpy as np

        rows = [lines for lines in sessions.values() if lines]
        if not rows:
            raise ValueError("no non-empty training session to fit the PCA baseline on")
        df: Counter[str] = Counter()
        for lines in rows:
            df.update(set(_lines(lines)))
        self.vocab = {template: i for i, template in enumerate(df)}
        n = len(rows)
        # An unseen template gets the df = 0 weight.
        self._idf = np.array([smoothed_idf(df[t], n) for t in self.vocab] + [smoothed_idf(0, n)], dtype=np.float64)
        weighted = self._matrix(rows) * self._idf
        self._mean = weighted.mean(axis=0)
        centred = weighted - self._mean
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)  # vt: [k, templates + 1]
        energy = singular**2
        total = float(energy.sum())
        if total == 0.0:  # every training session identical: the normal space is one point
            self.components = 0
        else:
            self.components = int(np.searchsorted(np.cumsum(energy) / total, self.variance - 1e-12) + 1)
        self._basis = vt[: self.components].T
        return self

    def score_many(self, sessions: Mapping[str, Sequence[str]]) -> dict[str, float]:
        """Squared prediction error of each session (higher = more anomalous)."""
        if self._basis is None or self._idf is None or self._mean is None:
            raise RuntimeError("PCABaseline.score_many before fit")
        names = list(sessions)
        if not names:
            return {}
        y = self._matrix([sessions[name] for name in names]) * self._idf - self._mean
        residual = y - (y @ self._basis) @ self._basis.T
        spe = (residual**2).sum(axis=1)
        return {name: round(float(v), 9) for name, v in zip(names, spe)}
