"""Session count vectors and their nearest normal neighbour: the session check's distance.

A session is a multiset of masked lines (each stands in for its template). Two sessions are
alike when their idf-weighted count vectors point the same way; a session unlike every normal
one (or holding lines never seen) is far from all of them. The live session check
(:mod:`.session_check`) and the evaluation baselines (:mod:`.eval.baselines`) share this code.
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
        return self.fit_counts([(Counter(_lines(lines)), 1) for lines in sessions.values()])

    def fit_counts(self, vectors: Sequence[tuple[Mapping[str, int], int]]) -> CountVectorKNN:
        """:meth:`fit` from (template -> count, how many sessions had it) pairs: a stored
        reference is fitted without spelling its sessions out line by line."""
        import numpy as np

        counts = [(c, times) for c, times in vectors if c and times > 0]
        if not counts:
            raise ValueError("no non-empty training session to fit the count-vector baseline on")
        df: Counter[str] = Counter()
        for c, times in counts:
            for template in c:
                df[template] += times
        self.vocab = {template: i for i, template in enumerate(df)}
        n = sum(times for _, times in counts)
        self.idf = [smoothed_idf(df[t], n) for t in self.vocab]
        self.unseen_idf = smoothed_idf(0, n)
        self._train_keys = {frozenset((self.vocab[t], k) for t, k in c.items()) for c, _ in counts}
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
