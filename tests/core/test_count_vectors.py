"""The count-vector nearest-neighbour distance behind the session check (core/count_vectors.py)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from helpers import TEMPLATES, template_sessions

from logwatch.core.count_vectors import CountVectorKNN


def test_knn_is_zero_on_training_sessions_and_positive_on_shuffled_counts() -> None:
    rng = random.Random(2)
    train = template_sessions(rng, 300, TEMPLATES)
    knn = CountVectorKNN().fit(train)
    for lines in list(train.values())[:50]:
        assert knn.score(lines) == 0.0
        assert knn.score(list(reversed(lines))) == 0.0  # order does not matter, only counts
    known_vectors = {frozenset(Counter(v).items()) for v in train.values()}
    shuffled = 0
    for lines in train.values():
        counts = Counter(lines)
        if len(set(counts.values())) < 2:
            continue  # permuting equal counts changes nothing
        templates = list(counts)
        permuted = templates[1:] + templates[:1]
        moved = [t for src, dst in zip(templates, permuted) for t in [dst] * counts[src]]
        if frozenset(Counter(moved).items()) in known_vectors:
            continue
        score = knn.score(moved)
        assert 0.0 < score < 1.0  # same templates (none unseen), different counts
        shuffled += 1
    assert shuffled > 20


def _brute_knn(train: dict[str, list[str]], lines: list[str]) -> float:
    """Straight from the definition: smoothed idf, L2 norm, 1 - max cosine, + unseen lines."""
    n = len(train)
    df = Counter(t for v in train.values() for t in set(v))
    known = set(df)

    def weights(seq: list[str]) -> dict[str, float]:
        return {t: c * (math.log((1 + n) / (1 + df.get(t, 0))) + 1) for t, c in Counter(seq).items()}

    def unit(w: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(x * x for x in w.values()))
        return {t: x / norm for t, x in w.items()}

    test = unit(weights(lines))
    best = max(sum(x * unit(weights(v)).get(t, 0.0) for t, x in test.items()) for v in train.values())
    return sum(1 for t in lines if t not in known) + (1 - best)


def test_knn_matches_brute_force_definition() -> None:
    rng = random.Random(3)
    train = template_sessions(rng, 60, TEMPLATES[:30])
    tests = template_sessions(rng, 40, TEMPLATES)  # templates 30-39 are unseen
    knn = CountVectorKNN().fit(train)
    batch = knn.score_many(tests)
    for name, lines in tests.items():
        assert batch[name] == pytest.approx(_brute_knn(train, lines), abs=1e-8)
        assert knn.score(lines) == batch[name]  # one at a time = batched


def test_knn_scores_5k_by_5k_in_batches_each_distinct_vector_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps it fast (one matrix product per block, every distinct count vector scored once)
    is checked here; how fast it is belongs to the benchmarks."""
    rng = random.Random(4)
    pool = [f"INFO t{i} <NUM>" for i in range(300)]
    train = template_sessions(rng, 5000, pool)
    tests = template_sessions(rng, 5000, pool)
    tests.update({f"again{i}": lines for i, lines in enumerate(list(tests.values())[:500])})  # repeats
    knn = CountVectorKNN().fit(train)
    blocks: list[int] = []
    real = knn._score_keys

    def counted(keys):  # type: ignore[no-untyped-def]
        blocks.append(len(keys))
        return real(keys)

    monkeypatch.setattr(knn, "_score_keys", counted)
    scores = knn.score_many(tests)
    assert len(scores) == 5500
    distinct = len({knn._key(lines) for lines in tests.values()})
    assert sum(blocks) == distinct < 5500 and len(blocks) < distinct / 60  # batched, repeats not rescored
    assert knn.score_many(dict(list(tests.items())[:100])) == {k: scores[k] for k in list(tests)[:100]}
    assert sum(blocks) == distinct  # the second call was served from the memo
