"""How much of a log's beginning is learned from: enough to hold its normal cycle.

A fixed number of lines is the wrong unit. Five thousand lines of a nova host hold its routine
(on Loghub's OpenStack samples 0.4% of later lines have a pattern the first 5,000 never show),
but five thousand HDFS lines are its first half hour: blocks being written. The deletion and
serving phases begin an hour in, and a model learned before them flags 93% of normal blocks.

So, under ``--learn auto``, the window grows until it covers **two hours of the log's own time**
(read from the lines' timestamps), between ``min_lines`` and ``max_lines``:

- an hourly job (cron.hourly, nova's instance-usage audit, a 40-minute image-cache pass, HDFS's
  block deletion an hour after the writes) falls inside a two-hour window at least once wherever
  the window starts, and usually twice;
- a log whose lines carry no timestamp we can read (more than half of the first ``min_lines``
  without one) is learned from ``min_lines``: there is no clock to cover;
- ``max_lines`` bounds the memory held and the time before the first final score; training
  costs the same at any window size (it has a token budget).

``--learn N`` asks for exactly N lines (:attr:`WindowRule.fixed`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..timeline import line_key
from ..types import LogLine

#: The fewest lines a window holds, and all a stampless log gets: enough for a nova host's
#: routine (0.4% of later lines unseen after 5,000 on Loghub's OpenStack samples).
MIN_WINDOW_LINES = 5_000
#: How much of the log's own time a window covers when its lines say what time it is.
WINDOW_SPAN_SECONDS = 2 * 3600.0
#: The most lines a window holds, whatever time they cover.
MAX_WINDOW_LINES = 50_000
#: Lines of each batch read for their timestamps (and its last line).
_SAMPLES_PER_BATCH = 8
#: Lines :func:`first_window` feeds the gauge at once: a window ends at a batch's end, and the
#: monitor's gauge is fed batches of this size too.
FIRST_WINDOW_BATCH = 256


@dataclass(frozen=True)
class WindowRule:
    """When a learning window is complete."""

    min_lines: int = MIN_WINDOW_LINES
    span_seconds: float = WINDOW_SPAN_SECONDS
    """Log time to cover (last stamp minus first)."""
    max_lines: int = MAX_WINDOW_LINES
    fixed: bool = False
    """``--learn N``: exactly ``min_lines``, whatever time they cover."""

    @classmethod
    def exactly(cls, lines: int) -> WindowRule:
        return cls(min_lines=lines, max_lines=lines, fixed=True)

    def __post_init__(self) -> None:
        if not 1 <= self.min_lines <= self.max_lines:
            raise ValueError(f"a learning window needs 1 <= min_lines <= max_lines, not {self.min_lines}, {self.max_lines}")


class WindowGauge:
    """Counts a growing window's lines and the log time they cover; cheap per batch (a few
    lines of each batch are read for their stamps, not all)."""

    def __init__(self, rule: WindowRule) -> None:
        self.rule = rule
        self.lines = 0
        self._checked = 0
        self._stamped = 0
        self._first: float | None = None
        self._last: float | None = None

    def add(self, batch: Sequence[LogLine]) -> None:
        """Count a batch in (up to ``max_lines``). The window ends at a batch's end, except that
        one completed by the batch that crosses ``min_lines`` ends at ``min_lines``."""
        before = self.lines
        batch = batch[:max(0, self.rule.max_lines - self.lines)]
        self.lines += len(batch)
        if self.rule.fixed or not batch:
            return
        step = max(1, len(batch) // _SAMPLES_PER_BATCH)
        for line in [*batch[::step], batch[-1]]:
            key = line_key(line.text)
            self._checked += 1
            if key is None:
                continue
            self._stamped += 1
            if self._first is None:
                self._first = key
            self._last = key if self._last is None else max(self._last, key)
        if before < self.rule.min_lines <= self.lines and self.complete:
            self.lines = self.rule.min_lines

    @property
    def span_seconds(self) -> float:
        """Log time covered so far (0 without stamps)."""
        if self._first is None or self._last is None:
            return 0.0
        return self._last - self._first

    @property
    def stampless(self) -> bool:
        """Most lines carry no timestamp we can read (a stray date inside a message is no clock)."""
        return self._stamped * 2 < self._checked

    @property
    def complete(self) -> bool:
        rule = self.rule
        if self.lines >= rule.max_lines:
            return True
        if self.lines < rule.min_lines:
            return False
        return rule.fixed or self.stampless or self.span_seconds >= rule.span_seconds

    def target(self) -> str:
        """While the window grows past its fewest lines: the log time it waits for (else "")."""
        rule = self.rule
        if rule.fixed or self.lines < rule.min_lines or self.complete:
            return ""
        covered = _duration(self.span_seconds)
        return f"{_duration(rule.span_seconds)} of the log (covered {covered}; at most {rule.max_lines:,} lines)"


def first_window(lines: Iterable[LogLine], rule: WindowRule, batch_lines: int = FIRST_WINDOW_BATCH) -> list[tuple[str, str]]:
    """The (source, text) lines a window by ``rule`` takes from the start of ``lines`` (read only
    as far as it needs), fed to a :class:`WindowGauge` in batches as a stream feeds it."""
    gauge = WindowGauge(rule)
    window: list[tuple[str, str]] = []
    it = iter(lines)
    while not gauge.complete:
        batch = list(itertools.islice(it, batch_lines))
        if not batch:
            break
        gauge.add(batch)
        window.extend((line.source, line.text) for line in batch[: gauge.lines - len(window)])
    return window


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
