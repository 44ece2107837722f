"""Session-completeness check: is a *finished* session's mix of lines one seen in normal logs?

Why it exists: a per-line loss cannot see a session that simply stops early or skips a step —
no line in it is surprising. On the chronological HDFS split about a fifth of the anomalous
blocks are like that, which capped the line rule's recall near 0.8 (docs/DESIGN.md §3). A count-
vector check when a session closes sees them: the session's (masked line -> count) vector is
compared with the vectors of normal training sessions (:class:`~logwatch.core.count_vectors.
CountVectorKNN`: idf-weighted cosine distance to the nearest one, plus the number of lines
whose masked text never occurred in training). OR-ed with the line rule it is the part of the
alert rule that looks at the session as a whole.

The check is optional and lives in ``calibration.json`` under ``session_check``: the
templates (masked lines) and the distinct training count vectors with their multiplicities,
so it can be rebuilt exactly without the training logs, plus its own threshold set on held-out
normal sessions to a false-positive budget. It only makes sense once a session is over (idle
or at the end of the input): an open session is "incomplete" by construction.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibrate import threshold_for_fpr
from .count_vectors import CountVectorKNN

KIND = "count-vector-knn"
FORMAT_VERSION = 1

#: A reference bigger than this is not stored (calibration.json would grow past a few MB,
#: and a log with that many distinct masked lines is not a fit for a template check anyway).
MAX_TEMPLATES = 20_000
MAX_VECTORS = 50_000
#: The kNN's dense matrix is (distinct vectors) x (templates) floats: at most 400 MB.
MAX_MATRIX_CELLS = 50_000_000
#: Largest count (lines of one template in a session, or sessions sharing a vector) read back:
#: beyond any real log, and exact in the floats and int64 arrays the check computes with.
MAX_COUNT = 10**12


class SessionCheckError(ValueError):
    """A stored session check that cannot be used; the message is shown to the user."""


@dataclass
class SessionCheck:
    """A fitted count-vector reference and its calibrated threshold (flag when score > threshold)."""

    templates: list[str]
    vectors: list[tuple[dict[int, int], int]]
    """Distinct training count vectors (template index -> count) with how many sessions had each."""
    threshold: float
    max_fpr: float | None
    normal_sessions: int
    """How many held-out normal sessions the threshold was set on."""
    enabled: bool = True
    """False keeps the reference (for ``logwatch eval`` baselines) without alerting on it."""
    _knn: CountVectorKNN | None = None
    _columns: dict[str, tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False, compare=False)
    """Per template: (sorted ids of the vectors that hold it, its count in each), built on first use."""

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, train: Mapping[str, Sequence[str]], calibration: Mapping[str, Sequence[str]], *,
            max_fpr: float = 0.01, enabled: bool = True) -> SessionCheck:
        """Reference = ``train`` sessions (masked lines); threshold from ``calibration`` (normal, held out)."""
        if not calibration:
            raise ValueError("no held-out normal sessions to set the session check's threshold on")
        counts = [Counter(lines) for lines in train.values()]
        counts = [c for c in counts if c]
        if not counts:
            raise ValueError("no non-empty training session to build the session check from")
        templates: dict[str, int] = {}
        for c in counts:
            for line in c:
                templates.setdefault(line, len(templates))
        multiplicity: Counter[frozenset[tuple[int, int]]] = Counter(
            frozenset((templates[t], k) for t, k in c.items()) for c in counts)
        vectors = [(dict(key), n) for key, n in multiplicity.items()]
        check = cls(list(templates), vectors, threshold=math.inf, max_fpr=max_fpr,
                    normal_sessions=len(calibration), enabled=enabled)
        scores = check.score_many(calibration)
        check.threshold = threshold_for_fpr(list(scores.values()), max_fpr)
        return check

    @classmethod
    def fit_raw(cls, train: Mapping[str, Sequence[str]], calibration: Mapping[str, Sequence[str]], *,
                max_fpr: float = 0.01) -> SessionCheck:
        """:meth:`fit` on raw log lines, masked here exactly as the engine masks them."""
        from .masking import mask_line

        def masked(sessions: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
            return {key: [mask_line(t) for t in lines] for key, lines in sessions.items()}

        return cls.fit(masked(train), masked(calibration), max_fpr=max_fpr)

    def knn(self) -> CountVectorKNN:
        """The nearest-neighbour scorer, rebuilt from the stored vectors on first use."""
        if self._knn is None:
            self._knn = CountVectorKNN().fit_counts(
                [({self.templates[t]: k for t, k in vector.items()}, times) for vector, times in self.vectors])
        return self._knn

    def extended(self, sessions: Sequence[Counter[str]]) -> SessionCheck:
        """This check with more normal reference sessions (confirmed by an operator); same threshold."""
        index = {t: i for i, t in enumerate(self.templates)}
        vectors = list(self.vectors)
        for counts in sessions:
            for template in counts:
                index.setdefault(template, len(index))
            vectors.append(({index[t]: k for t, k in counts.items() if k > 0}, 1))
        return SessionCheck(list(index), vectors, self.threshold, self.max_fpr, self.normal_sessions,
                            enabled=self.enabled)

    # -- using ------------------------------------------------------------------------------
    def score_many(self, sessions: Mapping[str, Sequence[str] | Counter[str]]) -> dict[str, float]:
        """Score sessions given as masked lines, or as Counters of masked lines (cheaper to keep)."""
        expanded = {key: list(v.elements()) if isinstance(v, Counter) else v for key, v in sessions.items()}
        return self.knn().score_many(expanded)

    def flags(self, score: float) -> bool:
        return self.enabled and score > self.threshold

    def fits_normal_mix(self, counts: Mapping[str, int]) -> bool:
        """Whether some reference session holds every one of these lines at least as often.

        ``counts`` is a running session's mix so far: True means it can still grow into a
        normal session's mix, so a known line that surprised in it surprised by its place, not
        by what the session did (:meth:`~logwatch.core.alerts.AlertRule.order_surprise`).
        Cost: one sorted-array lookup per distinct line, over the vectors still in the race.
        """
        columns = self._columns
        if columns is None:
            ids: dict[str, list[int]] = {}
            values: dict[str, list[int]] = {}
            for row, (vector, _times) in enumerate(self.vectors):
                for t, k in vector.items():
                    ids.setdefault(self.templates[t], []).append(row)
                    values.setdefault(self.templates[t], []).append(k)
            columns = self._columns = {t: (np.array(ids[t], dtype=np.int64), np.array(values[t], dtype=np.int64))
                                       for t in ids}
        needed = [(line, k) for line, k in counts.items() if k > 0]
        if any(line not in columns for line, _ in needed):
            return False
        needed.sort(key=lambda item: len(columns[item[0]][0]))  # the rarest line leaves the fewest candidates
        candidates: np.ndarray | None = None
        for line, k in needed:
            rows, have = columns[line]
            if candidates is None:
                candidates = rows[have >= k]
            else:
                at = np.searchsorted(rows, candidates).clip(max=len(rows) - 1)
                candidates = candidates[(rows[at] == candidates) & (have[at] >= k)]
            if not len(candidates):
                return False
        return True

    @property
    def known_templates(self) -> set[str]:
        """Masked lines seen in the reference sessions (the "unseen template" baseline's vocabulary)."""
        return set(self.templates)

    # -- calibration.json ---------------------------------------------------------------------
    def storable(self) -> bool:
        return len(self.templates) <= MAX_TEMPLATES and len(self.vectors) <= MAX_VECTORS \
            and len(self.templates) * len(self.vectors) <= MAX_MATRIX_CELLS

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND, "version": FORMAT_VERSION, "enabled": self.enabled,
            "threshold": self.threshold, "max_fpr": self.max_fpr, "normal_sessions": self.normal_sessions,
            "reference_sessions": sum(n for _, n in self.vectors),
            "templates": self.templates,
            # Sparse vectors as [[index, count], ...] plus multiplicity: compact and exact.
            "vectors": [[sorted(vector.items()), n] for vector, n in self.vectors],
        }

    @classmethod
    def from_dict(cls, data: Any) -> SessionCheck:
        """Rebuild from calibration.json; anything malformed is a SessionCheckError naming the problem."""
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise SessionCheckError(f"calibration.json: session_check is not a {KIND} check")
        if int(data.get("version", 0)) > FORMAT_VERSION:
            raise SessionCheckError("calibration.json: session_check was written by a newer logwatch")
        try:
            templates = [str(t) for t in data["templates"]]
            vectors = [({int(i): int(k) for i, k in vector}, int(n)) for vector, n in data["vectors"]]
            threshold = float(data["threshold"])
            max_fpr = None if data.get("max_fpr") is None else float(data["max_fpr"])
            normal = int(data.get("normal_sessions", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionCheckError(f"calibration.json: malformed session_check ({exc})") from None
        if any(not 0 <= i < len(templates) or k < 1 for vector, _ in vectors for i, k in vector.items()):
            raise SessionCheckError("calibration.json: session_check vector refers to an unknown template")
        if any(not 1 <= n <= MAX_COUNT for _, n in vectors) or any(
                k > MAX_COUNT for vector, _ in vectors for k in vector.values()):
            raise SessionCheckError(f"calibration.json: session_check has a count outside 1..{MAX_COUNT:,}")
        if not vectors or math.isnan(threshold):
            raise SessionCheckError("calibration.json: session_check has no reference vectors or no threshold")
        check = cls(templates, vectors, threshold, max_fpr, normal, enabled=bool(data.get("enabled", True)))
        if not check.storable():  # the bound it was written under, so reading costs what writing allowed
            raise SessionCheckError(
                f"calibration.json: session_check is too big ({len(templates):,} templates, {len(vectors):,} "
                f"vectors; at most {MAX_TEMPLATES:,}, {MAX_VECTORS:,} and {MAX_MATRIX_CELLS:,} of both multiplied)")
        return check
