"""Offline scoring: lines go through the engine in batches of the reader's size.

Offline scoring (calibration, evaluation, a learned model's threshold) has no reader thread and
no idle time: :func:`score_lines` batches lines read in full beforehand through the same engine
call the live driver (:mod:`.stream`) makes. It lives apart from the driver so that what builds
and learns models (:mod:`.build`, :mod:`.learning.learn`) does not depend on the driver, which
depends on learning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .reader import BATCH_LINES
from .types import LogLine, ScoredLine

if TYPE_CHECKING:
    from .engine import Engine



def score_lines(engine: Engine, lines: Iterable[LogLine], batch_lines: int = BATCH_LINES) -> Iterator[ScoredLine]:
    """Score lines read in full beforehand (calibration, evaluation), batch by batch, in order."""
    batch: list[LogLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= batch_lines:
            yield from engine.score_batch(batch)
            batch = []
    if batch:
        yield from engine.score_batch(batch)
