"""The one driver from arriving lines to scored output, shared by ``logwatch score`` and the monitor.

The path of a line: a :class:`LineSource` reads it on its own thread (:mod:`.reader`) and
queues it in batches; :func:`run_stream` takes what is waiting, has the
:class:`~logwatch.core.engine.Engine` score it, writes it to the recording, and yields it as a
:class:`StreamStep`. Once a second it also closes sessions that went idle (their session-check
verdicts come out with the step), and at the end of the input every open session ends. What
happens next is the caller's: ``score`` prints JSON rows, the monitor's pipeline posts
batches to the app.

Offline scoring (calibration, evaluation) has no thread and no idle time: it batches lines
through the same engine call in :mod:`.batching`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .merge import MergedReader
from .reader import BATCH_LINES, LineReader, put_unless_stopped
from .types import LogLine, ScoredLine, SessionEnd

if TYPE_CHECKING:
    from .engine import Engine
    from .learning.learning import Learning
    from .learning.relearn import Relearning
    from .learning.status import LearnStatus

#: Most lines one engine call scores in the monitor: half of :data:`BATCH_LINES`, so one screen
#: update waits on fewer lines. Replays of the monitor (the learning window's gauge in ``eval``,
#: the live check of the HDFS benchmark) batch the same way, so they decide where it does.
MONITOR_BATCH_LINES = 256
#: How often idle sessions are looked for while lines flow or the input is quiet.
IDLE_CHECK_SECONDS = 1.0
#: How long one wait for new lines lasts before an empty step is yielded.
POLL_SECONDS = 0.05
#: Batches the reader may queue ahead of the scorer before it waits (backpressure).
MAX_QUEUED_BATCHES = 256


class RecordSink(Protocol):
    """Where scored lines and verdicts are recorded (:class:`~logwatch.core.record.RecordingWriter`)."""

    def write(self, lines: Iterable[ScoredLine | SessionEnd]) -> None: ...


class LineSource:
    """One or several inputs read on a reader thread, taken in batches.

    ``source`` is a path, ``-`` for standard input, a pipe's file descriptor, or a sequence of
    them; ``patterns`` are globs to match again while following (a log that appears later).
    One input is read by a :class:`~logwatch.core.reader.LineReader`; several (or a glob) by a
    :class:`~logwatch.core.merge.MergedReader`, which merges the files' history by time.
    ``follow`` keeps reading paths as they grow (through rotation and truncation). A reading
    error that ends the input is kept in :attr:`error` (and passed to ``on_error``); an input
    that fails while others go on is a problem (:meth:`take_problems`).
    """

    def __init__(self, source: str | int | Sequence[str | int], *, follow: bool = False,
                 on_error: Callable[[str], None] | None = None, max_batches: int = MAX_QUEUED_BATCHES,
                 patterns: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self._inbox: queue.Queue[list[LogLine] | None] = queue.Queue(maxsize=max_batches)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._on_error = on_error
        self.queued = 0
        """Lines read but not yet taken: the backlog behind the model."""
        self.error: str | None = None
        self._problems: list[str] = []
        self._carry: list[LogLine] = []
        """Lines of a reader batch that did not fit the last take."""
        inputs = [source] if isinstance(source, (str, int)) else list(source)
        self.reader: LineReader | MergedReader
        if len(inputs) == 1 and not patterns:
            self.reader = LineReader(inputs[0], self._deliver, follow=follow, batch_lines=BATCH_LINES,
                                     on_error=self._failed, on_eof=lambda: self._deliver(None))
        else:
            self.reader = MergedReader(inputs, self._deliver, follow=follow, patterns=patterns, exclude=exclude,
                                       batch_lines=BATCH_LINES, on_error=self._failed,
                                       on_eof=lambda: self._deliver(None), on_warning=self._problem)
        self.can_pause = follow or not all(isinstance(s, str) and s != "-" and os.path.isfile(s) for s in inputs)
        """Whether a lull in arrivals means something: regular files read to their end (not
        followed) only ever wait on the reader (a busy machine), never on a writer."""

    def start(self) -> LineSource:
        self.reader.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        self.reader.stop()

    def __enter__(self) -> LineSource:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        """False once the reader thread is gone (input over, stopped, or failed)."""
        return self.reader.is_alive()

    def _failed(self, message: str) -> None:
        self.error = message
        if self._on_error is not None:
            self._on_error(message)

    def _problem(self, message: str) -> None:
        with self._lock:
            self._problems.append(message)

    def take_problems(self) -> list[str]:
        """Inputs that failed while the others go on (each told once), oldest first."""
        with self._lock:
            problems, self._problems = self._problems, []
        return problems

    def _deliver(self, lines: list[LogLine] | None) -> None:
        """Reader thread → inbox (None = end of input); waits while the inbox is full."""
        if lines is not None:
            with self._lock:
                self.queued += len(lines)
        put_unless_stopped(self._inbox, lines, self._halt)

    def take(self, timeout: float, max_lines: int = BATCH_LINES) -> list[LogLine] | None:
        """At most ``max_lines`` waiting lines; [] when none came in ``timeout`` s; None at the end."""
        out: list[LogLine] = []
        item: list[LogLine] | None
        if self._carry:
            item, self._carry = self._carry, []
        else:
            try:
                item = self._inbox.get(timeout=timeout)
            except queue.Empty:
                return []
        while True:
            if item is None:
                if out:  # the end after some lines: those first, the end on the next call
                    self._inbox.put(None)  # room for it: it was just taken, and the reader is done
                    break
                return None
            room = max_lines - len(out)
            out.extend(item[:room])
            if len(item) > room:  # a reader batch bigger than asked for: the rest waits
                self._carry = item[room:]
                break
            if len(out) >= max_lines:
                break
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            self.queued -= len(out)
        return out


@dataclass
class StreamStep:
    """What one turn of :func:`run_stream` produced (any list may be empty)."""

    lines: list[ScoredLine] = field(default_factory=list)
    """Final lines, in input order: each line of the input comes out here exactly once."""
    ends: list[SessionEnd] = field(default_factory=list)
    """Verdicts on sessions that ended (idle, or the input is over), in the order they ended."""
    pending: list[ScoredLine] = field(default_factory=list)
    """Lines shown before they are final (while the log is being learned); each comes again,
    final, in a later step's ``lines`` (same ``n``)."""
    backlog: int = 0
    """Lines read but not scored yet."""
    learning: LearnStatus | None = None
    """Where learning stands, while the stream has a learning phase."""
    finished: bool = False
    """The input is over: the last step of a stream that ended by itself."""


