"""The one bridge between the engine and the app: a thread that reads, scores and posts.

Reading happens on core's LineReader thread (or a recording iterator when replaying); this
thread owns the Engine (loaded here, so the first frame never waits for torch), scores what
arrived, writes the recording, and posts one :class:`LinesScored` per ~75 ms. The UI never
calls the model. A clock and a sleep function are injected so tests can replay with a fake
clock and get deterministic rates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from textual.message import Message

from logwatch.core.escape import describe
from logwatch.core.known_normal import KnownNormal
from logwatch.core.settings import RunSettings
from logwatch.core.stream import MONITOR_BATCH_LINES
from logwatch.core.types import ScoredLine, SessionEnd

from .messages import LinesScored, SessionsEnded, Status, StatusChanged

if TYPE_CHECKING:
    from logwatch.core.learning.learn import LearnConfig
    from logwatch.core.learning.relearn import Relearning
    from logwatch.core.learning.start import Prepared
    from logwatch.core.record import GuardedRecording
    from logwatch.core.stream import LineSource


@dataclass
class PipelineConfig:
    """Where lines come from and how they are scored; one per app run."""

    settings: RunSettings = field(default_factory=lambda: RunSettings(learn="off"))
    """The run's options, whole (model, device, learning, recording, replay...)."""
    paths: list[str] = field(default_factory=list)
    """Files to follow (tail -F), merged into one timeline when there are several."""
    fd: int | None = None
    """A pipe's file descriptor (stdin, dup'd before the app took the terminal), or None."""
    patterns: list[str] = field(default_factory=list)
    """Globs matched again every second: a log that appears later is watched too."""
    problems: list[str] = field(default_factory=list)
    """Inputs left out before the start (unreadable) or waited for (missing): told in the status bar."""
    follow: bool = True
    """Keep reading as files grow (the monitor always does; tests read a file to its end)."""
    flush_seconds: float = 0.075
    max_batch_lines: int = MONITOR_BATCH_LINES
    """Most lines scored per engine call: bounds the latency of one UI update."""
    known_normal: KnownNormal | None = None
    """Patterns the operator marked normal; the app adds marks while the engine reads them."""
    learn_config: LearnConfig | None = None
    """How learning trains (None: the measured defaults); tests give a quick one."""
    speed: float = field(init=False)
    """The replay's speed now (the settings' at first; keys change it)."""

    def __post_init__(self) -> None:
        self.speed = self.settings.speed

    @property
    def replay(self) -> str | None:
        return self.settings.replay

    @classmethod
    def build(cls, **options: Any) -> PipelineConfig:
        """A config from keyword options, settings fields and config fields mixed (tests and
        benchmarks). A pipeline made in code learns only when asked (``learn`` defaults to off)."""
        options.setdefault("learn", "off")
        config_fields = {f.name for f in fields(cls) if f.init and f.name != "settings"}
        own = {k: options.pop(k) for k in list(options) if k in config_fields}
        settings, rest = RunSettings.from_options(options)
        if rest:
            raise TypeError(f"unknown pipeline options: {sorted(rest)}")
        return cls(settings, **own)


