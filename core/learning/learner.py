"""One learning in the child process as the stream sees it, from start to takeover.

The first learning (:mod:`.learning`) and learning again (:mod:`.relearn`) differ in when they
learn, from which lines and when the new model takes over; they share the rest, here: start
the child from the engine's current model (:class:`~.learn_child.LearnWorker`), follow its steps
and ETA, then read its result, hand the learned model to the engine and remember it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .learn import LearnConfig, Learned
from .learn_child import LearnWorker

if TYPE_CHECKING:
    from ..engine import Engine
    from ..known_normal import KnownNormal


@dataclass(frozen=True)
class Outcome:
    """How one learning ended."""

    learned: Learned | None
    """The model the engine now scores with; None: it was not learned (the model stays)."""
    error: str = ""
    """Why it was not learned."""
    remembered: str = ""
    """What remembering it said (where it was saved, or why not; "" when it is not remembered)."""


class Learner:
    """Runs one learning at a time for the stream's thread; each learns from the model in use."""

    def __init__(self, engine: Engine, config: LearnConfig, *, known_normal: KnownNormal | None = None,
                 on_learned: Callable[[Learned], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``known_normal``: the operator's marks, learned as normal whatever the window says;
        ``on_learned``: called with each learned model on the stream's thread (to save it), it
        returns a note to show."""
        self.engine = engine
        self.config = config
        self.known_normal = known_normal
        self.on_learned = on_learned
        self.clock = clock
        self._worker: LearnWorker | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, window: list[tuple[str, str]]) -> None:
        """Learn the (source, text) lines of ``window`` in the child, from the engine's model."""
        base = self.engine.loaded
        assert base is not None and self._worker is None
        self._worker = LearnWorker(base, window, self.config, self.known_normal)

    def progress(self) -> tuple[int, int, float | None]:
        """Steps done, steps in all and the seconds left (None until the pace is known)."""
        return self._worker.progress(self.clock()) if self._worker is not None else (0, 0, None)

    def finished(self) -> bool:
        """The child is done (learned or failed): :meth:`finish` takes its result."""
        return self._worker is not None and self._worker.finished()

    def wait(self, seconds: float) -> None:
        """Block up to ``seconds`` while the child trains (nothing else to do meanwhile)."""
        if self._worker is not None:
            self._worker.wait(seconds)

    def stop(self) -> None:
        """Stop the child and drop its learning (the model stays as it was)."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def finish(self, *, label: str | None = None) -> Outcome:
        """The finished child's result: a learned model (labelled ``label`` if given) becomes the
        engine's from its next batch, and is remembered."""
        worker = self._worker
        assert worker is not None
        self._worker = None
        learned, error = worker.result()
        if learned is None:
            return Outcome(None, error)
        if label:
            learned.model.label = label
        self.engine.use_model(learned.model, learned_from=learned.lines_learned)
        remembered = self.on_learned(learned) if self.on_learned is not None else None
        return Outcome(learned, remembered=remembered or "")
