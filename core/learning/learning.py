"""The stream's learning phase: does the model know this log, and if not, learn it in the background.

The driver (:func:`~logwatch.core.stream.run_stream`) hands every arriving batch to a
:class:`Learning` until it is done. It goes through:

1. **probing**: the first ``probe_lines`` are scored by the current model. If no more than
   ``trigger_share`` of them are over its threshold, the model knows the log: those scores are
   final and nothing is learned (the bundled incident logs: 0% of lines; real nova logs the
   bundled model never saw: 16-31%);
2. **collecting**: the learning window (the first lines, until they cover two hours of the
   log's time, :mod:`.learn_window`; or what came before the input first went quiet: a
   followed file's history, a pipe's first burst) is gathered;
   lines arriving meanwhile are shown *pending*, unscored, and an error-level line among them
   still alerts;
3. **training**: :func:`~.learn.learn` runs in a child process (:class:`~.learner.Learner`);
   the stream keeps reading (pending lines);
4. **done**: the engine switches to the learned model and every held line, the window's and
   those that came during training, is scored again from the start, in order, as final.

A window that cannot be learned (too short, all errors, random data) keeps the model as it was,
with a note saying why; nothing fails. The phase words are :mod:`.status`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..alerts import AlertRule
from ..types import LogLine, ScoredLine
from .learn import LearnConfig, Learned
from .learn_window import WindowGauge, WindowRule
from .learner import Learner
from .status import LearnStatus, learned_errors_note

if TYPE_CHECKING:
    from ..engine import Engine
    from ..known_normal import KnownNormal

MODES = ("auto", "always", "off")
#: Lines held past the learning window while it trains (the monitor shows them pending).
HOLD_BEYOND_WINDOW = 20_000


@dataclass(frozen=True)
class LearnPlan:
    """What ``--learn`` asked for."""

    mode: str = "auto"
    """auto: learn when the log does not look like what the model knows; always; off."""
    window: WindowRule = field(default_factory=WindowRule)
    """When the learning window is complete (``--learn N``: exactly N lines)."""
    probe_lines: int = 1_000
    trigger_share: float = 0.05
    """More than this share of the probe's lines over the threshold: the model does not know the log."""
    min_probe_lines: int = 50
    probe_seconds: float = 10.0
    """A slow stream is judged on what came in this long (if at least ``min_probe_lines``)."""
    window_seconds: float = 120.0
    """...and learned from what came in this long, if the window is not full by then."""
    config: LearnConfig = field(default_factory=LearnConfig)
    name: str | None = None
    """Remember the learned model under this name (None: do not save it)."""
    source: str = ""
    """The log's name, for the record of what a model was learned from."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"--learn must be auto, always (or a number of lines), off or fresh, not {self.mode!r}")


class Learning:
    """One stream's learning phase; driven by one thread (the stream driver's), trains on another."""

    def __init__(self, plan: LearnPlan, engine: Engine, *, known_normal: KnownNormal | None = None,
                 on_learned: Callable[[Learned], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``on_learned``: called with the learned model on the driver's thread (to save it);
        returns a note to show."""
        self.plan = plan
        self.engine = engine
        self.clock = clock
        self.held: list[LogLine] = []
        self.scored: list[ScoredLine] = []
        """The probe's lines as the current model scored them (final if nothing is learned)."""
        self.gauge = WindowGauge(plan.window)
        self.status = LearnStatus("probing", window=plan.window.min_lines)
        self.learned: Learned | None = None
        self._started: float | None = None
        self._learner = Learner(engine, plan.config, known_normal=known_normal, on_learned=on_learned, clock=clock)
        self._pending_rule = AlertRule(threshold=None, signals=frozenset({"severity"}))
        if plan.mode == "off" or engine.loaded is None:
            self.status = LearnStatus("off")

    @property
    def active(self) -> bool:
        """Still holding lines back (they are not final yet)."""
        return self.status.holds_lines

    @property
    def holding_enough(self) -> bool:
        """Training, with :data:`HOLD_BEYOND_WINDOW` lines held past the window: take no more for
        now. A big file's history then waits in the reader (bounded) instead of in memory, and
        the driver does not spend a core parsing it while the child trains on both (on HDFS,
        reading and holding the rest of a 145k-line file meanwhile made learning 55 s -> 76-87 s)."""
        return self.status.phase == "training" and len(self.held) >= self.gauge.lines + HOLD_BEYOND_WINDOW

    def stop(self) -> None:
        """The stream is ending: stop training (the model stays as it was)."""
        self._learner.stop()

    # -- the driver's calls ----------------------------------------------------------------
    def feed(self, batch: list[LogLine]) -> list[ScoredLine]:
        """Hold a batch back; the lines to show meanwhile (pending: not final)."""
        if self._started is None:
            self._started = self.clock()
        self.held.extend(batch)
        self.gauge.add(batch)
        if self.status.phase == "probing":
            scored = self.engine.score_batch(batch)
            self.scored.extend(scored)
            pending = [replace(x, alert=False, why=()) for x in scored]  # the old model's word is not final
        else:
            pending = self.engine.preview(batch, self._pending_rule)
        self.status.lines = len(self.held)
        self.status.goal = self.gauge.target()
        return pending

    def poll(self, ended: bool, quiet: bool = False) -> Handover | None:
        """Move on if it is time; what becomes final once the phase is over (None while it is not).

        ``quiet``: nothing new arrived (a followed file's history has been read, a pipe paused):
        the probe and the window make do with what came, if it is enough.
        """
        now = self.clock()
        phase = self.status.phase
        if phase == "probing" and (self._probed(now, ended) or (quiet and len(self.held) >= self.plan.min_probe_lines)):
            return self._decide(ended)
        if phase == "collecting" and (self.gauge.complete or ended
                                      or now - (self._started or now) >= self.plan.window_seconds
                                      or (quiet and len(self.held) >= self.plan.config.min_lines)):
            self._train()
        if self.status.phase == "training" and self._learner.running:
            self._progress()
            if self._learner.finished():
                return self._finish()
        return None

    def wait(self, seconds: float) -> None:
        """Block a little while training runs (the input is over: nothing else to do)."""
        self._learner.wait(seconds)

    # -- phases ------------------------------------------------------------------------------
    def _probed(self, now: float, ended: bool) -> bool:
        plan = self.plan
        return len(self.held) >= plan.probe_lines or ended or (
            len(self.held) >= plan.min_probe_lines and now - (self._started or now) >= plan.probe_seconds)

    def _decide(self, ended: bool) -> Handover | None:
        scored = [x for x in self.scored if x.loss is not None]
        over = sum(1 for x in scored if self.engine.rule.surprising(x.loss))
        share = over / len(scored) if scored else 0.0
        enough = len(self.held) >= self.plan.min_probe_lines
        if self.plan.mode == "auto" and (share <= self.plan.trigger_share or not enough):
            why = "too few lines to judge" if not enough else f"{share:.1%} of its lines over the threshold"
            self.status = LearnStatus("known", note=f"the model knows this log ({why}): nothing to learn")
            return self._handover(scored=self.scored)
        self.status = LearnStatus("collecting", lines=len(self.held), window=self.plan.window.min_lines,
                                  note=f"{share:.0%} of the first {len(scored):,} lines are over the model's threshold")
        self.scored = []
        self.engine.reset()  # the probe's scores were the old model's: everything is scored again
        if ended:
            self._train()
        return None

    def _train(self) -> None:
        window = [(line.source, line.text) for line in self.held[: self.gauge.lines]]
        self.status = LearnStatus("training", lines=len(self.held), window=len(window))
        self._learner.start(window)

    def _progress(self) -> None:
        status = self.status
        status.steps_done, status.steps_total, eta = self._learner.progress()
        status.eta_seconds = eta if eta is not None else status.eta_seconds

    def _finish(self) -> Handover:
        outcome = self._learner.finish(label=f"learned: {self.plan.name}" if self.plan.name else None)
        result = outcome.learned
        if result is None:
            self.status = LearnStatus("failed", note=f"not learned ({outcome.error}): the model stays as it was")
        else:
            self.learned = result
            summary = result.summary
            note = (f"learned this log in {summary.get('seconds')} s from {result.lines_learned:,} lines; "
                    f"threshold {result.model.calibration.line_threshold:.2f}" if result.model.calibration else "")
            note += learned_errors_note(summary)
            extra = outcome.remembered
            self.status = LearnStatus("learned", note=f"{note}; {extra}" if extra else note)
        self.engine.reset()
        return self._handover(to_score=self.held)

    def _handover(self, *, scored: list[ScoredLine] | None = None, to_score: list[LogLine] | None = None) -> Handover:
        handover = Handover(scored or [], to_score or [])
        self.held, self.scored = [], []
        return handover


@dataclass
class Handover:
    """What the learning phase leaves to the stream: lines already final, then lines to score now."""

    scored: list[ScoredLine]
    to_score: list[LogLine]
