"""Simple, strong baselines that ``logwatch eval`` reports beside the language model.

Why: on the common log benchmarks trivial detectors already score high (Landauer et al.,
FSE 2024: "new event type" F1 0.54-0.99, idf count vectors 0.92-0.97; notes/detection.md
§2c). An LM result means little unless it is shown next to them.

Inputs are *masked* lines (``logwatch.core.masking``), grouped by session: session ->
sequence of masked strings. A masked line stands in for its template; no parser is needed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy comes with torch, but is imported only when a kNN is fitted
    import numpy as np

#: A session's count vector: (known template index, count) pairs, and the sorted counts of
#: its unseen templates (which templates they were does not matter, only how many lines).
_Key = tuple[frozenset[tuple[int, int]], tuple[int, ...]]

#: Memoised kNN scores are kept for at most this many distinct count vectors.
_MEMO_LIMIT = 200_000


def _lines(lines: Sequence[str]) -> Sequence[str]:
    """Reject a bare string: it is a Sequence[str] too, and would be read as characters."""
    if isinstance(lines, str):
        raise TypeError("a session must be a sequence of masked lines, not one string")
    return lines


def smoothed_idf(df: int, n: int) -> float:
    """scikit-learn's smoothed idf, ln((1+n)/(1+df)) + 1: never below 1, so ubiquitous templates still count."""
    return math.log((1 + n) / (1 + df)) + 1.0


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


