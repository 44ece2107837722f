"""Keep learning: adapt the model again, in the background, on what the log has lately been.

A log's normal drifts (new releases, new tenants, a job added), and the first window cannot have
seen what came after it. So, once a model learned from the log is in use (learned in this run or
remembered from an earlier one), every ``every_lines`` lines it has scored are followed by another
learning. What it learns from:

- the last ``recent_lines`` lines **of sessions that did not alert**: the incident is not
  learned (:func:`~logwatch.core.learning.learn.learn` also leaves out rare error lines and late rare
  warnings, as for the first window). A long session that alerted (a host's periodic-task
  request, which runs all day) loses only its alerting lines: dropping it whole made its
  routine unknown to the next model (measured on Loghub's OpenStack lines: one such session
  went from 20 alerting lines to 2,256 after one relearn);
- a uniform sample of ``rehearse_lines`` earlier lines that did not alert, from the whole
  stream so far, so the new model does not forget what the recent lines happen not to show.

The monitor also learns again when asked (key ``L``).

Training runs in the learning child process (:class:`~.learner.Learner`, as for the first
learning) while scoring goes on with the current model. The
new model takes over **between two batches**, never inside one, and tells the first line it
scores (:attr:`~logwatch.core.types.ScoredLine.model`), which a recording keeps, so a replay
shows where the threshold changed. A learning that was due by line count takes over
``takeover_lines`` (half of ``every_lines``) after it started; if training is slower than that, the stream waits for it,
so the same file takes the new model at the same line on a fast or a busy machine (a learning
the operator asked for takes over as soon as it is ready). The sessions' contexts are rebuilt
from the recent lines, and their alert state is kept.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from ..train import LONG_SESSION_LINES
from ..types import LogLine, ScoredLine
from .learn import LearnConfig, Learned
from .learner import Learner
from .status import LearnStatus, learned_errors_note

if TYPE_CHECKING:
    from ..engine import Engine
    from ..known_normal import KnownNormal

#: Recent lines given to the new model as context when it takes over (not judged again).
WARM_LINES = 1_000


@dataclass(frozen=True)
class RelearnPlan:
    """When and from what the model learns again."""

    every_lines: int = 50_000
    """Learn again after the current model has scored this many lines (0: only when asked)."""
    recent_lines: int = 10_000
    """...from the last this many lines of sessions that did not alert."""
    rehearse_lines: int = 5_000
    """...and a uniform sample of this many earlier lines that did not alert (0: none)."""
    takeover_lines: int = 25_000
    """A learning due by line count takes over this many lines after it started (waited for);
    the commands use half of ``every_lines``."""
    max_chars: int = 32 << 20
    """Text kept for the recent lines at most (a log of huge lines keeps fewer)."""
    config: LearnConfig = field(default_factory=LearnConfig)

    def __post_init__(self) -> None:
        if self.every_lines < 0 or self.recent_lines < 1 or self.takeover_lines < 0:
            raise ValueError("every_lines and takeover_lines must be >= 0, recent_lines >= 1")


class _Seen(NamedTuple):
    """A final line as learning again needs it."""

    session: str
    source: str
    text: str
    alert: bool
    n: int


@dataclass
class _Run:
    """The learning under way."""

    window: int
    started_n: int
    asked: bool
    """The operator asked: take over as soon as it is ready."""


class Relearning:
    """Driven by the stream's thread: :meth:`observe` after each final batch, :meth:`poll` before the next."""

    def __init__(self, plan: RelearnPlan, engine: Engine, *, armed: bool = False,
                 known_normal: KnownNormal | None = None,
                 on_learned: Callable[[Learned], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``on_learned``: called with each learned model on the stream's thread (to save it);
        returns a note to show."""
        self.plan = plan
        self.engine = engine
        self.armed = armed
        """A model learned from this log is in use: learn again by line count (else only when asked)."""
        self.clock = clock
        self._learner = Learner(engine, plan.config, known_normal=known_normal, on_learned=on_learned, clock=clock)
        self.status: LearnStatus | None = None
        """The latest word on learning again (None until there is one)."""
        self.changes = 0
        self._recent: deque[_Seen] = deque()
        """The latest final lines."""
        self._sample: list[_Seen] = []
        """A uniform sample of the lines that did not alert and left the recent lines."""
        self._sample_seen = 0
        self._random = random.Random(0)  # a fixed seed: the same log gives the same sample
        self._chars = 0
        self._since = 0
        self._last_n = 0
        self._run: _Run | None = None
        self._asked = threading.Event()

    @property
    def running(self) -> bool:
        return self._run is not None

    def observe(self, lines: Iterable[ScoredLine]) -> None:
        """Final lines, in order: remembered as recent, counted toward the next learning."""
        recent, plan = self._recent, self.plan
        for line in lines:
            recent.append(_Seen(line.session, line.source, line.text, line.alert, line.n))
            self._chars += len(line.text)
            self._since += 1
            self._last_n = line.n
        while recent and (len(recent) > 3 * plan.recent_lines or self._chars > plan.max_chars):
            old = recent.popleft()
            self._chars -= len(old.text)
            if not old.alert:
                self._keep_sample(old)
        if self.armed and plan.every_lines and self._run is None and self._since >= plan.every_lines:
            self._start(asked=False)

    def request(self) -> str:
        """The operator asks to learn again now (from any thread: the stream's thread starts it at
        its next :meth:`poll`); what to tell them."""
        if self._run is not None or self._asked.is_set():
            return "already learning again"
        if self.engine.loaded is None:
            return "no model to learn again"
        self._asked.set()
        return "learning again from the recent lines of sessions that did not alert"

    def poll(self, next_n: int | None = None) -> LearnStatus | None:
        """Before the next batch (its first line ``next_n``; None: nothing waiting): start what was
        asked for, take the new model if it is ready and its turn has come; the latest status."""
        run = self._run
        if run is None:
            if not self._asked.is_set():
                return None
            self._asked.clear()
            self._start(asked=True)
            return self.status
        learner = self._learner
        due = run.asked or (next_n is not None and next_n - run.started_n > self.plan.takeover_lines)
        if due and not run.asked and not learner.finished():
            self.status = LearnStatus("relearning", window=run.window, note="waiting for the new model")
            # The child stops training at its max_seconds; a child stuck past a generous bound is stopped.
            deadline = self.clock() + 4 * self.plan.config.max_seconds + 60
            while not learner.finished() and self.clock() < deadline:
                learner.wait(0.2)
            if not learner.finished():
                self.stop()
                self.status = LearnStatus("failed", note="not learned again (the learning process did not end in "
                                                         "time): the model stays as it was")
                return self.status
        if not learner.finished():
            done, total, eta = learner.progress()
            self.status = LearnStatus("relearning", window=run.window, steps_done=done, steps_total=total,
                                      eta_seconds=eta)
            return self.status
        return self._take(run) if due else self.status

    def stop(self) -> None:
        """The stream is ending: a learning still running is dropped (the model stays)."""
        self._learner.stop()
        self._run = None

    # -- inside ------------------------------------------------------------------------------
    def window(self) -> list[tuple[str, str]]:
        """What to learn from, in line order: the recent lines (at most ``recent_lines``) without
        the lines that alerted and without short sessions that alerted; then the earlier sample."""
        lines_of = Counter(x.session for x in self._recent)
        alerted = {x.session for x in self._recent if x.alert}
        dropped = {session for session in alerted if lines_of[session] <= LONG_SESSION_LINES}
        kept = [x for x in self._recent if not x.alert and x.session not in dropped][-self.plan.recent_lines:]
        earlier = [x for x in self._sample if x.session not in dropped]
        return [(x.source, x.text) for x in sorted(earlier + kept, key=lambda x: x.n)]

    def _keep_sample(self, line: _Seen) -> None:
        """Reservoir sampling: every line that left the recent lines is in the sample with equal odds."""
        size = self.plan.rehearse_lines
        if not size:
            return
        self._sample_seen += 1
        if len(self._sample) < size:
            self._sample.append(line)
            return
        slot = self._random.randrange(self._sample_seen)
        if slot < size:
            self._sample[slot] = line

    def _start(self, *, asked: bool) -> str:
        window = self.window()
        self._since = 0  # counted again from here, whatever the outcome
        if len(window) < self.plan.config.min_lines:
            self.status = LearnStatus("failed", note=f"not learned again: {len(window):,} lines of sessions "
                                                     f"that did not alert (at least {self.plan.config.min_lines:,})")
            return self.status.note
        self._learner.start(window)
        self._run = _Run(len(window), self._last_n, asked)
        self.status = LearnStatus("relearning", window=len(window))
        return f"learning again from {len(window):,} lines that did not alert (the latest, and earlier ones)"

    def _take(self, run: _Run) -> LearnStatus:
        self._run = None
        engine = self.engine
        # still the model of this log (remembered under its name): it keeps the label
        outcome = self._learner.finish(label=engine.loaded.label if engine.loaded is not None else None)
        result = outcome.learned
        if result is None:
            self.status = LearnStatus("failed", note=f"not learned again ({outcome.error}): the model stays as it was")
            return self.status
        recent = [x for x in list(self._recent)[-WARM_LINES:] if x.session in engine.sessions]  # open sessions only
        engine.warm([LogLine(x.n, x.text, x.source, 0.0) for x in recent])
        self.changes += 1
        self._since = 0
        extra = outcome.remembered
        threshold = engine.threshold  # the learned one, unless the operator set one
        note = (f"learned again from {run.window:,} lines at line {run.started_n:,}"
                + (f"; threshold {threshold:.2f}" if threshold is not None else "") + learned_errors_note(result.summary)
                + (f"; {extra}" if extra else ""))
        self.status = LearnStatus("learned", note=note)
        return self.status