class Pipeline:
    """Runs :meth:`run` on a worker thread; ``post`` must be thread-safe (App.post_message)."""

    def __init__(self, config: PipelineConfig, post: Callable[[Message], object], *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.post = post
        self.clock = clock
        self.sleep = sleep
        self.status = Status(state="loading model" if config.replay is None else "replaying",
                             speed=config.speed if config.replay else None)
        self._halt = threading.Event()
        self._paused = threading.Event()
        self._steps = 0
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()
        """The status has one owner, this object; the lock makes the UI's speed change safe."""
        self._source: LineSource | None = None
        self._relearning: Relearning | None = None
        self._rate_window: list[tuple[float, int]] = []

    # -- control from the UI thread (all thread-safe) --------------------------------------
    def stop(self) -> None:
        self._halt.set()

    def toggle_pause(self) -> bool:
        if self._paused.is_set():
            self._paused.clear()
        else:
            self._paused.set()
        return self._paused.is_set()

    def relearn(self) -> str:
        """Learn the log again now, from its recent lines (key L); what to tell the operator."""
        if self.config.replay is not None:
            return "a replay shows what was recorded: nothing to learn"
        relearning = self._relearning
        if relearning is None:
            return "learning is off (--learn off)" if self.config.settings.learn == "off" else "no model to learn again"
        return relearning.request()

    def step(self) -> None:
        """While paused, let one more replayed line through."""
        with self._lock:
            self._steps += 1

    def change_speed(self, factor: float) -> float:
        """Replay faster or slower (0.1x to 1000x); the status shows the new speed from now on."""
        with self._status_lock:
            speed = self.config.speed or 1.0
            self.config.speed = min(1000.0, max(0.1, speed * factor))
        self._set(speed=self.config.speed)
        return self.config.speed

    # -- the thread ------------------------------------------------------------------------
    def run(self) -> None:
        try:
            if self.config.replay is not None:
                self._replay()
            else:
                self._live()
        except Exception as exc:  # noqa: BLE001 - report, never kill the app with a traceback
            self._set(state="stopped", note=f"pipeline error: {describe(exc)}")

    def _set(self, **changes: object) -> None:
        """Change the status (from this thread or, for the replay speed, the UI's) and post it."""
        with self._status_lock:
            self.status = replace(self.status, **changes)  # type: ignore[arg-type]
            status = self.status
        self.post(StatusChanged(status))

    def _live(self) -> None:
        from logwatch.core.stream import LineSource, run_stream

        cfg = self.config
        sources: list[str | int] = [*cfg.paths, *([cfg.fd] if cfg.fd is not None else [])]
        run, state = self._prepare()
        engine, note, learning = run.engine, run.note, run.learning
        self._set(state=state, note=note, model=engine.model_name, device=engine.device, threshold=engine.threshold)
        relearning = self._relearning = run.relearning
        writer = self._open_writer(engine.model_name, engine.threshold, engine.session_check is not None)
        record = cfg.settings.record
        lines = LineSource(sources or ["-"], follow=cfg.follow, on_error=self._note, patterns=cfg.patterns,
                           exclude=[record] if record else [])
        for problem in cfg.problems:
            self._warn(problem)
        self._source = lines
        pending: list[ScoredLine] = []
        provisional: list[ScoredLine] = []
        last_post = self.clock()
        told = ""
        try:
            lines.start()
            for step in run_stream(engine, lines, writer=writer, halt=self._halt, clock=self.clock,
                                   batch_lines=cfg.max_batch_lines, learning=learning, relearning=relearning):
                pending.extend(step.lines)
                provisional.extend(step.pending)
                for problem in engine.take_problems() + lines.take_problems():
                    self._warn(problem)
                if step.learning is not None and step.learning.text() != told:
                    told = step.learning.text()
                    if step.learning.in_progress:
                        self._set(learning=told)
                    else:  # done: what it did stays as the note (nothing when the model knew the log)
                        said = told if step.learning.worth_a_note else ""
                        self._set(learning="", note=said or note, model=engine.model_name,
                                  threshold=engine.threshold)
                now = self.clock()
                if (pending or provisional) and (now - last_post >= cfg.flush_seconds or step.backlog == 0
                                                 or step.finished):
                    self._post_lines(pending, now, len(engine.sessions), provisional)
                    pending, provisional, last_post = [], [], now
                if step.ends:
                    self.post(SessionsEnded(step.ends))
                if step.finished:
                    closed = "input closed: no more lines will arrive"
                    self._set(state="input ended", note=f"{note}; {closed}" if note else closed, queued=0)
            if pending or provisional:
                self._post_lines(pending, self.clock(), len(engine.sessions), provisional)
        finally:
            if learning is not None:
                learning.stop()
            lines.stop()
            if writer is not None:
                writer.close()

    def _prepare(self) -> tuple[Prepared, str]:
        """The engine and its learning (loaded here, off the UI thread), and the state to show;
        unscored, with a note saying why, if the model cannot be loaded."""
        from logwatch.core.engine import Engine, EngineError
        from logwatch.core.learning.start import Prepared, learn_label, prepare
        from logwatch.core.threads import scoring_threads

        cfg = self.config
        settings = cfg.settings
        try:
            # the monitor enables the session check itself below, to say so when the model has none
            run = prepare(settings, learn_label(cfg.paths, cfg.patterns), known_normal=cfg.known_normal,
                          threads=scoring_threads(), config=cfg.learn_config, session_ends=False)
        except EngineError as exc:
            rule = settings.session_regex
            engine = Engine.unscored(session_regex=rule if _valid_regex(rule) else None)
            return Prepared(engine, note=f"model not loaded: {exc}"), "unscored"
        if settings.session_ends:
            try:
                run.engine.enable_session_ends()
            except EngineError as exc:
                return replace(run, note=f"session ends not judged: {exc}"), "scoring"
        return run, "scoring"

    def _note(self, message: str) -> None:
        self._set(note=message)

    def _warn(self, message: str) -> None:
        self._set(note=message, warning=message)

    def _post_lines(self, lines: list[ScoredLine], now: float, sessions: int,
                    pending: list[ScoredLine] | None = None) -> None:
        self._rate_window.append((now, len(lines)))
        while len(self._rate_window) > 2 and now - self._rate_window[0][0] > 5.0:
            self._rate_window.pop(0)
        span = now - self._rate_window[0][0]
        counted = sum(n for _, n in self._rate_window[1:]) if span > 0 else 0
        with self._status_lock:
            self.status = replace(self.status, lines=self.status.lines + len(lines), sessions=sessions,
                                  lines_per_s=counted / span if span > 0 else 0.0,
                                  queued=self._source.queued if self._source is not None else 0)
            status = self.status
        self.post(LinesScored(lines, status, pending))

    def _open_writer(self, model: str | None, threshold: float | None, ends: bool) -> GuardedRecording | None:
        """The recording, if asked for; when it fails later (disk full) the monitor goes on without it."""
        record = self.config.settings.record
        if record is None:
            return None
        from logwatch.core.record import GuardedRecording, RecordingWriter

        try:
            return GuardedRecording(RecordingWriter(record, model=model, threshold=threshold,
                                                    session_ends=ends), self._warn)
        except OSError as exc:
            self._warn(f"not recording: cannot write {record}: {exc.strerror or exc}")
            return None

    # -- replay ----------------------------------------------------------------------------
    def _replay(self) -> None:
        from logwatch.core.record import RecordingError
        from logwatch.core.replay import read_recording

        warnings: list[str] = []
        try:
            header, records = read_recording(self.config.replay or "", on_warning=warnings.append, ends=True)
        except RecordingError as exc:
            self._set(state="stopped", note=str(exc))
            return
        self._set(state="replaying", model=header.model or "-", device="recording", threshold=header.threshold,
                  speed=self.config.speed)
        sessions: set[str] = set()
        pending: list[ScoredLine] = []
        last_post = self.clock()
        previous: float | None = None
        for line in self._paced(records):
            if self._halt.is_set():
                return
            if isinstance(line, SessionEnd):  # after the lines before it, as recorded
                if pending:
                    self._post_lines(pending, self.clock(), len(sessions))
                    pending, last_post = [], self.clock()
                self.post(SessionsEnded([line]))
                continue
            if previous is not None and self.config.speed > 0 and not self._paused.is_set():
                gap = max(0.0, min(line.arrival - previous, 5.0)) / self.config.speed
                if gap > 0.001:
                    if pending:
                        self._post_lines(pending, self.clock(), len(sessions))
                        pending, last_post = [], self.clock()
                    self._sleep_unless_stopped(gap)
            previous = line.arrival
            sessions.add(line.session)
            if line.model is not None:  # the model learned the log (again) here: its threshold from now on
                took = f"line {line.n:,}: a model learned from {line.model.learned_from:,} lines took over"
                self._set(note=took, threshold=line.model.threshold)
            pending.append(line)
            now = self.clock()
            if now - last_post >= self.config.flush_seconds or self._paused.is_set():
                self._post_lines(pending, now, len(sessions))
                pending, last_post = [], now
        if pending:
            self._post_lines(pending, self.clock(), len(sessions))
        note = f"replay finished; {len(warnings)} damaged record(s) skipped" if warnings else "replay finished"
        self._set(state="input ended", note=note)

    def _sleep_unless_stopped(self, seconds: float) -> None:
        """Wait out a replay gap in short slices, so quitting never waits on a slow replay."""
        end = self.clock() + seconds
        while not self._halt.is_set() and not self._paused.is_set():
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 0.05))

    def _paced(self, records: Iterator[ScoredLine | SessionEnd]) -> Iterator[ScoredLine | SessionEnd]:
        """Records, held back while paused (one at a time on step)."""
        for line in records:
            while self._paused.is_set() and not self._halt.is_set():
                with self._lock:
                    if self._steps:
                        self._steps -= 1
                        break
                if self.status.state != "paused":
                    self._set(state="paused")
                self.sleep(0.05)
            if self.status.state == "paused":
                self._set(state="replaying")
            yield line


def _valid_regex(rule: str | None) -> bool:
    from logwatch.core.sessions import SessionRuleError, compile_session_regex

    if rule is None:
        return True
    try:
        compile_session_regex(rule)
    except SessionRuleError:
        return False
    return True