class CountVectorKNN:
    """Event-count-vector nearest neighbour, with an unseen-template term.

    A session becomes a vector template -> count, weighted by the smoothed idf
    ln((1+N)/(1+df)) + 1 (scikit-learn's; every template keeps weight >= 1, so count changes in
    ubiquitous events, like a block that stops early, still move the vector) and L2-normalised.
    The score is ``unseen_weight * (lines with an unseen template)`` + cosine distance to the
    nearest training vector (k=1). Cosine distance lies in [0, 1], so with the default weight
    1.0 any session with an unseen template ranks above every session without one: the
    "OR new event types" combination of Landauer et al. Unseen templates also enter the
    vector (with the largest idf), so they push the distance up as well.

    Identical training vectors are stored once and the nearest-neighbour search is one numpy
    matrix product per batch, so 5k x 5k sessions take well under a second. Memory is about
    (distinct training vectors) x (training templates) x 8 bytes.
    """

    def __init__(self, *, unseen_weight: float = 1.0) -> None:
        self.unseen_weight = unseen_weight
        self.vocab: dict[str, int] = {}
        self.idf: list[float] = []
        self.unseen_idf = 1.0
        self._train_keys: set[frozenset[tuple[int, int]]] = set()
        self._matrix: np.ndarray | None = None
        self._memo: dict[_Key, float] = {}

    def fit(self, sessions: Mapping[str, Sequence[str]]) -> CountVectorKNN:
        """Learn templates, idf weights and the distinct normalised training vectors."""
        import numpy as np

        counts = [Counter(_lines(lines)) for lines in sessions.values()]
        counts = [c for c in counts if c]
        if not counts:
            raise ValueError("no non-empty training session to fit the count-vector baseline on")
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        self.vocab = {template: i for i, template in enumerate(df)}
        n = len(counts)
        self.idf = [smoothed_idf(df[t], n) for t in self.vocab]
        self.unseen_idf = smoothed_idf(0, n)
        self._train_keys = {frozenset((self.vocab[t], k) for t, k in c.items()) for c in counts}
        matrix = np.zeros((len(self._train_keys), len(self.vocab)), dtype=np.float64)
        idf = np.asarray(self.idf, dtype=np.float64)
        for row, key in enumerate(self._train_keys):
            cols = np.fromiter((i for i, _ in key), dtype=np.int64, count=len(key))
            vals = np.fromiter((k for _, k in key), dtype=np.float64, count=len(key)) * idf[cols]
            matrix[row, cols] = vals / np.linalg.norm(vals)
        self._matrix = matrix
        self._memo = {}
        return self

    def _key(self, lines: Sequence[str]) -> _Key:
        """(known template index -> count, sorted counts of each unseen template)."""
        known: dict[int, int] = {}
        unseen: Counter[str] = Counter()
        for line in _lines(lines):
            i = self.vocab.get(line)
            if i is None:
                unseen[line] += 1
            else:
                known[i] = known.get(i, 0) + 1
        return frozenset(known.items()), tuple(sorted(unseen.values()))

    def score(self, lines: Sequence[str]) -> float:
        """Score one session (higher = more anomalous); 0.0 for an empty session."""
        return self.score_many({"": lines})[""]

    def score_many(self, sessions: Mapping[str, Sequence[str]]) -> dict[str, float]:
        """Score many sessions with one batched nearest-neighbour search."""
        if self._matrix is None:
            raise RuntimeError("CountVectorKNN.score before fit")
        keys = {name: self._key(lines) for name, lines in sessions.items()}
        todo = list({key for key in keys.values() if key not in self._memo})
        computed: dict[_Key, float] = {}
        step = max(64, min(2048, 2**22 // max(1, len(self.vocab))))  # dense test block <= ~32 MB
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            computed.update(zip(chunk, self._score_keys(chunk)))
        if len(self._memo) + len(computed) <= _MEMO_LIMIT:
            self._memo.update(computed)
        return {name: computed[key] if key in computed else self._memo[key] for name, key in keys.items()}

    def _score_keys(self, keys: Sequence[_Key]) -> list[float]:
        import numpy as np

        assert self._matrix is not None
        idf = self.idf
        vectors = np.zeros((len(keys), len(self.vocab)), dtype=np.float64)
        norms = np.zeros(len(keys), dtype=np.float64)
        for row, (known, unseen) in enumerate(keys):
            squared = sum((k * self.unseen_idf) ** 2 for k in unseen)
            for i, k in known:
                w = k * idf[i]
                vectors[row, i] = w
                squared += w * w
            norms[row] = math.sqrt(squared)
        best = (vectors @ self._matrix.T).max(axis=1).tolist()  # plain floats out, not numpy
        scores: list[float] = []
        for row, (known, unseen) in enumerate(keys):
            norm = float(norms[row])
            if norm == 0.0:
                distance = 0.0  # empty session: nothing observed, nothing to call anomalous
            elif not unseen and known in self._train_keys:
                distance = 0.0  # exactly a training vector; skip float rounding
            else:
                # Rounded so a session's score does not depend on the batch it was scored in
                # (BLAS may sum in a different order for one row than for many).
                distance = round(min(1.0, max(0.0, 1.0 - best[row] / norm)), 9)
            scores.append(self.unseen_weight * sum(unseen) + distance)
        return scores


class PCABaseline:
    """The PCA detector of Xu et al. (SOSP 2009), as loglizer implements it.

    Sessions become template-count vectors, weighted by the smoothed idf ln((1+N)/(1+df)) + 1
    (loglizer's plain ln(N/df) zeroes every template present in all sessions, and with it the
    signal of a session that stops early) and centred on the training mean; the principal
    components that explain ``variance`` of the training data span the "normal space", and a
    session's score is its squared distance from that space (the SPE, or Q statistic). One extra column counts lines with an unseen template: it is
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


def calibrate_threshold(normal_scores: Sequence[float], max_fpr: float) -> float:
    """Smallest threshold t with share(normal scores > t) <= max_fpr; flag when score > t.

    The same rule as the LM's calibration (``calibrate.threshold_for_fpr``): set the
    operating point on held-out *normal* sessions only, to a false-alarm budget, never on the
    test labels. t is always one of the normal scores.
    """
    if not 0 <= max_fpr < 1:
        raise ValueError(f"max_fpr must be in [0, 1), got {max_fpr}")
    ordered = sorted(normal_scores, reverse=True)
    if not ordered:
        raise ValueError("no normal scores to calibrate on")
    if any(math.isnan(s) for s in ordered):
        raise ValueError("a normal score is NaN")
    allowed = math.floor(max_fpr * len(ordered) + 1e-9)  # < len(ordered) since max_fpr < 1
    return ordered[allowed]
