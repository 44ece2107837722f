"""What each CLI command does; ``cli.py`` only declares options.

Heavy imports (torch through the engine, textual through the app) happen inside the
functions, so ``logwatch --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from logwatch.core.escape import printable
from logwatch.core.jsonl import dumps

from .common import (
    LogwatchError,
    check_input,
    check_record_target,
    check_replay_alone,
    exit_on_sigterm,
    load_engine,
    open_known_normal,
    print_listing,
    resolve_inputs,
    say,
    usage_error,
)

if TYPE_CHECKING:
    from logwatch.core.alerts import AlertEvent
    from logwatch.core.engine import Engine
    from logwatch.core.learning.start import Prepared
    from logwatch.core.record import GuardedRecording
    from logwatch.core.settings import RunSettings
    from logwatch.core.types import LogLine, ScoredLine, SessionEnd


def run_marks(*, known_normal: str | None, remove: tuple[int, ...], as_json: bool) -> None:
    """``logwatch marks``: the known-normal file as a numbered list; ``--remove N`` drops marks."""
    from logwatch.core.known_normal import KnownNormalError

    store = open_known_normal(known_normal)
    if store is None:
        raise usage_error("--known-normal none: there is no file to list")
    if remove:
        try:
            dropped = store.remove(remove)
            store.save()
        except KnownNormalError as exc:
            raise usage_error(str(exc)) from None
        say(f"removed {len(dropped)} mark(s); {len(store.marks)} left in {store.path}")
    rows: list[dict[str, str | int]] = [
        {"n": i, "marked": m.marked, "until": m.until or "", "session": m.session, "pattern": m.pattern,
         "text": m.text}
        for i, m in enumerate(store.marks, 1)]
    from logwatch.tui.render import short_session

    print_listing(rows, as_json=as_json, title=f"{len(rows)} line pattern(s) marked normal or snoozed ({store.path})",
                  columns=[("#", lambda r: str(r["n"])), ("marked (UTC)", lambda r: str(r["marked"])[:19]),
                           ("snoozed until", lambda r: str(r["until"])[:19] or "for ever"),
                           ("session", lambda r: short_session(str(r["session"]))), ("pattern", lambda r: str(r["pattern"]))])


def _open_recording(path: str | None, engine: Engine) -> GuardedRecording | None:
    if path is None:
        return None
    from logwatch.core.record import GuardedRecording, RecordingWriter

    def stop(message: str) -> None:  # score's output and its recording go together: stop at the first failure
        raise LogwatchError(message)

    try:
        return GuardedRecording(RecordingWriter(path, model=engine.model_name, threshold=engine.threshold), stop)
    except OSError as exc:
        raise usage_error(f"cannot write recording {path}: {exc.strerror or exc}") from None


# -- score -----------------------------------------------------------------------------
class RowWriter:
    """``score``'s output: one JSON row per scored line (``--tokens`` adds the token losses), or
    with ``--alerts`` only the alert events an alert router is told (a group opened, came back or
    jumped); remembers whether anything alerted (``--fail-on-alert``)."""

    def __init__(self, out: TextIO, settings: RunSettings) -> None:
        from logwatch.core.alerts import AlertGroups

        self.out = out
        self.tokens = settings.tokens
        self.alerts_only = settings.alerts_only
        self.alerted = False
        self._groups = AlertGroups()
        self._last_line: dict[str, ScoredLine] = {}
        """session -> its last line (where a session verdict alerts)"""

    def __call__(self, lines: list[ScoredLine] | list[SessionEnd]) -> None:
        for scored in lines:
            self.alerted = self.alerted or scored.alert
            if self.alerts_only:
                event = self._group_event(scored)
                if event is not None:
                    self.out.write(dumps(event.to_json_dict()) + "\n")
                continue
            obj = scored.to_json_dict()
            if self.tokens and hasattr(scored, "tokens"):
                obj["tokens"] = [[piece, round(loss, 3)] for piece, loss in scored.tokens]
            self.out.write(dumps(obj) + "\n")
        self.out.flush()

    def _group_event(self, scored: ScoredLine | SessionEnd) -> AlertEvent | None:
        from logwatch.core.types import SessionEnd

        last_line = self._last_line
        if isinstance(scored, SessionEnd):
            if not scored.alert or scored.session not in last_line:
                return None
            return self._groups.add_line(last_line[scored.session], why=scored.why)[1]
        last_line[scored.session] = scored
        if len(last_line) > 50_000:
            last_line.pop(next(iter(last_line)))
        return self._groups.add_line(scored)[1] if scored.alert else None


def run_score(paths: tuple[str, ...], settings: RunSettings) -> None:
    """``logwatch score``: every input checked first, then the rows (or alert events) on stdout."""
    out = sys.stdout
    if out is None:
        raise usage_error("standard output is closed: nowhere to write the scored lines")
    if settings.session_ends and settings.replay is not None:
        raise usage_error("--session-ends judges sessions while scoring; a --replay only prints what was recorded")
    check_replay_alone(settings.replay, path=paths[0] if paths else None, follow=settings.follow)
    check_record_target(settings.record, *paths, settings.replay)
    emit = RowWriter(out, settings)
    exit_on_sigterm()
    try:
        if settings.replay is not None:
            emit_replay(settings.replay, emit)
        else:
            from .learning import prepare_run

            inputs, patterns, _ = resolve_inputs(paths, record=settings.record, follow=settings.follow)
            run = prepare_run(settings, inputs, patterns)
            if run.note:
                say(run.note)
            _score_stream(inputs, emit, run, follow=settings.follow, record=settings.record, patterns=patterns)
    except KeyboardInterrupt:
        out.flush()
        raise SystemExit(130) from None
    except BrokenPipeError:
        # Downstream closed (… | head): stop quietly, like other Unix filters.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None
    except OSError as exc:
        if exc.filename is not None:
            raise
        # The output itself failed (a full disk under `> scores.jsonl`): say so once, then stop.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise LogwatchError(f"cannot write the scored lines: {exc.strerror or exc}") from None
    if settings.fail_on_alert and emit.alerted:
        raise SystemExit(1)


def _score_stream(inputs: list[str], emit: RowWriter, run: Prepared, *, follow: bool, record: str | None,
                  patterns: list[str] | None = None) -> None:
    """The stream driver with JSON rows as its output; the recording is closed however it ends."""
    from logwatch.core.stream import LineSource, run_stream

    from .learning import StderrProgress

    engine, learning, relearning = run.engine, run.learning, run.relearning
    writer = _open_recording(record, engine)
    progress = StderrProgress(learning.plan.config.max_seconds if learning is not None else None)
    try:
        with LineSource(inputs, follow=follow, patterns=patterns or (), exclude=[record] if record else []) as lines:
            for step in run_stream(engine, lines, writer=writer, learning=learning, relearning=relearning):
                progress.show(step.learning)
                emit(step.lines)
                emit(step.ends)
                for problem in engine.take_problems() + lines.take_problems():
                    say(f"warning: {problem}")
            if lines.error is not None:
                raise LogwatchError(lines.error)
    finally:
        if writer is not None:
            writer.close()


def emit_replay(path: str, emit: Callable[[list[ScoredLine]], None]) -> None:
    from logwatch.core.record import RecordingError
    from logwatch.core.replay import read_recording
    from logwatch.core.stream import BATCH_LINES

    try:
        _header, records = read_recording(path, on_warning=lambda w: say(f"warning: {w}"))
        batch: list[ScoredLine] = []
        for scored in records:
            batch.append(scored)
            if len(batch) >= BATCH_LINES:
                emit(batch)
                batch = []
        emit(batch)
    except RecordingError as exc:
        raise usage_error(str(exc)) from None


# -- train / calibrate -----------------------------------------------------------------
def read_all_lines(files: tuple[str, ...]) -> Generator[LogLine, None, None]:
    """Every line of FILES (all checked before the first line), numbered across the files in order."""
    from logwatch.core.ingest import IngestError, read_lines

    for name in files:
        check_input(name)
    n = 0
    for name in files:
        try:
            for line in read_lines(name, start_n=n + 1):
                n = line.n
                yield line
        except IngestError as exc:
            raise LogwatchError(str(exc)) from None


def run_train(*, files: tuple[str, ...], out_dir: str, epochs: int, seed: int, vocab_size: int, batch_size: int,
              lr: float, holdout: float, max_fpr: float, min_lines: int, half: bool, device: str,
              session_regex: str | None, session_check: bool = False) -> None:
    from rich.console import Console
    from rich.markup import escape

    from logwatch.core.build import build_model_dir
    from logwatch.core.sessions import SessionRuleError, compile_session_regex
    from logwatch.core.train import TrainConfig

    from .progress import report_built, training_bar

    if session_regex is not None:
        try:
            compile_session_regex(session_regex)
        except SessionRuleError as exc:
            raise usage_error(str(exc)) from None
    lines = _training_lines(files, out_dir)
    config = TrainConfig(epochs=epochs, seed=seed, vocab_size=vocab_size, batch_size=batch_size, lr=lr,
                         holdout=holdout, half_weights=half, device=device, session_rule=session_regex or "builtin")
    console = Console(stderr=True)
    console.print(f"[bold]logwatch train[/]: {len(lines):,} lines → {escape(printable(out_dir))}")
    try:
        with training_bar(console) as on_progress:
            built = build_model_dir(lines, out_dir, config, max_fpr=max_fpr, min_lines=min_lines,
                                    session_check=session_check, on_progress=on_progress)
    except OSError as exc:  # a full or read-only disk while writing the model
        raise LogwatchError(f"cannot write the model into {out_dir}: {exc.strerror or exc}") from None
    report_built(console, built)


def _training_lines(files: tuple[str, ...], out_dir: str) -> list[tuple[str, str]]:
    """The (source, text) lines of FILES, once ``--out`` is known to be writable; usage errors else."""
    lines = [(line.source, line.text) for line in read_all_lines(files)]
    if not lines:
        raise usage_error("the training files hold no lines")
    _out_dir(out_dir)
    return lines


def _out_dir(out_dir: str) -> None:
    """A usage error unless ``--out`` is (or can be made) a directory to write a model into."""
    from pathlib import Path

    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise usage_error(f"--out {out_dir} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise usage_error(f"cannot create --out {out_dir}: {exc.strerror or exc}") from None


def run_adapt(*, files: tuple[str, ...], out_dir: str, base: str, seed: int, max_fpr: float,
              session_regex: str | None) -> None:
    """``train --from``: the learning path of ``--learn`` on FILES, written to DIR."""
    from pathlib import Path

    from rich.console import Console
    from rich.markup import escape

    from logwatch.core.learning.learn import LearnConfig, LearnError, learn
    from logwatch.core.model import load_model_dir, write_model_dir
    from logwatch.core.spec import ModelDirError

    from .progress import training_bar

    if session_regex is not None:
        raise usage_error("--session-regex does not apply with --from: the model keys sessions by its own rule")
    try:
        model = load_model_dir(None if base == "default" else base)
    except ModelDirError as exc:
        raise usage_error(str(exc)) from None
    lines = _training_lines(files, out_dir)
    console = Console(stderr=True)
    console.print(f"[bold]logwatch train --from[/] {escape(printable(base))}: {len(lines):,} lines → "
                  f"{escape(printable(out_dir))}")
    try:
        with training_bar(console) as on_progress:
            learned = learn(model, lines, config=LearnConfig(seed=seed, max_fpr=max_fpr),
                            label=Path(out_dir).name, on_progress=on_progress)
    except LearnError as exc:
        raise LogwatchError(f"cannot adapt the model: {exc}") from None
    try:
        write_model_dir(learned.model, Path(out_dir))
    except OSError as exc:
        raise LogwatchError(f"cannot write {out_dir}: {exc.strerror or exc}") from None
    summary = learned.summary
    threshold = learned.model.calibration.line_threshold if learned.model.calibration else None
    console.print(f"adapted in {summary.get('seconds')} s from {summary.get('usable_lines'):,} usable lines; "
                  f"threshold {threshold}", markup=False, highlight=False)
    console.print(dumps(summary), markup=False, highlight=False)


def run_calibrate(*, files: tuple[str, ...], model_dir: str | None, device: str, session_regex: str | None,
                  max_fpr: float, min_lines: int, method: str, dry_run: bool) -> None:
    from collections import Counter

    from logwatch.core.build import calibrate_engine
    from logwatch.core.spec import save_patterns, session_pairs

    engine = load_engine(model_dir, device, session_regex)
    loaded = engine.loaded
    assert loaded is not None
    if not dry_run and not os.access(loaded.directory, os.W_OK):
        raise usage_error(f"cannot write to {loaded.directory}; pass --model DIR or --dry-run")
    seen: Counter[str] = Counter()
    sessions: dict[str, list[str]] = {}

    def counted(line: ScoredLine) -> None:  # the calibration logs are normal: their patterns (and pairs) join the model's
        seen[line.pattern] += 1
        sessions.setdefault(line.session, []).append(line.pattern)

    try:
        result = calibrate_engine(engine, read_all_lines(files), method=method, max_fpr=max_fpr, min_lines=min_lines,
                                  details={"files": [Path(f).name for f in files]}, on_line=counted)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if not dry_run:
        result.save(loaded.directory)
        if loaded.pattern_counts is not None:
            pairs = None if loaded.pattern_pairs is None else loaded.pattern_pairs | session_pairs(sessions.values())
            save_patterns(loaded.directory, Counter(loaded.pattern_counts) + seen, pairs)
    click.echo(json.dumps({"line_threshold": result.line_threshold, "min_lines": result.min_lines,
                           "method": result.method, "normal_sessions": result.normal_sessions,
                           "flagged_sessions": result.flagged_sessions,
                           "session_check_kept": result.session_check is not None,
                           "written": None if dry_run else str(loaded.directory)}, indent=2))


# -- watch -----------------------------------------------------------------------------
def run_watch(paths: tuple[str, ...], settings: RunSettings) -> None:
    """The monitor: the inputs sorted out (unreadable ones left out and named), then the app."""
    replay, record = settings.replay, settings.record
    check_replay_alone(replay, path=paths[0] if paths else None)
    check_record_target(record, *paths, replay)
    if replay is None and not paths and (sys.stdin is None or sys.stdin.isatty()):
        raise usage_error("no input: give a log file PATH, pipe lines in (tail -f x.log | logwatch), or --replay REC")
    inputs: list[str] = []
    patterns: list[str] = []
    problems: list[str] = []
    if replay is None:
        inputs, patterns, problems = resolve_inputs(paths or ("-",), record=record, follow=True, strict=False)
    store = open_known_normal(settings.known_normal)
    from logwatch.tui.launch import run_tui

    code = run_tui(settings, paths=inputs, patterns=patterns, problems=problems, known_normal=store)
    if code:
        raise SystemExit(code)