def run_stream(engine: Engine, source: LineSource, *, writer: RecordSink | None = None,
               halt: threading.Event | None = None, clock: Callable[[], float] = time.monotonic,
               batch_lines: int = BATCH_LINES, learning: Learning | None = None,
               relearning: Relearning | None = None) -> Iterator[StreamStep]:
    """Score a started source until its input ends, it fails, or ``halt`` is set.

    Yields a step per batch scored, and an empty step each time the input is quiet for
    :data:`POLL_SECONDS`, so a caller can flush output while nothing arrives. With ``learning``,
    lines are held back (``pending``) until it is done, then come out final and in order. With
    ``relearning``, the model learns again now and then and takes over between batches. When
    the input ends by itself, every open session ends too and a last step with ``finished`` set
    follows.
    """

    def score(batch: list[LogLine]) -> tuple[list[ScoredLine], LearnStatus | None]:
        """Score final lines (a new model may take over first); what relearning said, if anything."""
        relearned = relearning.poll(batch[0].n if batch else None) if relearning is not None else None
        engine.share_cores(relearning is not None and relearning.running)
        scored = engine.score_batch(batch) if batch else []
        if relearning is not None:
            relearning.observe(scored)
        return scored, relearned

    try:
        last_idle_check = clock()
        eof = failed = False
        while halt is None or not halt.is_set():
            if learning is not None and learning.holding_enough and not eof:
                learning.wait(POLL_SECONDS)  # the rest waits in the reader until the model is learned
                batch: list[LogLine] | None = []
            else:
                batch = [] if eof else source.take(timeout=POLL_SECONDS, max_lines=batch_lines)
            if batch is None:
                eof, batch = True, []
            elif not batch and not source.alive and source.error is not None:
                eof = failed = True  # the reader failed: what came is all that will come
            if learning is not None and learning.active:
                yield from _learning_turn(learning, relearning, batch, eof, source, writer, batch_lines, score)
                continue
            if failed:
                return
            if eof:
                engine.close_all()
                ends = engine.take_ended()
                if writer is not None:
                    writer.write(ends)
                yield StreamStep(ends=ends, finished=True)
                return
            scored, relearned = score(batch)
            step = StreamStep(lines=scored, learning=relearned)
            now = clock()
            if now - last_idle_check >= IDLE_CHECK_SECONDS:
                last_idle_check = now
                engine.evict_idle()
                step.ends = engine.take_ended()
            if writer is not None:
                writer.write(step.lines)
                writer.write(step.ends)
            step.backlog = max(0, source.queued)
            yield step
    finally:  # however it ends (the input, a return, the consumer closing us): no child left training
        if learning is not None:
            learning.stop()
        if relearning is not None:
            relearning.stop()


def _learning_turn(learning: Learning, relearning: Relearning | None, batch: list[LogLine], eof: bool,
                   source: LineSource, writer: RecordSink | None, batch_lines: int,
                   score: Callable[[list[LogLine]], tuple[list[ScoredLine], LearnStatus | None]]) -> Iterator[StreamStep]:
    """One turn of :func:`run_stream` while the log is first learned: the batch is held back (shown
    pending); once learning is over, the lines it leaves final, then the held lines scored now."""
    step = StreamStep(pending=learning.feed(batch) if batch else [], learning=learning.status)
    handover = learning.poll(eof, quiet=not batch and source.can_pause)
    if handover is None:
        if eof:
            learning.wait(POLL_SECONDS)
        step.backlog = max(0, source.queued)
        yield step
        return
    step.lines = handover.scored
    step.learning = learning.status
    if relearning is not None:
        relearning.armed = relearning.armed or learning.learned is not None
        relearning.observe(step.lines)
    if writer is not None:
        writer.write(step.lines)
    yield step
    for start in range(0, len(handover.to_score), batch_lines):  # the held lines, final now
        final, _ = score(handover.to_score[start:start + batch_lines])
        if writer is not None:
            writer.write(final)
        latest = relearning.status if relearning is not None else None  # poll's word, or its last
        yield StreamStep(lines=final, backlog=max(0, source.queued), learning=latest or learning.status)
